"""Forward + backward time of time-varying all-pole filtering (DiffAPF, DAFx 2024, Tables 4/7).

    python experiments/allpole_speed.py            # all cases, 1 and 2 threads
    python experiments/allpole_speed.py --quick    # smaller shapes, 1 repeat

Cases: (a) batch 34 x 6,000, time-varying biquad (their TB-303 case); (b) batch 16 x 64,000,
order 2, 20, 50; (c) the vocal tract: order 22, 24 kHz, batch 16 x 2 s, frame hop 240.
Columns (all one forward + backward to the input and the parameters, float32):
  naive     autograd through a Python loop over time, timed on a short prefix and scaled
            linearly to the full length (labelled "~")
  FS n      frequency-sampling approximation, STFT size n (DiffAPF's baseline)
  OLA       frame-wise filtering with windowed overlap-add (GOLF-ff)
  fwd       our forward alone (torchlpc's compiled kernel) on ready per-sample coefficients
  torchlpc  torchlpc.sample_wise_lpc on the same coefficients (raw filter, its own gradient)
  lean-tk   ddsp.filters.allpole_grad.lpc_filter with the backward built on torchlpc's kernel
            (skewed copy of the coefficients; what runs where the C++ extension cannot build)
  ours      lpc_filter with the fused C++ backward (the default on CPU): the new path
  chunk64   lpc_filter chunk-parallel, forward and backward (DDSP_ALLPOLE_CHUNK=64: the path
            accelerators take, ddsp.filters.allpole_chunked), timed here for what it costs on a
            CPU; order 2 only (its state algebra grows as order^2: 2.3-5.9 s at order 20)
  ours-sos  logits -> triangle biquads -> linear interpolation -> biquad cascade (end to end)
  ours-rc   logits -> reflection coefficients -> interpolation -> per-sample step-up ->
            direct form (end to end; the step-up is O(order^2) per sample)
  ours-sos/8  the biquads interpolated at every 8th sample and held (allpole_sos(sub_hop=8))
  ours-rc/8 the reflection path interpolated and stepped up at every 8th sample and held for 8 samples
            (interpolate_lpc(..., sub_hop=8); every held filter is a stable interpolant)
Peak memory: resident-set high-water mark (VmHWM, reset first) of one forward + backward of torchlpc and of ours,
each in a fresh process (B=16, T=64,000, order 20 and 50), above the inputs.
Writes experiments/results/allpole_speed.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
from _results import machine, write_results
from torchlpc import sample_wise_lpc

from ddsp.filters import (
    UnstableFilterError,
    allpole,
    allpole_framewise_ola,
    allpole_frequency_sampling,
    allpole_sos,
    interpolate_lpc,
    logits_to_biquads,
    logits_to_reflection,
    reflection_to_lpc,
)
from ddsp.filters.allpole import check_stable
from ddsp.filters.allpole_grad import lpc_filter

PUBLISHED = (
    "Published (DiffAPF, DAFx 2024, Table 4, batch 34, 1 thread, M1 Pro; FACTS.md): time domain "
    "32 ms (coefficients) / 29 ms (LP); frequency sampling with NWIN 128 ... 4096: 57, 102, 201, "
    "390, 833, 1795 ms; LSTM baseline 1322 ms. Our case (a) is the same shape; our FS grows much "
    "less with n_fft (one batched FFT per frame set)."
)


def naive(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    order = a.shape[-1]
    ys = [x.new_zeros(x.shape[0]) for _ in range(order)]
    for t in range(x.shape[-1]):
        past = torch.stack(ys[-order:][::-1], -1)
        ys.append(x[:, t] - (a[:, t] * past).sum(-1))
    return torch.stack(ys[order:], -1)


def case(name: str, batch: int, length: int, order: int, hop: int, fs_sizes: list[int]) -> dict:
    frames = length // hop
    length = frames * hop
    x = torch.randn(batch, length) * 0.1
    sections = order // 2
    logits_sos = torch.randn(batch, frames, sections, 2) * 0.5
    with torch.no_grad():  # per-sample / per-frame coefficients for the raw filter and baselines
        # reflection coefficients small enough that the float32 direct form stays stable
        # (at order 50, N(0, 0.5) logits gave poles outside the unit circle after rounding and
        # the filter overflowed; allpole now refuses that, so the rows time a working filter)
        for scale in (0.5, 0.3, 0.2, 0.1, 0.05):
            logits_rc = torch.randn(batch, frames, order) * scale
            a_frame_rate = reflection_to_lpc(logits_to_reflection(logits_rc))
            try:
                check_stable(a_frame_rate)
                break
            except UnstableFilterError:
                continue
        a_frames = interpolate_lpc(logits_to_reflection(logits_rc), hop, "reflection")
        a_frame_rate = a_frames[:, ::hop].contiguous()

    leaves: dict[int, torch.Tensor] = {}

    def leaf(t: torch.Tensor) -> torch.Tensor:
        """The same leaf each run, gradient reset: no copy inside the timed region (a copy of
        16 x 64,000 x 20 coefficients alone takes ~38 ms here)."""
        if id(t) not in leaves:
            leaves[id(t)] = t.detach().clone().requires_grad_()
        lf = leaves[id(t)]
        lf.grad = None
        return lf

    def run_torchlpc():
        xx, aa = leaf(x), leaf(a_frames)
        sample_wise_lpc(xx, aa).square().mean().backward()

    def run_forward():
        with torch.no_grad():
            lpc_filter(x, a_frames)

    def run_lean_tk():
        os.environ["DDSP_CPP"] = "0"  # the torchlpc-kernel backward
        try:
            run_ours()
        finally:
            os.environ.pop("DDSP_CPP")

    def run_ours():
        xx, aa = leaf(x), leaf(a_frames)
        lpc_filter(xx, aa).square().mean().backward()

    def run_chunked():
        os.environ["DDSP_ALLPOLE_CHUNK"] = "64"
        try:
            run_ours()
        finally:
            os.environ.pop("DDSP_ALLPOLE_CHUNK")

    def run_sos():
        xx, lg = leaf(x), leaf(logits_sos)
        allpole_sos(xx, logits_to_biquads(lg), hop_length=hop).square().mean().backward()

    def run_sos_sub():
        xx, lg = leaf(x), leaf(logits_sos)
        sos = logits_to_biquads(lg)
        allpole_sos(xx, sos, hop_length=hop, sub_hop=8).square().mean().backward()

    def run_rc():
        xx, lg = leaf(x), leaf(logits_rc)
        a = interpolate_lpc(logits_to_reflection(lg), hop, "reflection")
        lpc_filter(xx, a).square().mean().backward()

    def run_rc_sub():
        xx, lg = leaf(x), leaf(logits_rc)
        a = interpolate_lpc(logits_to_reflection(lg), hop, "reflection", sub_hop=8)
        allpole(xx, a, hop_length=8).square().mean().backward()

    def run_ola():
        xx, aa = leaf(x), leaf(a_frame_rate)
        allpole_framewise_ola(xx, aa, hop).square().mean().backward()

    def run_fs(n):
        def f():
            xx, aa = leaf(x), leaf(a_frames)
            allpole_frequency_sampling(xx, aa, n).square().mean().backward()

        return f

    contenders = {
        "fwd": run_forward,
        "torchlpc": run_torchlpc,
        "lean-tk": run_lean_tk,
        "ours": run_ours,
        **({"chunk64": run_chunked} if order <= 2 else {}),
        "ours-sos": run_sos,
        "ours-sos/8": run_sos_sub,
        "ours-rc": run_rc,
        "ours-rc/8": run_rc_sub,
        "OLA": run_ola,
    }
    contenders.update({f"FS {n}": run_fs(n) for n in fs_sizes})
    return {
        "name": name,
        "batch": batch,
        "length": length,
        "order": order,
        "hop": hop,
        "fns": contenders,
    }


def naive_estimate(batch: int, length: int, order: int, prefix: int = 200) -> float:
    x = torch.randn(batch, prefix, requires_grad=True)
    a = (torch.randn(batch, prefix, order) * 0.01).requires_grad_()
    t0 = time.perf_counter()
    naive(x, a).square().mean().backward()
    return (time.perf_counter() - t0) * length / prefix


def measure(fns: dict, repeats: int) -> dict[str, float]:
    for f in fns.values():  # warm-up, twice: the first large allocations of a process are
        f()  # page-faulted (and huge pages compacted) once; training runs in the steady state
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():  # alternate contenders: machine load hits all alike
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: 1000 * statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--_mem", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._mem:
        return _mem_child(a._mem[0], *map(int, a._mem[1:]))
    scale = 4 if a.quick else 1
    if a.quick:
        a.repeats = 1
    fs_all = [128, 256, 512, 1024, 2048, 4096]
    specs = [
        ("(a) TB-303 biquad", 34, 6000, 2, 64, fs_all),
        ("(b) order 2", 16, 64000 // scale, 2, 256, [1024]),
        ("(b) order 20", 16, 64000 // scale, 20, 256, [1024]),
        ("(b) order 50", 16, 64000 // scale, 50, 256, [1024]),
        ("(c) vocal tract 22 @ 24 kHz", 16, 48000 // scale, 22, 240, [1024]),
    ]
    rows = []
    for threads in a.threads:
        torch.set_num_threads(threads)
        for name, batch, length, order, hop, fs in specs:
            torch.manual_seed(0)
            c = case(name, batch, length, order, hop, fs)
            med = measure(c["fns"], a.repeats)
            med["naive~"] = 1000 * naive_estimate(batch, c["length"], order)
            row = {
                "threads": threads,
                "case": name,
                "shape": f"{batch}x{c['length']}",
                "order": order,
                **med,
            }
            rows.append(row)
            print(
                json.dumps(
                    {k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()}
                ),
                flush=True,
            )
    cols = [
        "naive~",
        "FS 128",
        "FS 256",
        "FS 512",
        "FS 1024",
        "FS 2048",
        "FS 4096",
        "OLA",
        "fwd",
        "torchlpc",
        "lean-tk",
        "ours",
        "chunk64",
        "ours-sos",
        "ours-sos/8",
        "ours-rc",
        "ours-rc/8",
    ]
    lines = [
        "# Time-varying all-pole filtering: forward + backward (ms)",
        "",
        f"float32, median of {a.repeats} alternating repeats after two warm-up runs; `naive~` is timed on 200 "
        "samples and scaled to the full length. Machine: "
        f"{machine()}. `ours-sos` and `ours-rc` are end to end "
        "(parameterisation + interpolation + filter); `torchlpc` is the raw filter on ready "
        "coefficients.",
        "",
        "| threads | case | B x T | order | "
        + " | ".join(cols)
        + " | ours / fwd | torchlpc / ours | sos / torchlpc |",
        "|" + "---|" * (len(cols) + 7),
    ]
    for r in rows:
        cells = [f"{r[c]:.0f}" if c in r else "" for c in cols]
        lines.append(
            f"| {r['threads']} | {r['case']} | {r['shape']} | {r['order']} | "
            + " | ".join(cells)
            + f" | {r['ours'] / r['fwd']:.2f} | {r['torchlpc'] / r['ours']:.2f} |"
            + f" {r['ours-sos'] / r['torchlpc']:.2f} |"
        )
    mem = []
    if not a.quick:
        lines += [
            "",
            "Peak memory of one forward + backward above the inputs (MB, fresh process):",
            "",
        ]
        lines += ["| B x T | order | torchlpc | ours |", "|---|---|---|---|"]
        for order in (20, 50):
            m = {w: peak_rss_mb(w, 16, 64000, order) for w in ("torchlpc", "ours")}
            mem.append({"order": order, **m})
            lines.append(f"| 16x64000 | {order} | {m['torchlpc']:.0f} | {m['ours']:.0f} |")
    check = validation_overhead(64000 // scale, a.repeats)
    lines += [
        "",
        "Cost of the input checks: `allpole` forward without gradient (NaN/Inf found by one "
        "reduction over the output, then located) against the raw `torchlpc.sample_wise_lpc` "
        f"on the same ready coefficients, 16 x {64000 // scale}, order 20, 1 thread: "
        f"{check['allpole']:.1f} ms vs {check['torchlpc']:.1f} ms "
        f"({check['allpole'] / check['torchlpc']:.2f}x); `torch.isfinite(a).all()` on the "
        f"coefficients alone, the check it replaced: {check['isfinite(a)']:.1f} ms.",
        "",
        PUBLISHED,
    ]
    text = "\n".join(lines) + "\n"
    data = {"rows": rows, "peak_memory_mb": mem, "validation_overhead_ms": check}
    write_results("allpole_speed", text, data, a.quick)


def validation_overhead(length: int, repeats: int) -> dict[str, float]:
    """Median ms of ``allpole`` (checks included) vs raw torchlpc, forward only, 1 thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(16, length) * 0.1
    a = reflection_to_lpc(torch.rand(16, length, 20) * 0.4 - 0.2).contiguous()
    zi = torch.zeros(16, 20)
    fns = {
        "allpole": lambda: allpole(x, a),
        "torchlpc": lambda: sample_wise_lpc(x, a, zi),
        "isfinite(a)": lambda: torch.isfinite(a).all(),
    }
    out: dict[str, list[float]] = {k: [] for k in fns}
    with torch.no_grad():
        for f in fns.values():
            f()
        for _ in range(max(repeats, 5)):
            for k, f in fns.items():  # alternating
                t0 = time.perf_counter()
                f()
                out[k].append(1000 * (time.perf_counter() - t0))
    torch.set_num_threads(threads)
    return {k: float(sorted(v)[len(v) // 2]) for k, v in out.items()}


def peak_rss_mb(which: str, batch: int, length: int, order: int) -> float:
    """RSS high-water mark of one forward + backward above the inputs, in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--_mem", which, str(batch), str(length), str(order)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _mem_child(which: str, batch: int, length: int, order: int) -> None:
    torch.manual_seed(0)
    # in place: no temporaries that would raise the high-water mark before the measurement
    x = torch.empty(batch, length).normal_().requires_grad_()
    a = torch.empty(batch, length, order).uniform_(-0.01, 0.01).requires_grad_()
    if which == "ours":  # build/load the extension before measuring
        from ddsp.filters import _fused_cpu

        _fused_cpu.load()
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # reset the high-water mark (Linux)
        f.write("5")
    fn = sample_wise_lpc if which == "torchlpc" else lpc_filter
    fn(x, a).square().mean().backward()
    print((_status_kb("VmHWM") - before) / 1024)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


if __name__ == "__main__":
    main()

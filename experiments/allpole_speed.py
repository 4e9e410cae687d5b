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
  torchlpc  torchlpc.sample_wise_lpc on ready per-sample coefficients (raw filter)
  lean      ddsp.filters.lpc_function.lpc_filter on the same coefficients (our gradient)
  ours-sos  logits -> triangle biquads -> linear interpolation -> biquad cascade (end to end)
  ours-rc   logits -> reflection coefficients -> interpolation -> per-sample step-up ->
            direct form (end to end; the step-up is O(order^2) per sample)
Writes experiments/results/allpole_speed.md and .json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
from _results import write_results
from torchlpc import sample_wise_lpc

from ddsp.filters import (
    allpole_framewise_ola,
    allpole_frequency_sampling,
    allpole_sos,
    interpolate_lpc,
    logits_to_biquads,
    logits_to_reflection,
)
from ddsp.filters.lpc_function import lpc_filter


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
    logits_rc = torch.randn(batch, frames, order) * 0.5
    with torch.no_grad():  # per-sample / per-frame coefficients for the raw filter and baselines
        a_frames = interpolate_lpc(logits_to_reflection(logits_rc), hop, "reflection")
        a_frame_rate = a_frames[:, ::hop].contiguous()

    def leaf(t: torch.Tensor) -> torch.Tensor:
        return t.detach().clone().requires_grad_()

    def run_torchlpc():
        xx, aa = leaf(x), leaf(a_frames)
        sample_wise_lpc(xx, aa).square().mean().backward()

    def run_lean():
        xx, aa = leaf(x), leaf(a_frames)
        lpc_filter(xx, aa).square().mean().backward()

    def run_sos():
        xx, lg = leaf(x), leaf(logits_sos)
        allpole_sos(xx, logits_to_biquads(lg), hop_length=hop).square().mean().backward()

    def run_rc():
        xx, lg = leaf(x), leaf(logits_rc)
        a = interpolate_lpc(logits_to_reflection(lg), hop, "reflection")
        sample_wise_lpc(xx, a).square().mean().backward()

    def run_ola():
        xx, aa = leaf(x), leaf(a_frame_rate)
        allpole_framewise_ola(xx, aa, hop).square().mean().backward()

    def run_fs(n):
        def f():
            xx, aa = leaf(x), leaf(a_frames)
            allpole_frequency_sampling(xx, aa, n).square().mean().backward()

        return f

    contenders = {
        "torchlpc": run_torchlpc,
        "lean": run_lean,
        "ours-sos": run_sos,
        "ours-rc": run_rc,
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
    for f in fns.values():
        f()  # warm-up
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
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
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
        "torchlpc",
        "lean",
        "ours-sos",
        "ours-rc",
    ]
    lines = [
        "# Time-varying all-pole filtering: forward + backward (ms)",
        "",
        f"float32, median of {a.repeats} alternating repeats after a warm-up; `naive~` is timed on 200 "
        "samples and scaled to the full length. Machine: "
        f"{platform.machine()}, torch {torch.__version__}. `ours-sos` and `ours-rc` are end to end "
        "(parameterisation + interpolation + filter); `torchlpc` is the raw filter on ready "
        "coefficients.",
        "",
        "| threads | case | B x T | order | "
        + " | ".join(cols)
        + " | torchlpc / lean | sos / torchlpc |",
        "|" + "---|" * (len(cols) + 6),
    ]
    for r in rows:
        cells = [f"{r[c]:.0f}" if c in r else "" for c in cols]
        lines.append(
            f"| {r['threads']} | {r['case']} | {r['shape']} | {r['order']} | "
            + " | ".join(cells)
            + f" | {r['torchlpc'] / r['lean']:.2f} | {r['ours-sos'] / r['torchlpc']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    write_results("allpole_speed", text, rows)


if __name__ == "__main__":
    main()

"""Forward + backward time of a differentiable compressor (DiffAPF, DAFx 2024, Table 7).

    python experiments/compressor_speed.py            # 30, 60, 120 s at 44.1 kHz
    python experiments/compressor_speed.py --quick    # 5, 10, 20 s

A feed-forward compressor: level in dB -> static gain computer (threshold, ratio) -> one-pole
smoothing of the gain in dB -> make-up gain. The smoother is the all-pole filter
``s[n] = alpha s[n-1] + (1 - alpha) g[n]``, filtered either in the time domain (TD: our
``ddsp.filters.allpole``, one coefficient held for the whole signal, fused gradient) or by
frequency sampling (FS, n_fft 1024, DiffAPF's baseline). One forward + backward to all four
parameters, batch 1, float32, median of 5 after a warm-up, 1 thread (as the paper) and 2.
(DiffAPF's compressor also switches attack / release coefficients; with one smoothing
coefficient the filter's cost is the same, which is what this table measures.)
Writes experiments/results/compressor_speed.md and .json.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from _results import write_results

from ddsp.filters import allpole, allpole_frequency_sampling

SR = 44100
PUBLISHED = {30: (64.9, 163.4), 60: (117.9, 320.8), 120: (239.4, 663.8)}  # TD, FS (ms)


def compressor(x: torch.Tensor, p: dict[str, torch.Tensor], method: str) -> torch.Tensor:
    level = 20 * torch.log10(x.abs() + 1e-5)
    slope = 1 - 1 / (1 + torch.nn.functional.softplus(p["ratio"]))
    g = torch.clamp((p["threshold"] - level) * slope, max=0.0)
    alpha = torch.sigmoid(p["alpha"])
    a = (-alpha).reshape(1, 1)  # y[n] = (1 - alpha) g[n] + alpha y[n-1]
    if method == "TD":
        s = allpole((1 - alpha) * g, a)
    else:
        s = allpole_frequency_sampling((1 - alpha) * g, a.expand(1, x.shape[-1], 1), 1024)
    return x * 10 ** ((s + p["makeup"]) / 20)


def measure(seconds: int, method: str, repeats: int) -> float:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, seconds * SR, generator=gen) * 0.3
    params = {
        "threshold": torch.tensor(-20.0, requires_grad=True),
        "ratio": torch.tensor(2.0, requires_grad=True),
        "alpha": torch.tensor(4.0, requires_grad=True),
        "makeup": torch.tensor(3.0, requires_grad=True),
    }

    def step():
        for v in params.values():
            v.grad = None
        compressor(x, params, method).square().mean().backward()

    step()
    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    durations = [5, 10, 20] if a.quick else [30, 60, 120]
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for d in durations:
            td, fs = measure(d, "TD", a.repeats), measure(d, "FS", a.repeats)
            rows.append({"threads": threads, "seconds": d, "TD": td, "FS": fs})
            print(rows[-1], flush=True)
    lines = [
        "# Differentiable compressor: forward + backward (ms)",
        "",
        f"Batch 1 at 44.1 kHz, float32, median of {a.repeats}; machine {platform.machine()}, torch "
        f"{torch.__version__}. Command: `python experiments/compressor_speed.py"
        f"{' --quick' if a.quick else ''}`.",
        "",
        "| threads | signal | TD (ours) | FS (n_fft 1024) | FS / TD | published TD | published FS |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        pub = PUBLISHED.get(r["seconds"], ("", ""))
        lines.append(
            f"| {r['threads']} | {r['seconds']} s | {r['TD']:.1f} | {r['FS']:.1f} | "
            f"{r['FS'] / r['TD']:.1f}x | {pub[0]} | {pub[1]} |"
        )
    lines += [
        "",
        "Published: DiffAPF Table 7 (their machine, from FACTS.md): TD 64.9 / 117.9 / 239.4 ms and "
        "FS 163.4 / 320.8 / 663.8 ms for 30 / 60 / 120 s, FS about 2.5-2.8x TD.",
        "",
    ]
    write_results("compressor_speed", "\n".join(lines), rows, a.quick)


if __name__ == "__main__":
    main()

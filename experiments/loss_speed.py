"""Forward + backward time of multi-resolution STFT losses: ours vs auraloss, same settings.

    python experiments/loss_speed.py                 # 16 x 64,000 samples, 1 and 2 threads
    python experiments/loss_speed.py --quick         # 4 x 16,000, fewer repeats

For each preset (auraloss defaults, DDSP, GOLF) both libraries get the same resolutions and
terms; the prediction requires grad, the target does not (a training step). Contenders
alternate inside each repeat, so machine load hits both alike. Writes
experiments/results/loss_speed.md and .json.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import auraloss
import torch
from _results import write_results

from ddsp.losses import PRESETS, MultiResolutionSTFTLoss


def contenders(preset: str) -> dict[str, torch.nn.Module]:
    p = PRESETS[preset]
    sizes = dict(
        fft_sizes=list(p["fft_sizes"]),
        hop_sizes=list(p["hop_sizes"]),
        win_lengths=list(p["win_lengths"]),
    )
    terms = {k: p[k] for k in ("w_sc", "w_log_mag", "w_lin_mag") if k in p}
    return {
        "auraloss": auraloss.freq.MultiResolutionSTFTLoss(**sizes, **terms),
        "ours": MultiResolutionSTFTLoss(preset=preset),
    }


def step(loss: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    x = x.detach().requires_grad_()
    t0 = time.perf_counter()
    loss(x, y).backward()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=64000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.batch, a.length, a.repeats = 4, 16000, 3
    torch.manual_seed(0)
    x, y = torch.randn(a.batch, 1, a.length), torch.randn(a.batch, 1, a.length)
    rows = []
    for threads in a.threads:
        torch.set_num_threads(threads)
        for preset in PRESETS:
            losses = contenders(preset)
            for loss in losses.values():
                step(loss, x, y)  # warm-up
            times: dict[str, list[float]] = {k: [] for k in losses}
            for _ in range(a.repeats):
                for name, loss in losses.items():
                    times[name].append(step(loss, x, y))
            med = {k: 1000 * statistics.median(v) for k, v in times.items()}
            rows.append(
                {"threads": threads, "preset": preset, **{f"{k}_ms": v for k, v in med.items()}}
            )
            print(
                f"threads {threads} {preset:8s} auraloss {med['auraloss']:8.1f} ms  ours {med['ours']:8.1f} ms  "
                f"speed-up x{med['auraloss'] / med['ours']:.2f}",
                flush=True,
            )
    lines = [
        "# Multi-resolution STFT loss: forward + backward, ours vs auraloss",
        "",
        f"Batch {a.batch} x {a.length} samples (float32), prediction requires grad, target does not; "
        f"median of {a.repeats} alternating repeats after a warm-up.",
        f"Machine: {platform.machine()}, torch {torch.__version__}, auraloss {auraloss.__version__ if hasattr(auraloss, '__version__') else '0.4.0'}.",
        "",
        "| threads | preset | auraloss ms | ours ms | auraloss / ours |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['threads']} | {r['preset']} | {r['auraloss_ms']:.1f} | {r['ours_ms']:.1f} | {r['auraloss_ms'] / r['ours_ms']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    write_results("loss_speed", text, {"batch": a.batch, "length": a.length, "rows": rows}, a.quick)


if __name__ == "__main__":
    main()

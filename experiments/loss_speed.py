"""Forward + backward time of multi-resolution STFT losses: ours vs auraloss, same settings.

    python experiments/loss_speed.py                 # 16 x 64,000 samples, 1 and 2 threads
    python experiments/loss_speed.py --quick         # 4 x 16,000, fewer repeats

For each preset (auraloss defaults, DDSP, GOLF) both libraries get the same resolutions and
terms; the prediction requires grad, the target does not (a training step). Contenders
alternate inside each repeat, so machine load hits both alike. The FFT floor is timed in the
same loop: the transforms alone that our loss runs (per resolution, the real FFTs of
prediction and target frames and the backward's inverse real FFT, odd sizes as pairs of frames in
one complex FFT as ours runs them), on frames cut beforehand. Writes
experiments/results/loss_speed.md and .json.
"""

from __future__ import annotations

import argparse
import statistics
import time

import auraloss
import torch
from _results import machine, write_results

from ddsp.losses import PRESETS, MultiResolutionSTFTLoss
from ddsp.spectral._rfft import irfft_frames, rfft_frames


class FFTFloor:
    """The FFTs alone of our loss's forward and backward on ``(x, y)`` (framing not timed)."""

    def __init__(self, preset: str, x: torch.Tensor, y: torch.Tensor) -> None:
        p = PRESETS[preset]
        self.work = []
        for n, hop in zip(p["fft_sizes"], p["hop_sizes"], strict=True):
            fx, fy = (t.reshape(-1, t.shape[-1]).unfold(-1, n, hop).contiguous() for t in (x, y))
            self.work.append((n, fx, fy, torch.fft.rfft(fx)))

    def __call__(self) -> float:
        t0 = time.perf_counter()
        for n, fx, fy, grad in self.work:  # odd sizes as pairs of frames (ddsp.spectral._rfft)
            rfft_frames(fx), rfft_frames(fy)
            irfft_frames(grad, n)
        return time.perf_counter() - t0


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
    ap.add_argument("--repeats", type=int, default=11)
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
            runs = {name: (lambda loss=loss: step(loss, x, y)) for name, loss in losses.items()}
            runs["floor"] = FFTFloor(preset, x, y)
            for run in runs.values():
                run()  # warm-up
            times: dict[str, list[float]] = {k: [] for k in runs}
            for _ in range(a.repeats):
                for name, run in runs.items():
                    times[name].append(run())
            med = {k: 1000 * statistics.median(v) for k, v in times.items()}
            rows.append(
                {"threads": threads, "preset": preset, **{f"{k}_ms": v for k, v in med.items()}}
            )
            print(
                f"threads {threads} {preset:8s} auraloss {med['auraloss']:8.1f} ms  ours {med['ours']:8.1f} ms  "
                f"speed-up x{med['auraloss'] / med['ours']:.2f}  FFT floor {med['floor']:8.1f} ms",
                flush=True,
            )
    lines = [
        "# Multi-resolution STFT loss: forward + backward, ours vs auraloss",
        "",
        f"Batch {a.batch} x {a.length} samples (float32), prediction requires grad, target does not; "
        f"median of {a.repeats} alternating repeats after a warm-up.",
        f"Machine: {machine()}; auraloss {getattr(auraloss, '__version__', '0.4.0')}.",
        "",
        "| threads | preset | auraloss ms | ours ms | auraloss / ours | FFT floor ms | ours / floor | auraloss / floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        au, ours, floor = r["auraloss_ms"], r["ours_ms"], r["floor_ms"]
        lines.append(
            f"| {r['threads']} | {r['preset']} | {au:.1f} | {ours:.1f} | {au / ours:.2f} | {floor:.1f} | {ours / floor:.2f} | {au / floor:.2f} |"
        )
    lines += [
        "",
        "`auraloss / floor` bounds the speed-up a loss could reach against auraloss by removing "
        "everything but the FFTs it cannot avoid (prime FFT sizes, GOLF's, cost several times "
        "2^k sizes).",
    ]
    text = "\n".join(lines) + "\n"
    data = {"batch": a.batch, "length": a.length, "machine": machine(), "rows": rows}
    write_results("loss_speed", text, data, a.quick)


if __name__ == "__main__":
    main()

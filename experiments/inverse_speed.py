"""Inverse STFT and Griffin-Lim time: ours vs librosa and torch.istft, same settings.

    python experiments/inverse_speed.py            # 16 clips x 5 s at 22.05 kHz, 1 and 2 threads
    python experiments/inverse_speed.py --quick    # 4 clips x 2 s, fewer repeats (temp folder)

ISTFT: the complex STFT (n_fft 1024, hop 256, Hann) of the clips back to audio; ours
(``ddsp.spectral.functional.istft``), ``torch.istft`` and ``librosa.istft`` on the same
spectra. "ours, torch ops only" is ours with the C++ passes off (the path without a compiler,
with gradients, or on other devices). Griffin-Lim: ``n_iter`` iterations from zero phase (librosa's ``init=None``),
momentum 0.99, ours (``griffinlim``) and ``librosa.griffinlim``. float32 throughout. The
contenders alternate inside each repeat, so machine load hits them alike; medians. How far
ours is from librosa's float32 result is printed beside (ISTFT: max |difference| over the peak;
Griffin-Lim: the spectral convergence of each, which float32 rounding moves either way).
Writes ``inverse_speed.md`` / ``.json`` to the results folder (``--quick``: a temporary one).
"""

from __future__ import annotations

import argparse
import statistics
import time

import librosa
import numpy as np
import torch
from _results import machine, write_results

from ddsp.spectral import _griffinlim_cpu, _ola_cpu
from ddsp.spectral import functional as SF

SR, N_FFT, HOP = 22050, 1024, 256


def torch_ops_only(fn):
    """``fn`` with the C++ passes off (:mod:`ddsp.spectral._ola_cpu`,
    :mod:`ddsp.spectral._griffinlim_cpu`): the torch ops the project runs without a compiler,
    with gradients or on other devices."""

    def run():
        saved = _ola_cpu.usable, _griffinlim_cpu.usable
        _ola_cpu.usable = _griffinlim_cpu.usable = lambda *a: False
        try:
            return fn()
        finally:
            _ola_cpu.usable, _griffinlim_cpu.usable = saved

    return run


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def convergence(y: np.ndarray, mag: np.ndarray) -> float:
    """Spectral convergence ``|| |STFT(y)| - mag || / || mag ||``."""
    rebuilt = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    frames = min(rebuilt.shape[-1], mag.shape[-1])
    return float(np.linalg.norm(rebuilt[..., :frames] - mag[..., :frames]) / np.linalg.norm(mag))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--n-iter", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.clips, a.seconds, a.repeats = 4, 2.0, 2
    g = torch.Generator().manual_seed(0)
    # noise shaped like speech's spectrum (a slope of -6 dB per octave above 500 Hz) so that
    # Griffin-Lim works on a realistic magnitude, not a flat one
    x = torch.randn(a.clips, int(a.seconds * SR), generator=g)
    x = torch.from_numpy(librosa.effects.preemphasis(x.numpy(), coef=-0.95).astype(np.float32))
    spec = SF.stft(x, N_FFT, HOP)
    spec_np = spec.numpy()
    mag = spec.abs()
    mag_np = mag.numpy()
    window = torch.hann_window(N_FFT)
    length = x.shape[-1]
    runs = {
        "ISTFT": {
            "ours": lambda: SF.istft(spec, N_FFT, HOP, length=length),
            "ours, torch ops only": torch_ops_only(
                lambda: SF.istft(spec, N_FFT, HOP, length=length)
            ),
            "torch.istft": lambda: torch.istft(
                spec, N_FFT, HOP, window=window, center=True, length=length
            ),
            "librosa": lambda: librosa.istft(spec_np, hop_length=HOP, n_fft=N_FFT, length=length),
        },
        "Griffin-Lim": {
            "ours": lambda: SF.griffinlim(mag, N_FFT, HOP, n_iter=a.n_iter, length=length),
            "ours, torch ops only": torch_ops_only(
                lambda: SF.griffinlim(mag, N_FFT, HOP, n_iter=a.n_iter, length=length)
            ),
            "librosa": lambda: librosa.griffinlim(
                mag_np, n_iter=a.n_iter, hop_length=HOP, n_fft=N_FFT, init=None, length=length
            ),
        },
    }
    ours_y = SF.istft(spec, N_FFT, HOP, length=length).numpy()
    ref_y = librosa.istft(spec_np, hop_length=HOP, n_fft=N_FFT, length=length)
    istft_diff = float(np.abs(ours_y - ref_y).max() / np.abs(ref_y).max())
    sc = {
        "ours": convergence(runs["Griffin-Lim"]["ours"]().numpy(), mag_np),
        "librosa": convergence(runs["Griffin-Lim"]["librosa"](), mag_np),
    }
    rows = []
    for threads in a.threads:
        torch.set_num_threads(threads)
        for task, fns in runs.items():
            for fn in fns.values():
                fn()  # warm-up
            times: dict[str, list[float]] = {k: [] for k in fns}
            for _ in range(a.repeats):
                for name, fn in fns.items():
                    times[name].append(timed(fn))
            med = {k: statistics.median(v) for k, v in times.items()}
            rows.append({"threads": threads, "task": task, "seconds": med})
            print(threads, task, {k: f"{v:.3f}s" for k, v in med.items()}, flush=True)
    lines = [
        "# Inverse STFT and Griffin-Lim: ours vs librosa and torch.istft",
        "",
        f"{a.clips} clips x {a.seconds:g} s at {SR} Hz (noise tilted like speech), float32, "
        f"n_fft {N_FFT}, hop {HOP}, Hann; Griffin-Lim {a.n_iter} iterations, momentum 0.99, "
        f"from zero phase; median of {a.repeats} alternating repeats after a warm-up. "
        f"Machine: {machine()}. Command: `python experiments/inverse_speed.py"
        f"{' --quick' if a.quick else ''}`.",
        "",
        "| threads | task | contender | seconds | this / ours |",
        "|---|---|---|---:|---:|",
    ]
    for r in rows:
        ours = r["seconds"]["ours"]
        for name, t in r["seconds"].items():
            lines.append(f"| {r['threads']} | {r['task']} | {name} | {t:.3f} | {t / ours:.2f}x |")
    lines += [
        "",
        f"- ISTFT: ours against librosa's, max |difference| {istft_diff:.1e} of the peak.",
        f"- Griffin-Lim's spectral convergence after {a.n_iter} iterations: ours "
        f"{sc['ours']:.4f}, librosa {sc['librosa']:.4f} (float32 rounding, which the "
        "iterations amplify, moves both).",
    ]
    data = {
        "clips": a.clips,
        "seconds": a.seconds,
        "n_iter": a.n_iter,
        "machine": machine(),
        "rows": rows,
        "istft_max_rel_diff": istft_diff,
        "spectral_convergence": sc,
    }
    write_results("inverse_speed", "\n".join(lines) + "\n", data, a.quick)


if __name__ == "__main__":
    main()

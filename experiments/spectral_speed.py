"""Speed of spectral front-ends: the nnAudio comparison (Cheuk et al., IEEE Access 2020, Table 3).

    python experiments/spectral_speed.py            # N = 1,770 clips (the paper's workload)
    python experiments/spectral_speed.py --quick    # N = 64 clips
    python experiments/spectral_speed.py --device cuda   # GPU rows too (when one is present)

Workload: N waveforms x 80,000 samples at 44.1 kHz, float32, processed in chunks of
``--chunk`` clips (each contender gets the same chunks). Transforms: STFT magnitude (n_fft 2048,
hop 512), mel power spectrogram (128 bins), MFCC (20 from 128 mels, dB), CQT magnitude (84 bins
from C1, hop 512). Contenders, timed in one run, alternating, median of ``--repeats``:
  librosa     batched calls on the (chunk, time) array (numpy/scipy FFT)
  nnAudio     nnAudio.features modules (conv1d kernels); CQT1992v2 and CQT2010v2
  torch.stft  torch.stft(...).abs() (+ matmul with the mel matrix; + dB + DCT for MFCC)
  ours        ddsp.spectral modules (FFT path; CQT multirate and direct)
Writes experiments/results/spectral_speed.md, .json and .png.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import torch
from _results import machine, results_dir, write_results

from ddsp.spectral import CQT, MFCC, MelSpectrogram, Spectrogram, _mkl_cpu
from ddsp.spectral import functional as SF

SR, N_FFT, HOP, N_MELS, N_MFCC, N_BINS = 44100, 2048, 512, 128, 20, 84
PUBLISHED = (
    "Published (nnAudio, IEEE Access 2020, Table 3, 1,770 clips, machine C: Xeon E5-2698 v4 + "
    "V100; FACTS.md): librosa STFT 10.644 s, mel 18.266 s, CQT 103.398 s; nnAudio CPU 3.981 / "
    "3.748 / 7.101 s; nnAudio GPU 0.001 / 0.015 / 0.258 s (CQT1992v2 0.001 s, CQT2010v2 0.091 s). "
    "Anchors measured earlier on this machine (FACTS.md): librosa 4.02 / 5.88 / 6.22 s, nnAudio "
    "CPU 21.4 / 23.9 / 23.2 s. No GPU here, so the GPU column is not reproduced."
)


def contenders(device: str) -> dict[str, dict[str, object]]:
    """``{transform: {contender: fn(chunk_tensor) -> output}}``."""
    import librosa
    from nnAudio import features as nnf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nn_stft = nnf.STFT(n_fft=N_FFT, hop_length=HOP, output_format="Magnitude", pad_mode="constant", verbose=False)  # fmt: skip
        nn_mel = nnf.MelSpectrogram(sr=SR, n_fft=N_FFT, n_mels=N_MELS, hop_length=HOP, pad_mode="constant", verbose=False)  # fmt: skip
        nn_mfcc = nnf.MFCC(sr=SR, n_mfcc=N_MFCC, n_fft=N_FFT, n_mels=N_MELS, hop_length=HOP, pad_mode="constant", verbose=False)  # fmt: skip
        nn_cqt92 = nnf.CQT1992v2(sr=SR, hop_length=HOP, n_bins=N_BINS, pad_mode="constant", verbose=False)  # fmt: skip
        nn_cqt10 = nnf.CQT2010v2(sr=SR, hop_length=HOP, n_bins=N_BINS, pad_mode="constant", verbose=False)  # fmt: skip
    mods = [nn_stft, nn_mel, nn_mfcc, nn_cqt92, nn_cqt10]
    ours_spec = Spectrogram(N_FFT, HOP)
    ours_mel = MelSpectrogram(SR, N_FFT, HOP, n_mels=N_MELS)
    ours_mfcc = MFCC(SR, N_MFCC, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
    ours_cqt = CQT(SR, HOP, n_bins=N_BINS)
    ours_cqt_direct = CQT(SR, HOP, n_bins=N_BINS, method="direct")
    mods += [ours_spec, ours_mel, ours_mfcc, ours_cqt, ours_cqt_direct]
    for m in mods:
        m.to(device)
    window = torch.hann_window(N_FFT, device=device)
    fb = SF.mel_filterbank(SR, N_FFT, N_MELS).to(device)
    dct = SF.dct_matrix(N_MELS, N_MFCC, dtype=torch.float32).to(device)

    def torch_stft(x):
        return torch.stft(x, N_FFT, HOP, window=window, return_complex=True).abs()

    def torch_mel(x):
        return fb @ torch_stft(x).square()

    def torch_mfcc(x):
        return dct @ SF.power_to_db(torch_mel(x))

    def np_(x):
        return x.cpu().numpy()

    table: dict[str, dict[str, object]] = {
        "STFT": {
            "librosa": lambda x: np.abs(librosa.stft(np_(x), n_fft=N_FFT, hop_length=HOP)),
            "nnAudio": nn_stft,
            "torch.stft": torch_stft,
            "ours": ours_spec,
        },
        "mel": {
            "librosa": lambda x: librosa.feature.melspectrogram(
                y=np_(x), sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS
            ),  # fmt: skip
            "nnAudio": nn_mel,
            "torch.stft": torch_mel,
            "ours": ours_mel,
        },
        "MFCC": {
            "librosa": lambda x: librosa.feature.mfcc(
                y=np_(x), sr=SR, n_mfcc=N_MFCC, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS
            ),  # fmt: skip
            "nnAudio": nn_mfcc,
            "torch.stft": torch_mfcc,
            "ours": ours_mfcc,
        },
        "CQT": {
            "librosa": lambda x: np.abs(
                librosa.cqt(np_(x), sr=SR, hop_length=HOP, n_bins=N_BINS)
            ),  # fmt: skip
            "nnAudio 1992v2": nn_cqt92,
            "nnAudio 2010v2": nn_cqt10,
            "ours": ours_cqt,
            "ours direct": ours_cqt_direct,
        },
    }
    if device != "cpu":  # librosa runs on the CPU only
        for row in table.values():
            row.pop("librosa")
    return table


def fft_floor(
    chunks: list[torch.Tensor],
    repeats: int,
    device: str,
    ours: dict[str, object],
    only: str | None = None,
) -> dict[str, float]:
    """Seconds for the real FFT alone of every clip's framed, windowed frames (the framing is
    done before the clock starts): torch's on the whole chunk at once, on the CPU also blocks of
    128, 256 and 512 frames at a time, into one preallocated output (no fresh 76 MB output per
    chunk to fault in) or each block into a fresh one (torch's rfft with ``out=`` computes
    elsewhere and copies), scipy's (pocketfft), and MKL's with its plan kept across calls
    (:mod:`ddsp.spectral._mkl_cpu`: torch's commits a new plan every call), blocks of 128 and
    512 frames into one output. The fastest is the floor. ``ours`` (STFT, mel,
    MFCC) run alternating with them chunk by chunk, so that their ratios to the floor come from
    the same minutes of the machine (its speed drifts by 30 % within a run here). ``only``: that
    floor alone (the others' whole-chunk outputs, up to 150 MB, evict the caches and leave fresh
    pages to whatever runs next)."""
    window = torch.hann_window(N_FFT, device=device)

    def framed(c: torch.Tensor) -> torch.Tensor:
        padded = torch.nn.functional.pad(c, (N_FFT // 2, N_FFT // 2))
        return (padded.unfold(-1, N_FFT, HOP) * window).contiguous()

    def blocked(per: int):
        spec = torch.empty(per, N_FFT // 2 + 1, dtype=torch.complex64, device=device)

        def run(f: torch.Tensor) -> None:
            flat = f.reshape(-1, N_FFT)
            for i in range(0, flat.shape[0], per):
                k = min(per, flat.shape[0] - i)
                torch.fft.rfft(flat[i : i + k], out=spec[:k])

        return run

    def blocked_fresh(per: int):
        def run(f: torch.Tensor) -> None:
            flat = f.reshape(-1, N_FFT)
            for i in range(0, flat.shape[0], per):
                torch.fft.rfft(flat[i : i + per])

        return run

    def planned(per: int):  # MKL's FFT with its plan kept, as ours calls it
        spec = torch.empty(per, N_FFT // 2 + 1, dtype=torch.complex64)

        def run(f: torch.Tensor) -> None:
            flat = f.reshape(-1, N_FFT)
            for i in range(0, flat.shape[0], per):
                k = min(per, flat.shape[0] - i)
                _mkl_cpu.rfft_frames(flat[i : i + k], k, N_FFT, N_FFT, spec[:k])

        return run

    fns = {"torch.fft.rfft": torch.fft.rfft}
    if device == "cpu":
        import scipy.fft

        for per in (128, 256, 512):
            fns[f"torch.fft.rfft, blocks of {per}"] = blocked(per)
            fns[f"torch.fft.rfft, blocks of {per}, fresh output"] = blocked_fresh(per)
        fns["scipy.fft.rfft"] = lambda f: scipy.fft.rfft(f.numpy(), axis=-1)
        if _mkl_cpu.available():
            for per in (128, 512):
                fns[f"MKL, plan kept (ddsp), blocks of {per}"] = planned(per)
    if only is not None:
        fns = {only: fns[only]}
    runs: dict[str, list[float]] = {k: [] for k in [*fns, *(f"ours {k}" for k in ours)]}
    for _ in range(repeats):
        total = dict.fromkeys(runs, 0.0)
        for c in chunks:
            f = framed(c)
            for k, fn in fns.items():
                sync(device)
                t0 = time.perf_counter()
                fn(f)
                sync(device)
                total[k] += time.perf_counter() - t0
            for k, fn in ours.items():
                t0 = time.perf_counter()
                fn(c)
                sync(device)
                total[f"ours {k}"] += time.perf_counter() - t0
        for k, v in total.items():
            runs[k].append(v)
    return {k: statistics.median(v) for k, v in runs.items()}


def cqt_floor(chunks: list[torch.Tensor], repeats: int, ours: CQT) -> dict[str, float] | None:
    """Seconds for the multirate CQT's own arithmetic alone: each 2:1 decimation's forward and
    inverse FFTs (its polyphase blocks and their spectra's product prepared before the clock
    starts) and each octave's matmul of its frames (prepared) with the time-domain kernels,
    against ``ours`` (the whole CQT) timed alternating chunk by chunk (CPU only; None without
    the C++ kernels that prepare the blocks)."""
    from ddsp.spectral import _cqt, _decimate_cpu
    from ddsp.spectral._stft import frames

    if not _decimate_cpu.usable(chunks[0], chunks[0]):
        return None

    plan, h = ours.plan, SF.decimation_filter().float()
    c = h.shape[-1] // 2
    kernels = [SF.octave_kernels(b, n_fft) for b, (_, n_fft, _, _) in zip(ours.bases(torch.float32), plan.octaves, strict=True)]  # fmt: skip

    def prepare(x: torch.Tensor) -> tuple[list, list]:
        ffts, mms = [], []

        def decimate(s: torch.Tensor) -> torch.Tensor:
            n, step = _cqt.decimation_blocks(s.shape[-1], c)
            blocks = _decimate_cpu.polyphase_blocks(s, n, step, c)
            spec = torch.fft.rfft(blocks)
            ffts.append((blocks, spec[:, :, 0].contiguous(), n // 2))
            return _cqt._decimate2(s, h)

        for _ in range(plan.early):
            x = decimate(x)
        for i, (k, (_, n_fft, hop, down)) in enumerate(zip(kernels, plan.octaves, strict=True)):
            mms.append((frames(x, n_fft, hop, True).reshape(-1, n_fft).contiguous(), k))
            if down and i + 1 < len(plan.octaves):
                x = decimate(x)
        return ffts, mms

    def floor(prepared: tuple[list, list]) -> None:
        ffts, mms = prepared
        for blocks, spec, half in ffts:
            torch.fft.rfft(blocks)
            torch.fft.irfft(spec, half)
        for rows, k in mms:
            rows @ k

    runs: dict[str, list[float]] = {"floor": [], "ours": []}
    for _ in range(repeats):
        total = dict.fromkeys(runs, 0.0)
        for x in chunks:
            prepared = prepare(x)
            t0 = time.perf_counter()
            floor(prepared)
            t1 = time.perf_counter()
            ours(x)
            total["floor"] += t1 - t0
            total["ours"] += time.perf_counter() - t1
        for k, v in total.items():
            runs[k].append(v)
    return {k: statistics.median(v) for k, v in runs.items()}


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--quick", action="store_true", help="N = 64 clips")
    p.add_argument("--n", type=int, default=None, help="number of clips (default 1770)")
    p.add_argument("--chunk", type=int, default=59, help="clips per call")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: as is)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n = args.n or (64 if args.quick else 1770)
    chunk = min(args.chunk, n)
    gen = torch.Generator().manual_seed(0)
    chunks = [
        (torch.rand(min(chunk, n - i), 80000, generator=gen) * 2 - 1).to(args.device)
        for i in range(0, n, chunk)
    ]
    table = contenders(args.device)
    times: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        for name, row in table.items():
            for fn in row.values():  # warm-up: kernels, caches, plans, first-call JITs
                fn(chunks[0][:2])
            runs: dict[str, list[float]] = {k: [] for k in row}
            for _ in range(args.repeats):
                for k, fn in row.items():  # alternate contenders within each repeat
                    sync(args.device)
                    t0 = time.perf_counter()
                    for c in chunks:
                        fn(c)
                    sync(args.device)
                    runs[k].append(time.perf_counter() - t0)
            times[name] = {k: statistics.median(v) for k, v in runs.items()}
            print(name, {k: f"{v:.3f}s" for k, v in times[name].items()}, flush=True)
    with torch.inference_mode():  # every floor; then ours alternating with the fastest alone
        floor = fft_floor(chunks, args.repeats, args.device, {})
        best_floor = min(floor, key=floor.get)
        ours_fns = {k: table[k]["ours"] for k in ("STFT", "mel", "MFCC")}
        beside = fft_floor(chunks, args.repeats, args.device, ours_fns, only=best_floor)
    print("FFT floor", {k: f"{v:.3f}s" for k, v in floor.items()}, flush=True)
    print("beside the fastest", {k: f"{v:.3f}s" for k, v in beside.items()}, flush=True)
    own = None
    if args.device == "cpu":
        with torch.inference_mode():
            own = cqt_floor(chunks, args.repeats, table["CQT"]["ours"])
        print("CQT's own FFTs and matmuls", own, flush=True)
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else machine()  # fmt: skip
    lines = [
        f"# Spectral front-end speed ({args.device}: {device_name})",
        "",
        f"{n} clips x 80,000 samples at 44.1 kHz, float32, chunks of {chunk}; median of "
        f"{args.repeats}; torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
        f"{os.cpu_count()} CPUs. Command: `python experiments/spectral_speed.py"
        f"{' --quick' if args.quick else ''}{' --device ' + args.device if args.device != 'cpu' else ''}`.",
        "",
        "| transform | contender | time (s) | ours / this (speed-up) |",
        "|---|---|---:|---:|",
    ]
    for name, row in times.items():
        ours = row["ours"]
        for k, v in row.items():
            lines.append(f"| {name} | {k} | {v:.3f} | {v / ours:.2f}x |")
    summary = []
    for name, row in times.items():
        others = {k: v for k, v in row.items() if not k.startswith("ours")}
        best = min(others, key=others.get)
        summary.append(f"- {name}: ours {row['ours']:.3f} s; fastest other: {best} {others[best]:.3f} s ({others[best] / row['ours']:.2f}x).")  # fmt: skip
    summary.append(
        f"- FFT floor (the real FFT alone of the same framed, windowed clips, n_fft {N_FFT}, hop "
        f"{HOP}; framing and windowing not timed): "
        + ", ".join(f"{k} {v:.3f} s" for k, v in floor.items())
        + f". The fastest ({best_floor}) again, {beside[best_floor]:.3f} s, timed alternating "
        "with ours chunk by chunk: "
        + ", ".join(f"{k} {beside['ours ' + k]:.3f} s" for k in ("STFT", "mel", "MFCC"))
        + "; over the floor: "
        + ", ".join(
            f"{k} {beside['ours ' + k] / beside[best_floor]:.2f}x" for k in ("STFT", "mel", "MFCC")
        )
        + " (the CQT's multirate FFTs are not this floor)."
    )
    if own is not None:
        summary.append(
            f"- CQT floor (its own arithmetic alone: each 2:1 decimation's forward and inverse "
            f"FFTs and each octave's matmul with the time-domain kernels, on inputs prepared "
            f"before the clock starts): {own['floor']:.3f} s, {own['floor'] / beside[best_floor]:.2f}x "
            f"the STFT's FFT floor above; the whole CQT, timed alternating with it chunk by "
            f"chunk, {own['ours']:.3f} s ({own['ours'] / own['floor']:.2f}x its own floor, "
            f"{own['ours'] / beside[best_floor]:.2f}x the STFT's)."
        )
    md = "\n".join(lines + ["", *summary, "", PUBLISHED, ""])
    suffix = "" if args.device == "cpu" else f"_{args.device}"
    write_results(f"spectral_speed{suffix}", md, {"n": n, "chunk": chunk, "device": args.device, "device_name": device_name, "threads": torch.get_num_threads(), "times_s": times, "fft_floor_s": floor, "floor_and_ours_alternating_s": beside, "cqt_floor_and_ours_alternating_s": own}, args.quick)  # fmt: skip
    plot(
        times, results_dir(args.quick) / f"spectral_speed{suffix}.png", f"{n} clips, {args.device}"
    )


def plot(times: dict[str, dict[str, float]], path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(times), figsize=(3.2 * len(times), 3.2))
    for ax, (name, row) in zip(np.atleast_1d(axes), times.items(), strict=True):
        colors = ["tab:red" if k.startswith("ours") else "tab:gray" for k in row]
        ax.barh(list(row), list(row.values()), color=colors)
        ax.set_title(name)
        ax.set_xlabel("seconds")
        ax.invert_yaxis()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()

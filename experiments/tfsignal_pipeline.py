"""The tf.signal MFCC pipeline of the seed blog post, as one differentiable PyTorch module.

    python experiments/tfsignal_pipeline.py            # a file from data/, checks, figure
    python experiments/tfsignal_pipeline.py --quick    # fewer timing repeats

wav -> STFT (frame 1024, step 256, periodic Hann, no centring: tf.signal.stft) -> magnitude ->
mel (tf.signal.linear_to_mel_weight_matrix, 80 bins, 80-7600 Hz: the tf.signal documentation's
example values, at 16 kHz) -> log(mel + 1e-6) -> MFCC (DCT-II x sqrt(2 / 80), first 13). Built
from ``ddsp.spectral.MFCC``. Checks the output against a float64 numpy transcription of the
tf.signal formulas (tensorflow itself does not install on this machine), that gradients flow
(gradcheck on a short input), and times it on CPU (and CUDA when present). Writes
experiments/results/tfsignal_pipeline.md, .json and a figure of every stage.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch
from _results import results_dir, write_results

from ddsp.spectral import MFCC

SR, FRAME, STEP, N_MELS, LO, HI, OFFSET, N_MFCC = 16000, 1024, 256, 80, 80.0, 7600.0, 1e-6, 13
DATA = Path(__file__).resolve().parent.parent / "data" / "fillets_cs"


def pipeline() -> MFCC:
    """The whole tf.signal chain as one module; ``.mel`` holds the STFT and mel stages."""
    return MFCC(
        SR, N_MFCC, dct_norm="tf", log="log", offset=OFFSET, n_fft=FRAME, hop_length=STEP,
        n_mels=N_MELS, f_min=LO, f_max=HI, power=1.0, mel_scale="tf", center=False,
    )  # fmt: skip


def reference(x: np.ndarray) -> dict[str, np.ndarray]:
    """Float64 numpy transcription of tf.signal's stft / linear_to_mel_weight_matrix /
    mfccs_from_log_mel_spectrograms (stages as (freq, frames))."""
    n = np.arange(FRAME)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / FRAME)  # tf.signal.hann_window(periodic=True)
    n_frames = 1 + (len(x) - FRAME) // STEP
    frames = np.stack([x[i * STEP : i * STEP + FRAME] for i in range(n_frames)])
    mag = np.abs(np.fft.rfft(frames * window, FRAME)).T

    def hz_to_mel(f):
        return 1127.0 * np.log1p(np.asarray(f) / 700.0)

    spec_mel = hz_to_mel(np.linspace(0.0, SR / 2, FRAME // 2 + 1)[1:])[:, None]
    edges = np.linspace(hz_to_mel(LO), hz_to_mel(HI), N_MELS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    w = np.maximum(
        0.0,
        np.minimum((spec_mel - lower) / (center - lower), (upper - spec_mel) / (upper - center)),
    )
    w = np.pad(w, [[1, 0], [0, 0]])  # (513, 80)
    mel = w.T @ mag
    logmel = np.log(mel + OFFSET)
    k, m = np.arange(N_MELS)[:, None], np.arange(N_MELS)[None, :]
    dct = 2.0 * np.cos(np.pi * k * (2 * m + 1) / (2 * N_MELS))  # tf.signal.dct type 2, no norm
    mfcc = (dct @ logmel) / np.sqrt(2.0 * N_MELS)
    return {"magnitude": mag, "mel": mel, "log-mel": logmel, "mfcc": mfcc[:N_MFCC]}


def stages(module: MFCC, x: torch.Tensor) -> dict[str, torch.Tensor]:
    mag = module.mel.spectrogram(x)
    mel = torch.matmul(module.mel.mel_basis.to(mag.dtype), mag)
    return {"magnitude": mag, "mel": mel, "log-mel": torch.log(mel + OFFSET), "mfcc": module(x)}


def timing(module: MFCC, device: str, repeats: int) -> float:
    module = module.to(device)
    x = torch.randn(16, 10 * SR, device=device)
    with torch.inference_mode():
        module(x)
        ts = []
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            module(x)
            if device == "cuda":
                torch.cuda.synchronize()
            ts.append(time.perf_counter() - t0)
    return 1000 * statistics.median(ts)


def figure(x: np.ndarray, out: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(5, 1, figsize=(8, 11), constrained_layout=True)
    t = np.arange(len(x)) / SR
    axes[0].plot(t, x, lw=0.4)
    axes[0].set(title="waveform", xlabel="time (s)", xlim=(0, t[-1]))
    dur = len(x) / SR
    for ax, (name, img), lab in zip(
        axes[1:],
        [
            ("|STFT| (dB)", 20 * np.log10(out["magnitude"] + 1e-6)),
            ("mel (dB)", 20 * np.log10(out["mel"] + 1e-6)),
            ("log-mel", out["log-mel"]),
            ("MFCC (13)", out["mfcc"]),
        ],
        ["frequency bin", "mel bin", "mel bin", "coefficient"],
        strict=True,
    ):
        im = ax.imshow(img, origin="lower", aspect="auto", extent=(0, dur, 0, img.shape[0]))
        ax.set(title=name, xlabel="time (s)", ylabel=lab)
        fig.colorbar(im, ax=ax)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--quick", action="store_true")
    p.add_argument("--file", default=None, help="audio file (default: a clip from data/)")
    args = p.parse_args()
    path = Path(args.file) if args.file else sorted(DATA.glob("*.ogg"))[0]
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    x = soxr.resample(x.mean(1), sr, SR)
    module = pipeline().double()
    ours = {k: v.detach().numpy() for k, v in stages(module, torch.from_numpy(x)).items()}
    ref = reference(x)
    errors = {k: float(np.abs(ours[k] - ref[k]).max() / np.abs(ref[k]).max()) for k in ref}
    xs = torch.randn(1, FRAME + 2 * STEP, dtype=torch.float64, requires_grad=True)
    grad_ok = bool(torch.autograd.gradcheck(module, (xs,), eps=1e-6, atol=1e-5))
    figure(x, ours, results_dir(args.quick) / "tfsignal_pipeline.png")
    reps = 3 if args.quick else 10
    times = {"cpu": timing(pipeline(), "cpu", reps)}
    if torch.cuda.is_available():
        times["cuda"] = timing(pipeline(), "cuda", reps)
    lines = [
        "# tf.signal MFCC pipeline in PyTorch",
        "",
        f"Input: `{path.relative_to(DATA.parent.parent) if path.is_relative_to(DATA.parent.parent) else path}` "
        f"({len(x) / SR:.2f} s, resampled to {SR} Hz). Machine: {platform.machine()}, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads. Command: "
        "`python experiments/tfsignal_pipeline.py`.",
        "",
        "Settings: frame 1024, step 256, fft 1024, periodic Hann, no centring; 80 mel bins, "
        "80-7600 Hz (HTK, tf.signal triangles); log(mel + 1e-6); DCT-II x sqrt(2/80), 13 MFCCs.",
        "",
        "| stage | shape | max abs error / peak vs float64 tf.signal transcription |",
        "|---|---|---:|",
    ]
    for k in ref:
        lines.append(f"| {k} | {tuple(ours[k].shape)} | {errors[k]:.1e} |")
    lines += [
        "",
        f"gradcheck (float64, {tuple(xs.shape)} input): {'passed' if grad_ok else 'FAILED'}.",
        "",
        "| device | 16 x 10 s at 16 kHz, float32, forward (ms) |",
        "|---|---:|",
        *[f"| {d} | {t:.1f} |" for d, t in times.items()],
        "",
        "Published: the blog post gives no numbers (a figure per stage); ours is "
        "`tfsignal_pipeline.png`. tensorflow is not installed here, so the reference is a "
        "transcription of its formulas, not tensorflow's output.",
        "",
    ]
    write_results("tfsignal_pipeline", "\n".join(lines), {"errors": errors, "gradcheck": grad_ok, "ms": times}, args.quick)  # fmt: skip


if __name__ == "__main__":
    main()

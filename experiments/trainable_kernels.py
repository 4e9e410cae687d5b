"""Fixed vs trainable front-end kernels on a small classifier (the nnAudio paper's Sec. V idea).

    python experiments/trainable_kernels.py            # 400 steps per model (~2 min here)
    python experiments/trainable_kernels.py --quick    # 100 steps

Task, made here: 10 classes of pure tones whose frequencies lie in 10 adjacent 40 Hz bands between
300 and 700 Hz (random frequency within the band, random phase and amplitude, white noise at
-20 dB, 0.25 s at 8 kHz). The front-end is deliberately coarse: a 64-point STFT has 125 Hz bins,
so a fixed Fourier basis mixes neighbouring classes; trainable kernels can re-tune themselves.
Models: front-end -> log(1e-3 + .) -> mean over time -> linear classifier. Front-ends compared:
STFT (n_fft 64) fixed / trainable kernels, mel (16 bins from a 64-point STFT) fixed / trainable
filterbank. Same seed, data, optimiser (Adam 3e-3) and steps for all. Writes
experiments/results/trainable_kernels.md, .json and a figure of kernel responses before/after.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from _results import results_dir, write_results
from torch import nn

from ddsp.spectral import STFT, MelSpectrogram
from ddsp.spectral import functional as SF

SR, DUR, N_CLASSES, F_LO, BAND = 8000, 0.25, 10, 300.0, 40.0


def make_batch(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.randint(0, N_CLASSES, (n,), generator=gen)
    f = F_LO + BAND * (y + torch.rand(n, generator=gen))
    t = torch.arange(int(SR * DUR)) / SR
    phase = 2 * math.pi * torch.rand(n, 1, generator=gen)
    amp = 0.2 + 0.8 * torch.rand(n, 1, generator=gen)
    x = amp * torch.sin(2 * math.pi * f[:, None] * t + phase)
    x = x + 0.1 * amp * torch.randn(x.shape, generator=gen)
    return x, y


class Classifier(nn.Module):
    def __init__(self, front: nn.Module, n_features: int) -> None:
        super().__init__()
        self.front = front
        self.head = nn.Linear(n_features, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.front(x)
        if spec.is_complex():
            spec = SF.magnitude(spec)
        return self.head(torch.log(1e-3 + spec).mean(-1))


def front_ends() -> dict[str, tuple[nn.Module, int]]:
    return {
        "STFT fixed": (STFT(64, 32), 33),
        "STFT trainable": (STFT(64, 32, trainable=True), 33),
        "mel fixed": (MelSpectrogram(SR, 64, 32, n_mels=16, power=1.0), 16),
        "mel trainable": (MelSpectrogram(SR, 64, 32, n_mels=16, power=1.0, trainable_mel=True), 16),
    }


def train(name: str, model: Classifier, steps: int, test: tuple) -> dict:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    t0 = time.perf_counter()
    for _ in range(steps):
        x, y = make_batch(64, gen)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (model(test[0]).argmax(-1) == test[1]).float().mean().item()
    res = {"model": name, "test_accuracy": acc, "final_loss": loss.item(), "seconds": time.perf_counter() - t0}  # fmt: skip
    print(res, flush=True)
    return res


def kernel_response(stft: STFT) -> np.ndarray:
    """Magnitude response (dB) of each complex kernel (window included) over 0..Nyquist."""
    w = stft.window_buf if hasattr(stft, "window_buf") else SF.get_window("hann", 64)
    # conjugate: the analysis kernel exp(-i w n) responds at +w as a matched filter
    k = torch.complex(stft.kernel_re.detach().double(), -stft.kernel_im.detach().double())
    k = k * w.double()[:, None]
    h = torch.fft.fft(k, n=1024, dim=0)[:513].abs()  # (freqs, bins)
    return (20 * torch.log10(h / h.max() + 1e-6)).numpy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--quick", action="store_true")
    p.add_argument("--steps", type=int, default=None)
    args = p.parse_args()
    steps = args.steps or (100 if args.quick else 400)
    test = make_batch(2000, torch.Generator().manual_seed(123))
    rows, before, after = [], None, None
    for name, (front, n) in front_ends().items():
        torch.manual_seed(0)
        model = Classifier(front, n)
        if name == "STFT trainable":
            before = kernel_response(STFT(64, 32, trainable=True))
        rows.append(train(name, model, steps, test))
        if name == "STFT trainable":
            after = kernel_response(model.front)
    lines = [
        "# Fixed vs trainable front-end kernels",
        "",
        f"10 tone classes in 40 Hz bands from 300 to 700 Hz, 0.25 s at 8 kHz, noise at -20 dB; "
        f"{steps} Adam steps (lr 3e-3, batch 64), test on 2,000 fresh examples; chance = 10 %. "
        "Command: `python experiments/trainable_kernels.py`.",
        "",
        "| front-end | test accuracy | final training loss | seconds |",
        "|---|---:|---:|---:|",
        *[
            f"| {r['model']} | {100 * r['test_accuracy']:.1f} % | {r['final_loss']:.3f} | {r['seconds']:.1f} |"
            for r in rows
        ],  # fmt: skip
        "",
        "Published (nnAudio, IEEE Access 2020, Sec. V): trainable STFT/mel kernels gave small "
        "accuracy gains on their tasks; the figure below is ours "
        "(`trainable_kernels.png`: kernel responses before and after training).",
        "",
    ]
    write_results("trainable_kernels", "\n".join(lines), rows, args.quick)
    figure(before, after, results_dir(args.quick) / "trainable_kernels.png")


def figure(before: np.ndarray, after: np.ndarray, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = np.linspace(0, SR / 2, before.shape[0])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True, constrained_layout=True)
    for ax, resp, title in (
        (axes[0], before, "before training"),
        (axes[1], after, "after training"),
    ):
        for b in range(1, 9):  # the kernels around the 300-700 Hz band (125 Hz bins)
            ax.plot(f, resp[:, b], lw=0.9, label=f"bin {b}")
        ax.axvspan(F_LO, F_LO + N_CLASSES * BAND, color="0.85")
        ax.set(title=f"trainable STFT kernels, {title}", xlabel="Hz", xlim=(0, 1500), ylim=(-60, 2))
    axes[0].set_ylabel("dB")
    axes[1].legend(fontsize="small", ncol=2)
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()

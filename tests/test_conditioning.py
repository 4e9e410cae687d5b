"""Conditioning: the float32 input gradient of every loss and front-end is its own float64
gradient, on real speech with digital silence, and rounding-sized input changes move it little.

What differs between machines is the last bits (FFT rounding, the Ogg decoder's output), so
what must hold everywhere is tested directly:
  * float32 vs float64 of the same code: gradient within ``F32_TOL`` of the float64 peak;
  * the input times ``1 + 1e-7 * noise`` (float32's precision), in float32: gradient within
    ``PERTURB_TOL`` of its peak.
A gradient that is partly rounding noise (a log of a bin at the FFT's rounding floor, an L1
sign decided by rounding) fails both, whichever way the rounding falls on a given machine.
Inputs: shipped speech with a stretch of digital silence, edges included (centred frames
reach past both ends), against a delayed, scaled copy and against itself plus noise.
"""

from __future__ import annotations

import pytest
import soundfile as sf
import torch
from conftest import DATA

from ddsp import losses
from ddsp.spectral import (
    CQT,
    MFCC,
    STFT,
    VQT,
    Gammatonegram,
    LogMelSpectrogram,
    MelSpectrogram,
    Spectrogram,
    a_weighted_loudness,
)

F32_TOL = 3e-4  # "about 1e-4": measured worst 1.5e-4 over the cases below
PERTURB_TOL = 1e-3


def _clips() -> list[torch.Tensor]:
    """Three shipped recordings, 16,384 samples each, with 2,000 samples of digital silence."""
    files = sorted(DATA.glob("*.ogg"))
    out = []
    for k in (0, 7, 11):
        s = torch.from_numpy(sf.read(str(files[k]), dtype="float64")[0][:16384])
        s = torch.nn.functional.pad(s, (0, 16384 - s.shape[0]))
        s[5000:7000] = 0.0
        out.append(s)
    return out


@pytest.fixture(scope="module")
def pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for s in _clips():
        out.append((s.reshape(2, 1, -1), (0.7 * s.roll(200)).reshape(2, 1, -1)))
        noisy = s + 0.01 * torch.randn(s.shape, generator=gen, dtype=s.dtype)
        out.append((noisy.reshape(2, 1, -1), s.roll(300).reshape(2, 1, -1)))
    return out


def _gradient(fn, x: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(fn(x, *(r.to(x.dtype) for r in rest)), x)
    return g.double()


def _check(fn, x: torch.Tensor, *rest: torch.Tensor) -> None:
    g64 = _gradient(fn, x, *rest)
    g32 = _gradient(fn, x.float(), *rest)
    gen = torch.Generator().manual_seed(1)
    nudged = (x * (1 + 1e-7 * torch.randn(x.shape, generator=gen, dtype=x.dtype))).float()
    gp = _gradient(fn, nudged, *rest)
    assert torch.isfinite(g64).all() and torch.isfinite(g32).all()
    f32 = ((g32 - g64).abs().max() / g64.abs().max()).item()
    perturbed = ((gp - g32).abs().max() / g32.abs().max()).item()
    assert f32 <= F32_TOL, f"float32 vs float64 gradient: {f32:.2e} of the peak"
    assert perturbed <= PERTURB_TOL, f"1e-7 input perturbation moved the gradient {perturbed:.2e}"


LOSSES = {
    "auraloss preset": lambda: losses.MultiResolutionSTFTLoss(),
    "ddsp preset": lambda: losses.MultiResolutionSTFTLoss(preset="ddsp"),
    "golf preset": lambda: losses.MultiResolutionSTFTLoss(preset="golf"),
    "mel": lambda: losses.MelSTFTLoss(22050, n_mels=64),
    "mel multi-resolution": lambda: losses.MultiResolutionSTFTLoss(
        scale="mel", n_bins=64, sample_rate=22050
    ),
    "linear + L2": lambda: losses.STFTLoss(1024, 256, w_lin_mag=1.0, distance="L2"),
    "A-weighted": lambda: losses.STFTLoss(
        512, 128, w_lin_mag=1.0, perceptual_weighting=True, sample_rate=22050
    ),
    "random resolution": lambda: losses.RandomResolutionSTFTLoss(seed=0, max_fft_size=4096),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_gradient_is_well_conditioned(name, pairs):
    loss = LOSSES[name]()
    for x, y in pairs:
        if isinstance(loss, losses.RandomResolutionSTFTLoss):
            loss.randomize_rate = 10**9  # the same draw for every dtype
        _check(loss, x, y)


def test_sum_and_difference_loss_gradient_is_well_conditioned(pairs):
    loss = losses.SumAndDifferenceSTFTLoss()
    for x, y in pairs:
        _check(loss, x.reshape(1, 2, -1), y.reshape(1, 2, -1))


FRONT_ENDS = {
    "STFT (complex)": lambda: STFT(1024, 256),
    "Spectrogram magnitude": lambda: Spectrogram(1024, 256),
    "Spectrogram power": lambda: Spectrogram(1024, 256, power=2.0),
    "log-frequency STFT": lambda: STFT(
        1024, 256, freq_scale="log", f_min=50.0, sample_rate=22050, n_bins=128
    ),
    "MelSpectrogram": lambda: MelSpectrogram(22050, 1024, 256, n_mels=80),
    "LogMelSpectrogram": lambda: LogMelSpectrogram(22050, 1024, 256, n_mels=80),
    "LogMelSpectrogram dB": lambda: LogMelSpectrogram(22050, 1024, 256, n_mels=80, db=True),
    "MFCC": lambda: MFCC(22050, 20, n_fft=1024, hop_length=256),
    "MFCC tf": lambda: MFCC(
        22050, 13, dct_norm="tf", log="log", power=1.0, mel_scale="tf", n_fft=1024, hop_length=256
    ),
    "CQT": lambda: CQT(22050, 256, n_bins=72),
    "VQT": lambda: VQT(22050, 256, n_bins=72, gamma=20.0),
    "Gammatonegram": lambda: Gammatonegram(22050, 1024, 256),
    "A-weighted loudness": lambda: lambda x: a_weighted_loudness(x, 22050, 256),
}


@pytest.mark.parametrize("name", list(FRONT_ENDS))
def test_front_end_gradient_is_well_conditioned(name, pairs):
    front = FRONT_ENDS[name]()

    def scalar(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        out = front(x.reshape(2, -1))
        if out.is_complex():
            out = torch.view_as_real(out)
        return (out * w[: out.numel()].reshape(out.shape)).sum()

    for x, _ in pairs:
        with torch.no_grad():
            n = front(x.reshape(2, -1).double())
            n = torch.view_as_real(n).numel() if n.is_complex() else n.numel()
        w = torch.randn(n, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        _check(scalar, x, w)

"""``Gammatonegram``: an STFT pooled by gammatone filter magnitude responses (nnAudio's)."""

from __future__ import annotations

import torch
from torch import nn

from ..precision import full_precision
from . import _checks
from . import functional as SF
from .spectrogram import Spectrogram


class Gammatonegram(nn.Module):
    """Gammatone spectrogram ``G @ |STFT(x)| ** power`` (nnAudio's ``Gammatonegram``).

    Args:
        sample_rate, n_fft, hop_length, win_length, window, center, pad_mode: STFT settings.
        n_bins, f_min, f_max, width: as :func:`ddsp.spectral.functional.gammatone_filterbank`.
        power: exponent of the magnitude (2.0 as nnAudio).
        trainable_bins: make the filterbank an ``nn.Parameter``.
        **stft_kwargs: further :class:`ddsp.spectral.STFT` options (``trainable``, ...).

    Attributes:
        frequencies: ``(n_bins,)`` centre frequencies in Hz, lowest first.

    Shape:
        ``(..., time)`` -> ``(..., n_bins, frames)``.
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 2048,
        hop_length: int | None = 512,
        win_length: int | None = None,
        n_bins: int = 64,
        f_min: float = 0.0,
        f_max: float | None = None,
        width: float = 1.0,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
        trainable_bins: bool = False,
        **stft_kwargs,
    ) -> None:
        super().__init__()
        _checks.sample_rate(sample_rate)
        _checks.positive_int("n_bins", n_bins)
        _checks.power(power)  # a magnitude or power (the Spectrogram also takes None)
        f_max = _checks.band(f_min, f_max, sample_rate)
        self.spectrogram = Spectrogram(
            n_fft, hop_length, win_length, window, center, pad_mode, power=power, **stft_kwargs
        )
        fb, cf = SF.gammatone_filterbank(
            sample_rate, n_fft, n_bins, f_min, f_max, width, torch.float64
        )
        # lowest first; Ellis spaces them from f_max down, so f_max itself is not a centre
        self.register_buffer("frequencies", cf, persistent=False)
        if trainable_bins:
            self.gammatone_basis = nn.Parameter(fb.to(torch.get_default_dtype()))
        else:
            self.register_buffer("gammatone_basis", fb, persistent=False)

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        basis = self.gammatone_basis
        if isinstance(basis, nn.Parameter):  # non-negative, as the trainable mel filterbank
            basis = basis.clamp_min(0.0)
        # one dense band: without gradients applied block by block, the spectrogram unstored
        return self.spectrogram(x, bands=[(0, basis.shape[-1], basis)])

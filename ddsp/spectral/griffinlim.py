"""``GriffinLim``: magnitude spectrogram -> waveform by fast Griffin-Lim."""

from __future__ import annotations

import torch
from torch import nn

from ..precision import full_precision
from . import _checks
from . import functional as SF
from ._stft import pad_mode_name


class GriffinLim(nn.Module):
    """Invert a magnitude (or ``power``-law) spectrogram with :func:`ddsp.spectral.functional.griffinlim`.

    Args:
        n_fft, hop_length, win_length, window, center, pad_mode: the STFT that made the input.
        n_iter, momentum, init: as the function (``momentum=0.99``, zero-phase init: librosa).
        power: the input is ``|X| ** power`` (1.0 magnitude, 2.0 power).

    Shape:
        ``(..., n_fft // 2 + 1, frames)`` -> ``(..., time)``; ``length`` fixes ``time``.
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        n_iter: int = 32,
        momentum: float = 0.99,
        power: float = 1.0,
        center: bool = True,
        pad_mode: str = "constant",
        init: str = "ones",
    ) -> None:
        super().__init__()
        _checks.stft_sizes(n_fft, hop_length, win_length)  # refused here, not at the first call
        pad_mode_name(pad_mode)
        SF.get_window(window, win_length or n_fft, n_fft)
        self.kw = dict(
            n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
            n_iter=n_iter, momentum=momentum, center=center, pad_mode=pad_mode, init=init,
        )  # fmt: skip
        self.power = _checks.power(power)

    @full_precision
    def forward(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        mag = spec if self.power == 1.0 else spec.clamp_min(0).pow(1.0 / self.power)
        return SF.griffinlim(mag, length=length, **self.kw)

"""``Spectrogram``: an STFT module returning magnitude, power or the complex spectrum."""

from __future__ import annotations

import torch
from torch import nn

from . import functional as SF


class Spectrogram(nn.Module):
    """Short-time Fourier transform of ``(..., time)`` audio.

    Args:
        n_fft, hop_length, win_length, window, center, pad_mode, normalized: as
            :func:`ddsp.spectral.functional.stft`.
        power: ``1.0`` magnitude, ``2.0`` power, ``None`` the complex spectrum.

    Shape:
        ``(..., time)`` -> ``(..., n_fft // 2 + 1, frames)``.
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        normalized: bool = False,
        power: float | None = 1.0,
    ) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.win_length = n_fft if win_length is None else win_length
        self.hop_length = self.win_length // 4 if hop_length is None else hop_length
        self.center, self.pad_mode, self.normalized, self.power = (
            center,
            pad_mode,
            normalized,
            power,
        )
        self.window = window  # built in the input's dtype on use (exact in float32 and float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = SF.stft(
            x,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            center=self.center,
            pad_mode=self.pad_mode,
            normalized=self.normalized,
        )
        return spec if self.power is None else SF.magnitude(spec, self.power)

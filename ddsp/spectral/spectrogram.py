"""``Spectrogram``: an STFT module returning magnitude, power, the complex spectrum or phase."""

from __future__ import annotations

import torch

from ..precision import full_precision
from . import _checks
from . import functional as SF
from .stft import STFT


class Spectrogram(STFT):
    """Short-time Fourier transform of ``(..., time)`` audio, as magnitude, power, complex or phase.

    Args:
        n_fft, hop_length, win_length, window, center, pad_mode, normalized, freq_scale,
            f_min, f_max, n_bins, sample_rate, trainable, trainable_window: as :class:`STFT`.
        power: ``1.0`` magnitude, ``2.0`` power (any exponent), ``None`` the complex spectrum
            (torchaudio's convention).
        output: overrides ``power``: ``"magnitude"``, ``"power"``, ``"complex"`` or ``"phase"``
            (radians, zero gradient at silence).

    Shape:
        ``(..., time)`` -> ``(..., n_bins, frames)``.
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str | torch.Tensor = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        normalized: bool = False,
        power: float | None = 1.0,
        output: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(
            n_fft, hop_length, win_length, window, center, pad_mode, normalized, **kwargs
        )
        modes = {"magnitude": 1.0, "power": 2.0, "complex": None, "phase": None}
        if output is not None and output not in modes:
            raise ValueError(f"output must be one of {sorted(modes)}, got {output!r}")
        self.phase = output == "phase"
        self.power = modes[output] if output is not None else _checks.power(power, True)

    @full_precision
    def forward(self, x: torch.Tensor, bands: SF.Bands | None = None) -> torch.Tensor:
        """``bands``: a filterbank split by :func:`ddsp.spectral.functional.band_split`,
        applied to every frame of the magnitude / power (without gradients the spectrogram
        itself is then never stored). Shape: ``(..., n_bins or n_filters, frames)``."""
        if bands is not None and (self.power is None or self.phase):
            raise ValueError(
                "bands apply to a magnitude or power spectrogram, not to the complex spectrum "
                f"or phase (this Spectrogram returns {'phase' if self.phase else 'complex'})"
            )
        _checks.signal(x, finite=False)  # its type and shape (the values: in the transform)
        if self.power is not None and not self.phase and not self.use_kernels:
            w = self._current_window(x.dtype)  # (fast without gradients: SF.stft_power)
            return SF.stft_power(
                x, self.n_fft, self.hop_length, self.win_length if w is None else self.n_fft,
                self.window if w is None else w, self.center, self.pad_mode, self.normalized,
                self.power, bands=bands,
            )  # fmt: skip
        spec = super().forward(x)
        if self.phase:
            return SF.phase(spec)
        if self.power is None:
            return spec
        out = SF.magnitude(spec, self.power)
        return out if bands is None else SF.apply_bands(out, bands)

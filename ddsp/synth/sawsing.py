"""SawSing (GOLF's ISMIR 2023 baseline): band-limited sawtooth through a time-varying zero-phase
FIR (257 magnitudes per frame), plus filtered noise."""

from __future__ import annotations

import torch
from torch import nn

from ..filters.fir import ltv_fir, magnitudes_to_impulse_response
from ..precision import full_precision
from .core import check_controls, check_settings, exp_sigmoid, gate_voiced
from .harmonic import pulse_train
from .noise import filtered_noise, noise_magnitudes

__all__ = ["SawtoothFIR"]


class SawtoothFIR(nn.Module):
    """SawSing: sawtooth -> time-varying zero-phase FIR (``n_magnitudes`` per frame) + noise.

    Shape: ``f0: (batch, frames)``, controls ``filter (n_magnitudes)``, ``noise (n_noise_bands)``
    -> ``(batch, frames * hop_length)``.
    """

    def __init__(
        self,
        sample_rate: int,
        hop_length: int,
        n_magnitudes: int = 257,
        n_noise_bands: int = 65,
        n_harmonics: int = 100,
    ) -> None:
        super().__init__()
        check_settings(
            sample_rate,
            hop_length,
            None,
            {
                2: dict(n_magnitudes=n_magnitudes, n_noise_bands=n_noise_bands),
                1: dict(n_harmonics=n_harmonics),
            },
        )
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.n_magnitudes, self.n_noise_bands, self.n_harmonics = (
            n_magnitudes,
            n_noise_bands,
            n_harmonics,
        )

    @property
    def control_sizes(self) -> dict[str, int]:
        return {"filter": self.n_magnitudes, "noise": self.n_noise_bands}

    @full_precision
    def forward(
        self,
        f0: torch.Tensor,
        controls: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
        voiced: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``voiced (batch, frames)`` gates the sawtooth (:func:`gate_voiced`)."""
        check_controls(controls, self.control_sizes, f0)
        saw = gate_voiced(
            pulse_train(f0, self.sample_rate, self.hop_length, self.n_harmonics, 1.0),
            voiced,
            self.hop_length,
        )
        ir = magnitudes_to_impulse_response(exp_sigmoid(controls["filter"]))
        harmonic = ltv_fir(saw, ir, self.hop_length, delay=ir.shape[-1] // 2)
        return harmonic + filtered_noise(
            noise_magnitudes(controls["noise"]), self.hop_length, generator
        )

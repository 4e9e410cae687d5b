"""PULF (GOLF's ISMIR 2023 baseline): band-limited pulse train through one time-varying all-pole
filter and white noise through another (orders 26 and 22 in the paper), as biquad cascades."""

from __future__ import annotations

import torch
from torch import nn

from ..filters.allpole import allpole_sos
from ..filters.interpolate import upsample
from ..precision import full_precision
from .core import check_controls, check_settings, gate_voiced, normalised_biquads
from .harmonic import pulse_train
from .noise import white_noise

__all__ = ["PulseTrainLPC"]


class PulseTrainLPC(nn.Module):
    """PULF: pulse train -> all-pole (``harmonic_order``) + noise -> all-pole (``noise_order``).

    Both filters are biquad cascades in the triangle parameterisation, interpolated per sample
    and normalised per frame to unit RMS gain, each with its own gain (``exp_sigmoid`` up to
    ``max_gain``; see :class:`ddsp.synth.GlottalFlowLPC` for why the configs raise it to 8).

    Shape: ``f0: (batch, frames)``, controls ``harmonic (h_order + 1)``, ``noise (n_order + 1)``
    -> ``(batch, frames * hop_length)``.
    """

    def __init__(
        self,
        sample_rate: int,
        hop_length: int,
        harmonic_order: int = 26,
        noise_order: int = 22,
        n_harmonics: int = 100,
        max_radius: float = 0.99,
        max_gain: float = 2.0,
    ) -> None:
        super().__init__()
        check_settings(
            sample_rate,
            hop_length,
            max_radius,
            {
                2: dict(harmonic_order=harmonic_order, noise_order=noise_order),
                1: dict(n_harmonics=n_harmonics),
            },
        )
        if harmonic_order % 2 or noise_order % 2:
            raise ValueError("filter orders must be even (biquads)")
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.orders = {"harmonic": harmonic_order, "noise": noise_order}
        self.n_harmonics, self.max_radius = n_harmonics, max_radius
        if not max_gain > 0:
            raise ValueError(f"max_gain must be > 0, got {max_gain}")
        self.max_gain = max_gain

    @property
    def control_sizes(self) -> dict[str, int]:
        return {k: n + 1 for k, n in self.orders.items()}

    def _filter(self, x: torch.Tensor, c: torch.Tensor, order: int) -> torch.Tensor:
        sos, gain = normalised_biquads(c, order, self.max_radius, self.max_gain)
        return allpole_sos(
            x * upsample(gain.unsqueeze(-1), self.hop_length)[..., 0],
            sos,
            hop_length=self.hop_length,
        )

    @full_precision
    def forward(
        self,
        f0: torch.Tensor,
        controls: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
        voiced: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``voiced (batch, frames)`` gates the pulse train (:func:`gate_voiced`)."""
        check_controls(controls, self.control_sizes, f0)
        pulses = pulse_train(f0, self.sample_rate, self.hop_length, self.n_harmonics, 0.0)
        noise = white_noise(*pulses.shape, generator, pulses)
        pulses = gate_voiced(pulses, voiced, self.hop_length)
        return self._filter(pulses, controls["harmonic"], self.orders["harmonic"]) + self._filter(
            noise, controls["noise"], self.orders["noise"]
        )

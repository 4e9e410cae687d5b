"""The DDSP harmonic-plus-noise synthesiser (Engel et al., ICLR 2020)."""

from __future__ import annotations

import torch
from torch import nn

from ..precision import full_precision
from .core import check_controls, check_settings, exp_sigmoid, gate_voiced
from .harmonic import harmonic_oscillator, remove_above_nyquist
from .noise import filtered_noise, noise_magnitudes
from .reverb import LearnableReverb


class HarmonicPlusNoise(nn.Module):
    """Additive harmonics at a given f0 plus filtered noise, optionally through a reverb.

    Controls (raw network outputs, scaled here):
        ``harmonic``: ``(batch, frames, 1 + n_harmonics)``: overall amplitude and harmonic
        distribution (``exp_sigmoid``; normalised to sum 1 below Nyquist).
        ``noise``: ``(batch, frames, n_noise_bands)``: noise magnitudes (``exp_sigmoid(x - 5)``).

    Args:
        sample_rate: Hz.
        hop_length: samples per control frame.
        n_harmonics: number of harmonics.
        n_noise_bands: frequency samples of each noise filter (FIR of ``2 (n - 1)`` taps).
        reverb: add a :class:`LearnableReverb` of ``reverb_length`` samples.

    Shape:
        ``f0: (batch, frames)`` Hz, controls as above -> ``(batch, frames * hop_length)``.
    """

    def __init__(
        self,
        sample_rate: int,
        hop_length: int,
        n_harmonics: int = 64,
        n_noise_bands: int = 65,
        reverb: bool = False,
        reverb_length: int = 8000,
    ) -> None:
        super().__init__()
        check_settings(
            sample_rate,
            hop_length,
            None,
            {1: dict(n_harmonics=n_harmonics), 2: dict(n_noise_bands=n_noise_bands)},
        )
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.n_harmonics, self.n_noise_bands = n_harmonics, n_noise_bands
        self.reverb = LearnableReverb(reverb_length, sample_rate) if reverb else None

    @property
    def control_sizes(self) -> dict[str, int]:
        """Channels of each control the encoder must predict."""
        return {"harmonic": 1 + self.n_harmonics, "noise": self.n_noise_bands}

    @full_precision
    def forward(
        self,
        f0: torch.Tensor,
        controls: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
        voiced: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``voiced (batch, frames)`` gates the harmonic source (:func:`gate_voiced`)."""
        check_controls(controls, self.control_sizes, f0)
        h = controls["harmonic"]
        amp = exp_sigmoid(h[..., :1])
        dist = remove_above_nyquist(exp_sigmoid(h[..., 1:]), f0, self.sample_rate)
        dist = dist / dist.sum(-1, keepdim=True).clamp_min(1e-7)
        harmonic = harmonic_oscillator(f0, amp * dist, self.sample_rate, self.hop_length)
        harmonic = gate_voiced(harmonic, voiced, self.hop_length)
        noise = filtered_noise(noise_magnitudes(controls["noise"]), self.hop_length, generator)
        y = harmonic + noise
        if self.reverb is not None:
            y = self.reverb(y)
        return y

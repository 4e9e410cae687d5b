"""The vocoders GOLF is compared against (ISMIR 2023), in the same control interface.

- :class:`PulseTrainLPC` (PULF): band-limited pulse train through one time-varying all-pole
  filter and white noise through another (orders 26 and 22 in the paper), as biquad cascades.
- :class:`SawtoothFIR` (SawSing): band-limited sawtooth through a time-varying zero-phase FIR
  (256 magnitudes per frame), plus filtered noise.
- :func:`classical_lpc_vocoder`: no training: LPC analysis of the input, excitation by a pulse
  train at f0 in voiced frames and noise elsewhere, scaled by the prediction error: the lower
  anchor.
"""

from __future__ import annotations

import torch
from torch import nn

from ..filters.allpole import allpole, allpole_sos
from ..filters.analysis import lpc_analysis
from ..filters.fir import ltv_fir, magnitudes_to_impulse_response
from ..filters.interpolate import interpolate_lpc, upsample
from ..filters.lpc import logits_to_biquads
from .core import check_controls, exp_sigmoid, gate_voiced
from .golf import GlottalFlowLPC
from .harmonic import harmonic_oscillator
from .noise import filtered_noise, noise_magnitudes, white_noise

__all__ = ["PulseTrainLPC", "SawtoothFIR", "classical_lpc_vocoder"]


def _pulse_train(
    f0: torch.Tensor, sample_rate: int, hop_length: int, n_harmonics: int, decay: float
) -> torch.Tensor:
    """Band-limited ``sum_k k^-decay sin(k phi)`` at unit RMS (0: pulses, 1: sawtooth)."""
    k = torch.arange(1, n_harmonics + 1, dtype=f0.dtype, device=f0.device)
    amps = (k**-decay).expand(*f0.shape, n_harmonics)
    amps = amps / amps.square().sum(-1, keepdim=True).div(2).sqrt()
    return harmonic_oscillator(f0, amps, sample_rate, hop_length)


class PulseTrainLPC(nn.Module):
    """PULF: pulse train -> all-pole (``harmonic_order``) + noise -> all-pole (``noise_order``).

    Both filters are biquad cascades in the triangle parameterisation, interpolated per sample
    and normalised per frame to unit RMS gain, each with its own gain.

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
    ) -> None:
        super().__init__()
        if harmonic_order % 2 or noise_order % 2:
            raise ValueError("filter orders must be even (biquads)")
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.orders = {"harmonic": harmonic_order, "noise": noise_order}
        self.n_harmonics, self.max_radius = n_harmonics, max_radius

    @property
    def control_sizes(self) -> dict[str, int]:
        return {k: n + 1 for k, n in self.orders.items()}

    def _filter(self, x: torch.Tensor, c: torch.Tensor, order: int) -> torch.Tensor:
        b, f, _ = c.shape
        sos = logits_to_biquads(c[..., :order].reshape(b, f, order // 2, 2), self.max_radius)
        gain = exp_sigmoid(c[..., -1]) * torch.exp(-GlottalFlowLPC.log_rms_gain(sos))
        return allpole_sos(
            x * upsample(gain.unsqueeze(-1), self.hop_length)[..., 0],
            sos,
            hop_length=self.hop_length,
        )

    def forward(
        self,
        f0: torch.Tensor,
        controls: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
        voiced: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``voiced (batch, frames)`` gates the pulse train (:func:`gate_voiced`)."""
        check_controls(controls, self.control_sizes, f0)
        pulses = _pulse_train(f0, self.sample_rate, self.hop_length, self.n_harmonics, 0.0)
        noise = white_noise(*pulses.shape, generator, pulses)
        pulses = gate_voiced(pulses, voiced, self.hop_length)
        return self._filter(pulses, controls["harmonic"], self.orders["harmonic"]) + self._filter(
            noise, controls["noise"], self.orders["noise"]
        )


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
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.n_magnitudes, self.n_noise_bands, self.n_harmonics = (
            n_magnitudes,
            n_noise_bands,
            n_harmonics,
        )

    @property
    def control_sizes(self) -> dict[str, int]:
        return {"filter": self.n_magnitudes, "noise": self.n_noise_bands}

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
            _pulse_train(f0, self.sample_rate, self.hop_length, self.n_harmonics, 1.0),
            voiced,
            self.hop_length,
        )
        ir = magnitudes_to_impulse_response(exp_sigmoid(controls["filter"]))
        harmonic = ltv_fir(saw, ir, self.hop_length, delay=ir.shape[-1] // 2)
        return harmonic + filtered_noise(
            noise_magnitudes(controls["noise"]), self.hop_length, generator
        )


def classical_lpc_vocoder(
    audio: torch.Tensor,
    f0: torch.Tensor,
    voiced: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    order: int = 22,
    frame_length: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Analysis-synthesis LPC vocoder with no training (the lower anchor).

    Per frame: LPC by the autocorrelation method (Hann window, 0.97 pre-emphasis undone after
    synthesis, -40 dB white-noise correction); excitation: a band-limited pulse train at f0 in
    voiced frames, white noise in unvoiced ones, both at unit power, scaled by the square root of
    the prediction-error power; reflection coefficients interpolated per sample (stable), float64
    filtering.

    Shape: ``audio (batch, frames * hop)``, ``f0, voiced (batch, frames)`` -> ``(batch, frames * hop)``.
    """
    frame_length = frame_length or 4 * hop_length
    b, frames = f0.shape
    x = audio.double()
    a, k, err = lpc_analysis(
        x, order, frame_length, hop_length, preemphasis=0.97, white_noise_db=-40.0
    )
    k, err = k[:, :frames], err[:, :frames]
    power = (
        err / frame_length / torch.hann_window(frame_length, dtype=torch.float64).square().mean()
    )
    gain = upsample(power.clamp_min(0).sqrt().unsqueeze(-1), hop_length)[..., 0]
    v = upsample(voiced.double().unsqueeze(-1), hop_length)[..., 0]
    pulses = _pulse_train(f0.double(), sample_rate, hop_length, 100, 0.0)
    noise = torch.randn(
        pulses.shape, generator=generator, dtype=torch.float64, device=pulses.device
    )
    excitation = (v * pulses + (1 - v) * noise) * gain
    y = allpole(excitation, interpolate_lpc(k, hop_length, "reflection"))
    y = allpole(y, y.new_tensor([-0.97]))  # undo the pre-emphasis
    return y.to(audio.dtype)

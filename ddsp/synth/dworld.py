"""A differentiable WORLD-style vocoder (GOLF's Interspeech 2024 "∇WORLD" baseline): a pulse
train plus aperiodic noise, both shaped by one predicted spectral envelope, as WORLD
synthesises from f0, a spectral envelope and aperiodicity."""

from __future__ import annotations

import torch
from torch import nn

from ..filters.fir import ltv_fir, magnitudes_to_impulse_response
from ..precision import full_precision
from ..spectral._mel import mel_filterbank
from .core import check_controls, check_settings, gate_voiced
from .harmonic import pulse_train
from .noise import filtered_noise, noise_magnitudes
from .reverb import LearnableReverb

__all__ = ["DifferentiableWORLD"]


class DifferentiableWORLD(nn.Module):
    """∇WORLD: (pulse train + aperiodic noise) -> spectral-envelope LTV FIR (zero phase).

    Controls (raw encoder outputs), per frame: ``envelope (n_mels)``: the log power of the
    spectral envelope in mel bands (``exp``), spread to ``n_fft // 2 + 1`` linear bins by the
    mel filterbank's pseudo-inverse with negatives cut (as GOLF's baseline), and applied as an
    amplitude (square root); ``aperiodicity (n_noise_bands)``: the noise's magnitudes
    (``exp_sigmoid(x - 5)``) before the envelope, the role of WORLD's aperiodicity.

    GOLF's baseline (24 kHz): 80 mel bands, FFT 1024, 256 noise magnitudes, a 128-tap room
    filter; here FFT 512 at 16 kHz (the same 32 ms).

    Shape: ``f0: (batch, frames)`` Hz, controls as above -> ``(batch, frames * hop_length)``.
    """

    def __init__(
        self,
        sample_rate: int,
        hop_length: int,
        n_mels: int = 80,
        n_fft: int = 512,
        n_noise_bands: int = 129,
        n_harmonics: int = 100,
        room_length: int = 0,
    ) -> None:
        super().__init__()
        check_settings(
            sample_rate,
            hop_length,
            None,
            {
                1: dict(n_mels=n_mels, n_harmonics=n_harmonics),
                2: dict(n_fft=n_fft, n_noise_bands=n_noise_bands),
                0: dict(room_length=room_length),
            },
        )
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.n_mels, self.n_fft = n_mels, n_fft
        self.n_noise_bands, self.n_harmonics = n_noise_bands, n_harmonics
        fb = mel_filterbank(sample_rate, n_fft, n_mels, norm=None, dtype=torch.float64)
        self.register_buffer("inverse_fb", torch.linalg.pinv(fb).T.relu().float(), persistent=False)
        self.room = (
            LearnableReverb(room_length, sample_rate, decay_s=0.002) if room_length else None
        )

    @property
    def control_sizes(self) -> dict[str, int]:
        """Channels of each control the encoder must predict."""
        return {"envelope": self.n_mels, "aperiodicity": self.n_noise_bands}

    def envelope(self, controls: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, n_mels)`` raw controls -> ``(batch, frames, n_fft // 2 + 1)``
        amplitude response."""
        power = torch.exp(controls.clamp(max=30.0)) @ self.inverse_fb.to(controls.dtype)
        return (power + 1e-12).sqrt()

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
        excitation = gate_voiced(pulses, voiced, self.hop_length) + filtered_noise(
            noise_magnitudes(controls["aperiodicity"]), self.hop_length, generator
        )
        ir = magnitudes_to_impulse_response(self.envelope(controls["envelope"]))
        y = ltv_fir(excitation, ir, self.hop_length, delay=ir.shape[-1] // 2)
        return self.room(y) if self.room is not None else y

"""NHV, the neural homomorphic vocoder (Liu et al., Interspeech 2020), in the form GOLF's
Interspeech 2024 paper trained as a baseline: a band-limited pulse train through a
time-varying minimum-phase FIR built from predicted real cepstra, plus white noise through a
time-varying zero-phase FIR, then an optional learnable room FIR."""

from __future__ import annotations

import torch
from torch import nn

from ..filters.fir import cepstrum_to_minimum_phase_ir, ltv_fir
from ..precision import full_precision
from .core import check_controls, check_settings, gate_voiced
from .harmonic import pulse_train
from .noise import filtered_noise, noise_magnitudes
from .reverb import LearnableReverb

__all__ = ["NeuralHomomorphic"]


class NeuralHomomorphic(nn.Module):
    """NHV: pulse train -> minimum-phase LTV FIR from cepstra, + noise -> zero-phase LTV FIR.

    Controls (raw encoder outputs), per frame: ``cepstrum (n_cepstrum)``: ``(n + 1) c_n``, the
    real cepstrum of the harmonic filter's log magnitude liftered (``c0`` = log gain; zero
    outputs give a flat unit response). Cepstra of vocal-tract responses decay about as
    ``1 / n``, so outputs of equal size mean an equally smooth response, and a fresh encoder
    (outputs of order 0.3) starts near a flat one instead of ``exp`` of a 40 dB random
    ripple; ``noise (n_noise_bands)``: noise magnitudes (``exp_sigmoid(x - 5)``).
    The harmonic filter of frame ``k`` filters the block of samples ``[k hop, (k + 1) hop)``
    and its tail is overlap-added (:func:`ddsp.filters.ltv_fir`), so the output is exactly
    the sum of each block's causal convolution.

    GOLF's NHV baseline (24 kHz): 241 cepstral coefficients (10 ms of quefrency), FFT 1024,
    256 noise magnitudes, a 128-tap room filter. Defaults here are the same durations at
    16 kHz: 160 coefficients, FFT 512.

    Shape: ``f0: (batch, frames)`` Hz, controls as above -> ``(batch, frames * hop_length)``.
    """

    def __init__(
        self,
        sample_rate: int,
        hop_length: int,
        n_cepstrum: int = 160,
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
                2: dict(n_fft=n_fft, n_noise_bands=n_noise_bands),
                1: dict(n_harmonics=n_harmonics),
                0: dict(room_length=room_length),
            },
        )
        if not 0 < n_cepstrum <= n_fft // 2:
            raise ValueError(
                f"n_cepstrum must be in 1 ... n_fft // 2 = {n_fft // 2}, got {n_cepstrum}"
            )
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.n_cepstrum, self.n_fft = n_cepstrum, n_fft
        self.n_noise_bands, self.n_harmonics = n_noise_bands, n_harmonics
        lifter = 1.0 / torch.arange(1, n_cepstrum + 1, dtype=torch.float32)
        self.register_buffer("lifter", lifter, persistent=False)
        self.room = (
            LearnableReverb(room_length, sample_rate, decay_s=0.002) if room_length else None
        )

    @property
    def control_sizes(self) -> dict[str, int]:
        """Channels of each control the encoder must predict."""
        return {"cepstrum": self.n_cepstrum, "noise": self.n_noise_bands}

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
        pulses = gate_voiced(pulses, voiced, self.hop_length)
        cepstrum = controls["cepstrum"] * self.lifter.to(controls["cepstrum"].dtype)
        ir = cepstrum_to_minimum_phase_ir(cepstrum, self.n_fft)
        y = ltv_fir(pulses, ir, self.hop_length) + filtered_noise(
            noise_magnitudes(controls["noise"]), self.hop_length, generator
        )
        return self.room(y) if self.room is not None else y

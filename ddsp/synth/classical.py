"""The classical LPC vocoder, no training: LPC analysis of the input, excitation by a pulse train
at f0 in voiced frames and noise elsewhere, scaled by the prediction error (the lower anchor)."""

from __future__ import annotations

import torch

from ..filters.allpole import allpole
from ..filters.analysis import lpc_analysis
from ..filters.interpolate import interpolate_lpc, upsample
from ..precision import full_precision
from .harmonic import pulse_train

__all__ = ["classical_lpc_vocoder"]


@full_precision
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
        err
        / frame_length
        / torch.hann_window(frame_length, dtype=torch.float64, device=err.device).square().mean()
    )
    gain = upsample(power.clamp_min(0).sqrt().unsqueeze(-1), hop_length)[..., 0]
    v = upsample(voiced.double().unsqueeze(-1), hop_length)[..., 0]
    pulses = pulse_train(f0.double(), sample_rate, hop_length, 100, 0.0)
    noise = torch.randn(
        pulses.shape, generator=generator, dtype=torch.float64, device=pulses.device
    )
    excitation = (v * pulses + (1 - v) * noise) * gain
    y = allpole(excitation, interpolate_lpc(k, hop_length, "reflection"))
    y = allpole(y, y.new_tensor([-0.97]))  # undo the pre-emphasis
    return y.to(audio.dtype)

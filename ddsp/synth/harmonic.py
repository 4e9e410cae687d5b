"""Additive harmonic oscillator bank (DDSP)."""

from __future__ import annotations

import math

import torch

from ..dsp import finite_values, values_within
from ..precision import full_precision
from .core import upsample

__all__ = ["harmonic_oscillator", "remove_above_nyquist", "pulse_train"]


def remove_above_nyquist(
    amplitudes: torch.Tensor, f0: torch.Tensor, sample_rate: int
) -> torch.Tensor:
    """Zero the harmonics whose frequency ``k * f0`` reaches Nyquist (no aliasing).

    Shape:
        ``amplitudes: (..., n_harmonics)``, ``f0: (...)`` in Hz -> ``(..., n_harmonics)``.
    """
    k = torch.arange(1, amplitudes.shape[-1] + 1, device=f0.device, dtype=f0.dtype)
    return amplitudes * (f0.unsqueeze(-1) * k < sample_rate / 2)


@full_precision(transforms=("vmap", "grad"))
def harmonic_oscillator(
    f0: torch.Tensor,
    amplitudes: torch.Tensor,
    sample_rate: int,
    hop_length: int | None = None,
    initial_phase: torch.Tensor | None = None,
    return_phase: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Sum of sinusoids at integer multiples of a time-varying f0.

    ``y[t] = sum_k A_k[t] sin(k * phi[t])`` with ``phi[t] = phi0 + 2 pi sum_{s<=t} f0[s] / sr``.

    With ``hop_length``, ``f0`` and ``amplitudes`` are at frame rate and are linearly
    interpolated to the sample rate (frame ``n`` at sample ``n * hop_length``, as
    :func:`ddsp.synth.core.upsample`). The amplitude interpolation is folded into one batched
    matmul per frame instead of materialising ``(batch, time, n_harmonics)`` amplitudes; the
    result equals upsampling first. A harmonic is silenced in a frame when it reaches Nyquist at
    either end of that frame.

    Args:
        f0: ``(batch, time)`` Hz at the sample rate, or ``(batch, frames)`` with ``hop_length``.
        amplitudes: ``(batch, time | frames, n_harmonics)`` linear amplitudes.
        sample_rate: Hz.
        hop_length: samples per frame when the inputs are at frame rate.
        initial_phase: ``(batch,)`` phase in radians before the first sample (streaming).
        return_phase: also return the final phase ``(batch,)`` (wrapped to [0, 2 pi)).

    Returns:
        ``(batch, time)`` audio, ``time = frames * hop_length`` at frame rate (and the phase).
    """
    if f0.shape != amplitudes.shape[:-1]:
        raise ValueError(
            f"f0 {tuple(f0.shape)} and amplitudes {tuple(amplitudes.shape)} disagree in (batch, time)"
        )
    finite_values(f0, "f0")
    values_within(f0, "f0", 0.0, hint=" Hz")
    finite_values(amplitudes, "amplitudes")
    n_harm = amplitudes.shape[-1]
    if hop_length is not None:
        f0_next = torch.cat([f0[:, 1:], f0[:, -1:]], dim=1)
        amplitudes = remove_above_nyquist(amplitudes, torch.maximum(f0, f0_next), sample_rate)
        f0 = upsample(f0.unsqueeze(-1), hop_length).squeeze(-1)
    else:
        amplitudes = remove_above_nyquist(amplitudes, f0, sample_rate)
    phase = torch.cumsum(2 * math.pi / sample_rate * f0.double(), dim=-1)  # float64: no drift
    if initial_phase is not None:
        phase = phase + initial_phase.double().unsqueeze(-1)
    phase = torch.remainder(phase, 2 * math.pi).to(f0.dtype)
    k = torch.arange(1, n_harm + 1, device=f0.device, dtype=f0.dtype)
    sines = torch.sin(phase.unsqueeze(-1) * k)  # (B, T, K)
    if hop_length is None:
        y = (sines * amplitudes).sum(-1)
    else:
        b, frames, _ = amplitudes.shape
        ends = torch.stack([amplitudes, torch.cat([amplitudes[:, 1:], amplitudes[:, -1:]], 1)], -1)
        out = torch.matmul(sines.view(b, frames, hop_length, n_harm), ends)  # (B, F, hop, 2)
        w = torch.arange(hop_length, device=f0.device, dtype=f0.dtype) / hop_length
        y = (out[..., 0] * (1 - w) + out[..., 1] * w).reshape(b, frames * hop_length)
    if return_phase:
        return y, phase[..., -1]
    return y


def pulse_train(
    f0: torch.Tensor, sample_rate: int, hop_length: int, n_harmonics: int, decay: float
) -> torch.Tensor:
    """Band-limited ``sum_k k^-decay sin(k phi)`` at unit RMS (0: pulses, 1: sawtooth).

    Shape: ``f0 (batch, frames)`` Hz -> ``(batch, frames * hop_length)``.
    """
    k = torch.arange(1, n_harmonics + 1, dtype=f0.dtype, device=f0.device)
    amps = (k**-decay).expand(*f0.shape, n_harmonics)
    amps = amps / amps.square().sum(-1, keepdim=True).div(2).sqrt()
    return harmonic_oscillator(f0, amps, sample_rate, hop_length)

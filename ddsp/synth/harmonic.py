"""Additive harmonic oscillator bank (DDSP)."""

from __future__ import annotations

import math

import torch

__all__ = ["harmonic_oscillator", "remove_above_nyquist"]


def remove_above_nyquist(
    amplitudes: torch.Tensor, f0: torch.Tensor, sample_rate: int
) -> torch.Tensor:
    """Zero the harmonics whose frequency ``k * f0`` reaches Nyquist (no aliasing).

    Shape:
        ``amplitudes: (..., n_harmonics)``, ``f0: (...)`` in Hz -> ``(..., n_harmonics)``.
    """
    k = torch.arange(1, amplitudes.shape[-1] + 1, device=f0.device, dtype=f0.dtype)
    return amplitudes * (f0.unsqueeze(-1) * k < sample_rate / 2)


def harmonic_oscillator(
    f0: torch.Tensor,
    amplitudes: torch.Tensor,
    sample_rate: int,
    initial_phase: torch.Tensor | None = None,
    return_phase: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Sum of sinusoids at integer multiples of a time-varying f0.

    ``y[t] = sum_k A_k[t] sin(k * phi[t])`` with ``phi[t] = phi0 + 2 pi sum_{s<=t} f0[s] / sr``.
    Harmonics at or above Nyquist are silenced sample by sample.

    Args:
        f0: ``(batch, time)`` fundamental in Hz, at the sample rate.
        amplitudes: ``(batch, time, n_harmonics)`` linear amplitudes, at the sample rate.
        sample_rate: Hz.
        initial_phase: ``(batch,)`` phase in radians before the first sample (streaming).
        return_phase: also return the final phase ``(batch,)`` (wrapped to [0, 2 pi)).

    Returns:
        ``(batch, time)`` audio (and the final phase).
    """
    if f0.shape != amplitudes.shape[:-1]:
        raise ValueError(
            f"f0 {tuple(f0.shape)} and amplitudes {tuple(amplitudes.shape)} disagree in (batch, time)"
        )
    omega = 2 * math.pi * f0 / sample_rate
    phase = torch.cumsum(omega.double(), dim=-1)  # float64: no drift over long signals
    if initial_phase is not None:
        phase = phase + initial_phase.double().unsqueeze(-1)
    phase = torch.remainder(phase, 2 * math.pi).to(f0.dtype)
    amplitudes = remove_above_nyquist(amplitudes, f0, sample_rate)
    k = torch.arange(1, amplitudes.shape[-1] + 1, device=f0.device, dtype=f0.dtype)
    y = (torch.sin(phase.unsqueeze(-1) * k) * amplitudes).sum(-1)
    if return_phase:
        return y, phase[..., -1]
    return y

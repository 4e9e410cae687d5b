"""Filtered noise: white noise through a time-varying zero-phase FIR (DDSP)."""

from __future__ import annotations

import torch

from ..filters.fir import ltv_fir, magnitudes_to_impulse_response

__all__ = ["filtered_noise"]


def filtered_noise(
    magnitudes: torch.Tensor,
    hop_length: int,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Uniform white noise in [-1, 1) shaped frame by frame by ``magnitudes``.

    Args:
        magnitudes: ``(batch, frames, n_bands)`` linear amplitude responses, DC to Nyquist.
        hop_length: samples per frame.
        generator: optional RNG for reproducible noise.
        noise: ``(batch, frames * hop_length)`` white noise to shape instead of drawing it
            (streaming, reproducible tests).

    Returns:
        ``(batch, frames * hop_length)`` audio.
    """
    b, frames, _ = magnitudes.shape
    if noise is None:
        noise = torch.rand(
            b,
            frames * hop_length,
            generator=generator,
            device=magnitudes.device,
            dtype=magnitudes.dtype,
        )
        noise = noise * 2 - 1
    ir = magnitudes_to_impulse_response(magnitudes)
    return ltv_fir(noise, ir, hop_length, delay=ir.shape[-1] // 2)

"""Filtered noise: white noise through a time-varying zero-phase FIR (DDSP)."""

from __future__ import annotations

import torch

from ..dsp import finite_values
from ..filters.fir import _ltv_fir, magnitudes_to_impulse_response
from ..precision import full_precision

__all__ = ["filtered_noise", "white_noise", "noise_magnitudes"]

NOISE_OFFSET = 5.0  # raw noise controls start near silence: exp_sigmoid(0 - 5) ~ 1e-3


def white_noise(
    batch: int,
    length: int,
    generator: torch.Generator | None = None,
    like: torch.Tensor | None = None,
) -> torch.Tensor:
    """Uniform white noise in [-1, 1), on ``like``'s device and dtype (the one place noise is
    drawn: the synthesisers and the streaming decoder share it, so a seed means the same noise).

    Shape: -> ``(batch, length)``.
    """
    dtype = like.dtype if like is not None else torch.get_default_dtype()
    device = like.device if like is not None else None
    if generator is not None and device is not None and generator.device != device:
        noise = torch.rand(batch, length, generator=generator, dtype=dtype).to(device)
    else:
        noise = torch.rand(batch, length, generator=generator, dtype=dtype, device=device)
    return noise * 2 - 1


def noise_magnitudes(controls: torch.Tensor) -> torch.Tensor:
    """Raw encoder outputs -> noise band magnitudes ``exp_sigmoid(x - 5)`` (shared by every
    synthesiser's noise branch). Any shape."""
    from .core import exp_sigmoid

    return exp_sigmoid(controls - NOISE_OFFSET)


@full_precision
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
        noise = white_noise(b, frames * hop_length, generator, magnitudes)
    else:
        finite_values(noise, "noise")
    ir = magnitudes_to_impulse_response(magnitudes)  # checks the magnitudes
    return _ltv_fir(noise, ir, hop_length, delay=ir.shape[-1] // 2)

"""Learnable LTI reverb: a long FIR with a fixed unit direct path."""

from __future__ import annotations

import torch
from torch import nn

from ..filters import _render_cpu
from ..filters.fir import fft_convolve
from ..precision import full_precision
from .core import check_settings

DIRECT_MAX_TAPS = 200  # below this, direct convolution beats the FFT on a CPU (measured here)


class LearnableReverb(nn.Module):
    """``y = x * [1, h_1, ..., h_{L-1}]``: the direct path is fixed to 1, the tail is learned.

    The tail starts as exponentially decaying noise at -40 dB so training begins near dry.

    Args:
        length: impulse-response length in samples.
        decay_s: initial decay time constant in seconds; with ``sample_rate``.

    Shape:
        ``(batch, time)`` -> ``(batch, time)``.
    """

    def __init__(self, length: int = 8000, sample_rate: int = 16000, decay_s: float = 0.05) -> None:
        super().__init__()
        check_settings(sample_rate, at_least={1: dict(length=length)})
        if not decay_s > 0:
            raise ValueError(f"decay_s must be > 0, got {decay_s!r}")
        t = torch.arange(1, length) / sample_rate
        self.tail = nn.Parameter(0.01 * torch.randn(length - 1) * torch.exp(-t / decay_s))

    def impulse_response(self) -> torch.Tensor:
        """``(length,)`` impulse response."""
        return torch.cat([self.tail.new_ones(1), self.tail])

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.impulse_response().to(x.dtype)
        if len(h) > DIRECT_MAX_TAPS or (torch.is_grad_enabled() and h.requires_grad):
            return fft_convolve(x, h)[..., : x.shape[-1]]
        # rendering a short room (GOLF's 128 taps): direct convolution, 1.7x the FFT's speed
        # at 6 s (training keeps the FFT: the direct form's weight gradient is 3x slower)
        if _render_cpu.usable(x, h):
            return _render_cpu.causal_fir(x, h)
        lead = x.shape[:-1]
        x = torch.nn.functional.pad(x.reshape(-1, 1, x.shape[-1]), (len(h) - 1, 0))
        return torch.nn.functional.conv1d(x, h.flip(0).view(1, 1, -1)).reshape(*lead, -1)

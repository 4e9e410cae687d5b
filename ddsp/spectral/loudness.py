"""A-weighted loudness per frame, in dB (the DDSP control signal)."""

from __future__ import annotations

import torch

from . import functional as SF


def a_weighted_loudness(
    x: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    n_fft: int = 1024,
    min_db: float = -100.0,
) -> torch.Tensor:
    """Mean A-weighted power per frame, in dB relative to a full-scale sine's spectrum peak.

    Frames are centred at ``t * hop_length`` (zero padding at the edges), as the STFT.

    Args:
        x: ``(..., time)`` audio.

    Returns:
        ``(..., frames)`` loudness in dB with ``frames = time // hop_length + 1``, floored at
        ``min_db``.
    """
    spec = SF.stft(x, n_fft, hop_length, window="hann", center=True, pad_mode="constant")
    power = SF.magnitude(spec, 2.0) / (n_fft / 4) ** 2  # a full-scale sine peaks near 0 dB
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, device=x.device)
    weight = 10.0 ** (SF.a_weighting_db(freqs) / 10.0)
    mean_power = (power * weight.to(power.dtype)[:, None]).mean(dim=-2)
    return (10.0 * torch.log10(mean_power.clamp_min(10 ** (min_db / 10)))).clamp_min(min_db)

"""Levels per frame: A-weighted loudness in dB (the DDSP control signal) and the RMS level that
makes a vocoder level-equivariant."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..precision import full_precision
from . import _checks
from . import functional as SF


@full_precision
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
    _checks.sample_rate(sample_rate)  # 0 weighted every bin at 0 Hz's gain: a finite nonsense
    spec = SF.stft(x, n_fft, hop_length, window="hann", center=True, pad_mode="constant")
    power = SF.magnitude(spec, 2.0) / (n_fft / 4) ** 2  # a full-scale sine peaks near 0 dB
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, device=x.device)
    weight = 10.0 ** (SF.a_weighting_db(freqs) / 10.0)
    mean_power = (power * weight.to(power.dtype)[:, None]).mean(dim=-2)
    return (10.0 * torch.log10(mean_power.clamp_min(10 ** (min_db / 10)))).clamp_min(min_db)


def butterworth_highpass(x: torch.Tensor, cutoff: float, order: int = 4) -> torch.Tensor:
    """Zero-phase high-pass with a Butterworth magnitude ``|H(f)| = 1 / sqrt(1 + (fc/f)^(2 order))``
    applied in the frequency domain (DC removed exactly, no phase shift, linear in ``x``).

    The signal is zero-padded by four periods of the cutoff before the FFT so that the filter's
    tails do not wrap around.

    Args:
        x: ``(..., time)`` real signal.
        cutoff: -3 dB frequency as a fraction of the sample rate, in ``(0, 0.5)``.
        order: steepness: ``6 * order`` dB per octave below the cutoff.

    Returns:
        ``(..., time)``, same dtype.
    """
    if not 0.0 < cutoff < 0.5:
        raise ValueError(f"cutoff must be a fraction of the sample rate in (0, 0.5), got {cutoff}")
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    n = x.shape[-1]
    n_fft = n + math.ceil(4.0 / cutoff)
    freqs = torch.fft.rfftfreq(n_fft, device=x.device, dtype=torch.float64)
    ratio = (cutoff / freqs[1:]) ** (2 * order)
    gain = torch.cat([freqs.new_zeros(1), (1.0 + ratio).rsqrt()]).to(x.dtype)
    return torch.fft.irfft(torch.fft.rfft(x, n_fft) * gain, n_fft)[..., :n]


@full_precision(transforms=("vmap", "grad"))
def frame_rms(
    x: torch.Tensor,
    hop_length: int,
    frames: int,
    window_hops: int = 4,
    floor_db: float = -80.0,
    highpass: float = 0.0,
) -> torch.Tensor:
    """RMS of ``x`` over ``window_hops * hop_length`` samples centred on each frame, floored
    ``floor_db`` below the example's loudest frame.

    ``highpass > 0`` (a fraction of the sample rate) measures the level of
    :func:`butterworth_highpass` ``(x, highpass)`` instead: rumble, DC and mains hum below a
    voice's lowest f0 then do not count. A vocoder scaled by this level does not spread a
    recording's sub-f0 rumble over the voice band (on quiet English recordings that rumble is
    20 dB above the voice band in the pauses, and the full-band level made them 7 dB too loud).

    Frame ``t`` is centred at sample ``t * hop_length`` (as the STFT and f0 grids); the signal is
    zero-padded at the edges. The floor is relative, so ``frame_rms(c * x) = c * frame_rms(x)``
    exactly, silences included: a gain track that makes a model's level follow its input's by
    construction (:class:`ddsp.models.VocoderModule`, ``level="frame"``). An all-zero example
    gets 1e-10.

    Shape:
        ``x: (batch, time)`` -> ``(batch, frames)``.
    """
    if highpass > 0.0:
        x = butterworth_highpass(x, highpass)
    width = window_hops * hop_length
    power = F.avg_pool1d(
        x.square().unsqueeze(1), width, hop_length, padding=width // 2, count_include_pad=True
    ).squeeze(1)
    if power.shape[-1] < frames:
        power = F.pad(power, (0, frames - power.shape[-1]), mode="replicate")
    power = power[..., :frames]
    floor = power.amax(dim=-1, keepdim=True) * 10.0 ** (floor_db / 10.0)
    return torch.maximum(power, floor).clamp_min(1e-20).sqrt()

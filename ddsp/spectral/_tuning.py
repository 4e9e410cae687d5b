"""Tuning estimation, ``librosa.estimate_tuning``: how far a recording's partials sit from
equal temperament at A4 = 440 Hz, in fractions of a bin (what ``cqt(..., tuning=None)`` uses).

Peaks of the magnitude STFT (``piptrack``: local maxima above a fraction of each frame's
maximum, between ``f_min`` and ``f_max``, refined by parabolic interpolation), the loudest half
of them kept, and the most common deviation from the nearest bin in a histogram of
``resolution``-wide bins (``pitch_tuning``).
"""

from __future__ import annotations

import math
import warnings

import torch

from . import _checks
from ._stft import magnitude, stft

__all__ = ["piptrack", "pitch_tuning", "estimate_tuning"]


def _parabolic_shift(s: torch.Tensor) -> torch.Tensor:
    """Offset of the parabola through each bin and its neighbours (0 where it would leave
    ``[-1, 1]``, and at the edges), along ``dim=-2``."""
    shift = torch.zeros_like(s)
    left, mid, right = s[..., :-2, :], s[..., 1:-1, :], s[..., 2:, :]
    a = right + left - 2 * mid
    b = (right - left) / 2
    inner = torch.where(b.abs() >= a.abs(), torch.zeros_like(a), -b / a)
    shift[..., 1:-1, :] = inner
    return shift


def _local_max(s: torch.Tensor) -> torch.Tensor:
    """``s[k] > s[k-1]`` and ``s[k] >= s[k+1]`` along ``dim=-2`` (the first bin never, the last
    when above its neighbour), as ``librosa.util.localmax``."""
    peak = torch.zeros_like(s, dtype=torch.bool)
    peak[..., 1:-1, :] = (s[..., 1:-1, :] > s[..., :-2, :]) & (s[..., 1:-1, :] >= s[..., 2:, :])
    peak[..., -1, :] = s[..., -1, :] > s[..., -2, :]
    return peak


def piptrack(
    x: torch.Tensor,
    sample_rate: float = 22050,
    n_fft: int = 2048,
    hop_length: int | None = None,
    f_min: float = 150.0,
    f_max: float = 4000.0,
    threshold: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pitches and magnitudes of the spectral peaks, ``librosa.piptrack`` (Hann window, centred
    zero-padded frames, ``ref = max`` per frame).

    Args:
        x: ``(..., time)`` real signal.
        hop_length: default ``n_fft // 4``.
        f_min, f_max: the band searched, Hz.
        threshold: peaks below ``threshold`` times their frame's maximum are ignored.

    Returns:
        ``(pitches, magnitudes)``, each ``(..., n_fft // 2 + 1, frames)``: the interpolated
        frequency (Hz) and magnitude of each peak, 0 elsewhere.
    """
    _checks.signal(x)
    sample_rate = _checks.sample_rate(sample_rate)
    n_fft = _checks.positive_int("n_fft", n_fft)
    hop = _checks.positive_int("hop_length", hop_length, none_ok=True) or n_fft // 4
    s = magnitude(stft(x, n_fft, hop, window="hann", center=True, pad_mode="constant"))
    f_min, f_max = max(f_min, 0.0), min(f_max, sample_rate / 2)
    freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64, device=s.device) * (
        sample_rate / n_fft
    )
    band = ((freqs >= f_min) & (freqs < f_max))[:, None]
    shift = _parabolic_shift(s)
    slope = torch.zeros_like(s)  # numpy.gradient along frequency
    slope[..., 1:-1, :] = (s[..., 2:, :] - s[..., :-2, :]) / 2
    slope[..., 0, :] = s[..., 1, :] - s[..., 0, :]
    slope[..., -1, :] = s[..., -1, :] - s[..., -2, :]
    ref = threshold * s.amax(dim=-2, keepdim=True)
    peaks = band & _local_max(s * (s > ref))
    bins = torch.arange(s.shape[-2], dtype=s.dtype, device=s.device)[:, None]
    pitches = torch.where(peaks, (bins + shift) * (sample_rate / n_fft), torch.zeros_like(s))
    mags = torch.where(peaks, s + 0.5 * slope * shift, torch.zeros_like(s))
    return pitches, mags


def pitch_tuning(
    frequencies: torch.Tensor, resolution: float = 0.01, bins_per_octave: int = 12
) -> float:
    """The most common deviation of ``frequencies`` (Hz, any shape; zeros ignored) from equal
    temperament at A4 = 440 Hz, in fractions of a bin in ``[-0.5, 0.5)``: the left edge of the
    fullest of ``ceil(1 / resolution)`` histogram bins (``librosa.pitch_tuning``). 0.0, with a
    warning, when no frequency is positive."""
    if not 0 < resolution < 1:
        raise ValueError(f"resolution must be in (0, 1), got {resolution}")
    _checks.positive_int("bins_per_octave", bins_per_octave)
    f = frequencies.detach().reshape(-1).to(torch.float64)
    f = f[f > 0]
    if f.numel() == 0:
        warnings.warn("Trying to estimate tuning from empty frequency set.", stacklevel=2)
        return 0.0
    residual = torch.remainder(bins_per_octave * torch.log2(f / (440.0 / 16)), 1.0)
    residual = torch.where(residual >= 0.5, residual - 1.0, residual)
    n = math.ceil(1.0 / resolution)
    # the edges as numpy.linspace computes them (torch.linspace rounds some differently)
    edges = torch.arange(n + 1, dtype=torch.float64, device=f.device) * (1.0 / n) - 0.5
    edges[-1] = 0.5
    index = (torch.bucketize(residual, edges, right=True) - 1).clamp(0, n - 1)
    counts = torch.bincount(index, minlength=n)
    return float(edges[int(torch.argmax(counts))])  # the first fullest bin, as numpy


def estimate_tuning(
    x: torch.Tensor,
    sample_rate: float = 22050,
    n_fft: int = 2048,
    resolution: float = 0.01,
    bins_per_octave: int = 12,
    **kwargs,
) -> float:
    """Tuning of ``x`` in fractions of a bin (``librosa.estimate_tuning``): :func:`pitch_tuning`
    of the :func:`piptrack` peaks at least as loud as their median. One value for all of ``x``
    (every example and channel pooled, as librosa does for multichannel audio).

    Args:
        x: ``(..., time)`` real signal.
        kwargs: :func:`piptrack`'s ``hop_length``, ``f_min``, ``f_max``, ``threshold``.

    Returns:
        a float in ``[-0.5, 0.5)``.
    """
    pitch, mag = piptrack(x.detach(), sample_rate, n_fft, **kwargs)
    voiced = pitch > 0
    floor = mag.new_zeros(())
    if voiced.any():  # numpy's median: the mean of the middle two of an even count
        values = mag[voiced].sort().values
        floor = (values[(values.numel() - 1) // 2] + values[values.numel() // 2]) / 2
    return pitch_tuning(pitch[(mag >= floor) & voiced], resolution, bins_per_octave)

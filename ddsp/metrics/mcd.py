"""Mel-cepstral distortion, with mel-cepstra as pysptk's ``sp2mc`` (and SPTK's ``freqt``)."""

from __future__ import annotations

import functools
import math

import torch

from ..losses.stft import check_pair
from ..precision import full_precision
from ..spectral import functional as SF

__all__ = ["freqt_matrix", "mel_cepstrum", "mel_cepstral_distortion", "ALPHA"]

# all-pass constants that approximate the mel scale (SPTK's usual values)
ALPHA = {8000: 0.31, 16000: 0.42, 22050: 0.45, 24000: 0.46, 32000: 0.50, 44100: 0.53, 48000: 0.55}


@functools.lru_cache(maxsize=16)
def freqt_matrix(in_length: int, order: int, alpha: float) -> torch.Tensor:
    """SPTK's ``freqt`` (frequency warping of a cepstrum by an all-pass of constant ``alpha``)
    as a matrix: the recursion run on all unit vectors at once (it is linear).

    Returns:
        ``(order + 1, in_length)`` float64: ``warped = M @ cepstrum``.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ValueError(f"order must be an int >= 0, got {order!r}")
    if not -1 < alpha < 1:  # NaN too: an all-pass needs |alpha| < 1
        raise ValueError(f"alpha must be in (-1, 1), got {alpha!r}")
    b = 1 - alpha * alpha
    g = torch.zeros(order + 1, in_length, dtype=torch.float64)
    for i in range(in_length - 1, -1, -1):
        d = g.clone()
        g[0] = alpha * d[0]
        g[0, i] += 1.0
        if order >= 1:
            g[1] = b * d[0] + alpha * d[1]
        for j in range(2, order + 1):
            g[j] = d[j - 1] + alpha * (d[j] - g[j - 1])
    return g


@full_precision
def mel_cepstrum(
    x: torch.Tensor,
    order: int = 34,
    alpha: float = 0.46,
    n_fft: int = 512,
    hop_length: int = 120,
    eps: float = 1e-10,
) -> torch.Tensor:
    """Mel-cepstra of Hann-windowed STFT frames, as ``pysptk.sp2mc(|X|^2, order, alpha)``:
    the real cepstrum of the log power spectrum (``c[0]`` halved) warped by ``freqt``.

    Shape: ``(..., time)`` -> ``(..., frames, order + 1)``.
    """
    power = SF.magnitude(SF.stft(x, n_fft, hop_length, window="hann"), 2.0).clamp_min(eps)
    c = torch.fft.irfft(torch.log(power).transpose(-1, -2), n=n_fft)  # (..., frames, n_fft)
    c = torch.cat([c[..., :1] / 2, c[..., 1:]], dim=-1)
    return c @ freqt_matrix(n_fft, order, float(alpha)).to(c.dtype).T


@full_precision
def mel_cepstral_distortion(pred: torch.Tensor, target: torch.Tensor, **kwargs) -> torch.Tensor:
    """MCD in dB: ``10 sqrt(2) / ln 10`` x the mean over frames of the Euclidean distance between
    mel-cepstra, all coefficients including c0 (as GOLF reports it).

    Shape: ``(batch, time)`` -> ``(batch,)``. ``kwargs`` go to :func:`mel_cepstrum`.
    """
    # one shape, dtype and finite values (a length mismatch failed in the subtraction)
    check_pair(pred, target, kwargs.get("n_fft", 512))
    d = mel_cepstrum(pred, **kwargs) - mel_cepstrum(target, **kwargs)
    # vector_norm's gradient is 0 where a frame's distance is 0 (frames silent in both, or
    # equal); square().sum().sqrt() gave NaN there, which spread through the whole gradient
    return 10 * math.sqrt(2) / math.log(10) * torch.linalg.vector_norm(d, dim=-1).mean(-1)

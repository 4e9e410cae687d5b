"""Fourier kernels for the matmul ("conv") STFT path (re-exported by ``functional``).

A strided ``conv1d`` with ``n_bins`` cosine and sine kernels of length ``n_fft`` (nnAudio's
trainable STFT) is the same linear map as multiplying the ``(frames, n_fft)`` matrix of
unfolded frames by an ``(n_fft, n_bins)`` kernel matrix; the matmul is what runs here.
"""

from __future__ import annotations

import math

import torch

from ..precision import full_precision
from . import _checks
from ._stft import frames, get_window


def frequency_bins(
    n_fft: int,
    freq_scale: str = "no",
    f_min: float = 0.0,
    f_max: float | None = None,
    n_bins: int | None = None,
    sample_rate: float | None = None,
) -> torch.Tensor:
    """Fractional FFT-bin positions ``(n_bins,)`` (float64) for a bin layout (nnAudio's).

    Args:
        freq_scale: ``"no"``: the ``n_fft // 2 + 1`` FFT bins; ``"linear"``: ``n_bins``
            bins from ``f_min`` in equal steps of ``(f_max - f_min) / n_bins``; ``"log"``:
            ``n_bins`` bins from ``f_min`` in equal ratios ``(f_max / f_min) ** (1 / n_bins)``.
        f_min, f_max: Hz (``f_max`` defaults to Nyquist); need ``sample_rate``.

    Returns:
        bin positions ``k`` (frequency ``k * sample_rate / n_fft``).
    """
    if freq_scale == "no":
        return torch.arange(n_fft // 2 + 1, dtype=torch.float64)
    if freq_scale not in ("linear", "log"):
        raise ValueError(f"freq_scale must be 'no', 'linear' or 'log', got {freq_scale!r}")
    if sample_rate is None:
        raise ValueError(f"freq_scale={freq_scale!r} needs sample_rate")
    _checks.sample_rate(sample_rate)
    f_max = _checks.band(f_min, f_max, sample_rate)
    n_bins = n_fft // 2 + 1 if n_bins is None else _checks.positive_int("n_bins", n_bins)
    start = f_min * n_fft / sample_rate
    k = torch.arange(n_bins, dtype=torch.float64)
    if freq_scale == "linear":
        return start + k * (f_max - f_min) * n_fft / sample_rate / n_bins
    if freq_scale == "log":
        if f_min <= 0:
            raise ValueError("freq_scale='log' needs f_min > 0")
        return start * torch.exp(k * math.log(f_max / f_min) / n_bins)
    raise ValueError(f"freq_scale must be 'no', 'linear' or 'log', got {freq_scale!r}")


def fourier_kernels(
    n_fft: int,
    bins: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unwindowed DFT kernels ``cos(2 pi k n / n_fft)`` and ``-sin(2 pi k n / n_fft)``.

    Args:
        bins: ``(n_bins,)`` fractional bin positions (default: the FFT bins).

    Returns:
        ``(n_fft, n_bins)`` real and imaginary parts (sign as ``torch.fft.rfft``).
    """
    bins = frequency_bins(n_fft) if bins is None else bins.to(torch.float64)
    n = torch.arange(n_fft, dtype=torch.float64)
    # reduce k n mod n_fft in exact integer arithmetic where possible, for accuracy
    if bool((bins == bins.round()).all()):
        arg = (n[:, None].long() * bins[None, :].long()) % n_fft
        angle = 2 * math.pi * arg.double() / n_fft
    else:
        angle = 2 * math.pi * n[:, None] * bins[None, :] / n_fft
    return torch.cos(angle).to(dtype), (-torch.sin(angle)).to(dtype)


@full_precision
def stft_matmul(
    x: torch.Tensor,
    kernel_re: torch.Tensor,
    kernel_im: torch.Tensor,
    hop_length: int,
    window: torch.Tensor | None = None,
    center: bool = True,
    pad_mode: str = "constant",
) -> torch.Tensor:
    """STFT by frame-matrix products with (possibly trainable) kernels.

    Args:
        x: ``(..., time)``.
        kernel_re, kernel_im: ``(n_fft, n_bins)``.
        window: optional ``(n_fft,)`` window applied to the frames (kept apart from the
            kernels so that either can be trained).

    Returns:
        ``(..., n_bins, frames)`` complex.
    """
    n_fft = kernel_re.shape[0]
    _checks.signal(x)
    _checks.warn_if_longer(n_fft, x.shape[-1])
    batch = x.shape[:-1]
    f = frames(x, n_fft, hop_length, center, pad_mode)  # (B, frames, n_fft)
    if window is not None:
        f = f * window
    spec = torch.complex(f @ kernel_re, f @ kernel_im).transpose(-1, -2)
    return spec.reshape(*batch, *spec.shape[-2:])


def padded_window(window, win_length: int, n_fft: int) -> torch.Tensor:
    """:func:`get_window` in float64 (name or tensor), centred in ``n_fft``: ``(n_fft,)``."""
    return get_window(window, win_length, n_fft, dtype=torch.float64)

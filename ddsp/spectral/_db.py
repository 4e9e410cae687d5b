"""Decibels and A-weighting (re-exported by :mod:`ddsp.spectral.functional`)."""

from __future__ import annotations

import math

import torch


def power_to_db(
    s: torch.Tensor,
    ref: float = 1.0,
    amin: float = 1e-10,
    top_db: float | None = 80.0,
    peak_dims: int = 2,
    inplace: bool = False,
) -> torch.Tensor:
    """``10 log10(max(amin, S) / ref)`` with an optional floor at ``max - top_db`` (librosa).

    Unlike librosa, which floors by the maximum of the whole array, the floor here is taken
    per example: the peak is over the trailing ``peak_dims`` dimensions (default 2:
    ``(freq, frames)``; ``s.dim()`` for librosa's whole-array peak).

    Args:
        s: ``(..., freq, frames)`` power spectrogram.
        inplace: overwrite ``s`` with the result (no autograd through it; a fresh
            spectrogram nobody else reads, as in :class:`ddsp.spectral.MFCC` without
            gradients).

    Returns:
        same shape, in dB.
    """
    if amin <= 0:
        raise ValueError(f"amin must be positive, got {amin!r}")
    if isinstance(peak_dims, bool) or not isinstance(peak_dims, int) or peak_dims < 1:
        raise ValueError(f"peak_dims must be a positive int (trailing dims), got {peak_dims!r}")
    offset = 10.0 * math.log10(max(amin, ref))
    if inplace:
        db = s.clamp_min_(amin).log10_().mul_(10.0)
        db = db.sub_(offset) if offset else db
    else:
        db = 10.0 * torch.log10(s.clamp_min(amin)) - offset
    if top_db is not None:
        dims = tuple(range(-min(peak_dims, db.dim()), 0))
        peak = db.detach().amax(dim=dims, keepdim=True)
        db = (
            torch.maximum(db, peak - top_db, out=db)
            if inplace
            else torch.maximum(db, peak - top_db)
        )
    return db


def a_weighting_db(freqs: torch.Tensor, min_db: float = -80.0) -> torch.Tensor:
    """A-weighting in dB at the given frequencies (IEC 61672, as ``librosa.A_weighting``).

    Args:
        freqs: ``(n,)`` frequencies in Hz.

    Returns:
        ``(n,)`` weights in dB, floored at ``min_db``.
    """
    f2 = freqs.to(torch.float64).square()
    c = torch.tensor([12194.217, 20.598997, 107.65265, 737.86223], dtype=torch.float64).square()
    w = 2.0 + 20.0 * (
        torch.log10(c[0])
        + 2 * torch.log10(f2.clamp_min(1e-30))
        - torch.log10(f2 + c[0])
        - torch.log10(f2 + c[1])
        - 0.5 * torch.log10(f2 + c[2])
        - 0.5 * torch.log10(f2 + c[3])
    )
    return w.clamp_min(min_db).to(freqs.dtype if freqs.is_floating_point() else torch.float64)


def amplitude_to_db(
    s: torch.Tensor,
    ref: float = 1.0,
    amin: float = 1e-5,
    top_db: float | None = 80.0,
    peak_dims: int = 2,
) -> torch.Tensor:
    """``20 log10(max(amin, S) / ref)``: :func:`power_to_db` of ``S ** 2`` (librosa).

    Args:
        s: ``(..., freq, frames)`` magnitude spectrogram.

    Returns:
        same shape, in dB; the ``top_db`` floor is per example, as in :func:`power_to_db`.
    """
    return power_to_db(s.square(), ref * ref, amin * amin, top_db, peak_dims)

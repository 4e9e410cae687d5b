"""Frequency warping of all-pole filters: monotone piecewise-linear warps of ``[0, pi]``, and
refitting an all-pole filter of the same order to its warped power response."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .analysis import levinson_durbin

__all__ = ["piecewise_linear", "warp_allpole"]


def piecewise_linear(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Batched ``numpy.interp``: the line through ``(xp, fp)`` at ``x`` (``xp`` increasing;
    beyond its ends, the end segments extended). A zero-width segment (repeated ``xp``) is a
    jump.

    Shape: ``x (..., n)``, ``xp, fp (..., k)`` (broadcast) -> ``(..., n)``.
    """
    if xp.shape[-1] < 2 or xp.shape[-1] != fp.shape[-1]:
        raise ValueError(
            f"piecewise_linear: xp and fp need the same number (>= 2) of points, got "
            f"{xp.shape[-1]} and {fp.shape[-1]}"
        )
    shape = torch.broadcast_shapes(x.shape[:-1], xp.shape[:-1], fp.shape[:-1])
    x = x.expand(*shape, x.shape[-1]).contiguous()
    xp = xp.expand(*shape, xp.shape[-1]).contiguous()
    fp = fp.expand(*shape, fp.shape[-1])
    j = (torch.searchsorted(xp, x, right=True) - 1).clamp(0, xp.shape[-1] - 2)
    x0, x1 = xp.gather(-1, j), xp.gather(-1, j + 1)
    f0, f1 = fp.gather(-1, j), fp.gather(-1, j + 1)
    return f0 + (x - x0) * (f1 - f0) / (x1 - x0).clamp_min(1e-12)


def warp_allpole(
    a: torch.Tensor,
    inverse_warp: Callable[[torch.Tensor], torch.Tensor],
    n_freqs: int = 512,
    chunk: int = 256,
) -> torch.Tensor:
    """The all-pole filter of the same order whose power response is ``a``'s, frequency-warped:
    ``P'(w) = P(inverse_warp(w))``, i.e. a feature of ``P`` at ``v`` moves to ``warp(v)``.

    ``P`` is evaluated exactly at the warped frequencies (``n_freqs + 1`` points on
    ``[0, pi]``), its inverse DFT gives the autocorrelation, and Levinson-Durbin the
    coefficients (the autocorrelation method: minimum phase, so stable). Float64 inside.

    Args:
        a: ``(..., order)`` LPC (``A(z) = 1 + sum a_i z^-i``).
        inverse_warp: maps ``w (..., n_freqs + 1)`` radians (broadcast against ``a``'s
            leading dims) to the source frequencies in ``[0, pi]``.

    Shape: ``(..., order)`` -> ``(..., order)`` in ``a``'s dtype.
    """
    order = a.shape[-1]
    lead = a.shape[:-1]
    w = torch.arange(n_freqs + 1, dtype=torch.float64, device=a.device) * (math.pi / n_freqs)
    src = inverse_warp(w.expand(*lead, n_freqs + 1)).reshape(-1, n_freqs + 1)
    flat = torch.nn.functional.pad(a.double().reshape(-1, order), (1, 0), value=1.0)
    k = torch.arange(order + 1, dtype=torch.float64, device=a.device)
    out = []
    for i in range(0, flat.shape[0], chunk):
        phase = src[i : i + chunk].unsqueeze(-1) * k  # (c, n + 1, order + 1)
        coef = flat[i : i + chunk].unsqueeze(-2)
        re, im = (torch.cos(phase) * coef).sum(-1), (torch.sin(phase) * coef).sum(-1)
        power = 1.0 / (re.square() + im.square()).clamp_min(1e-300)
        r = torch.fft.irfft(power, n=2 * n_freqs)[..., : order + 1]
        out.append(levinson_durbin(r, order)[0])
    return torch.cat(out).reshape(*lead, order).to(a.dtype)

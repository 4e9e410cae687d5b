"""LPC analysis: autocorrelation method + Levinson-Durbin, batched and differentiable."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import dsp
from ..precision import full_precision
from ..spectral import _checks
from ..spectral.functional import get_window

__all__ = ["autocorrelation", "levinson_durbin", "lpc_analysis"]


def autocorrelation(x: torch.Tensor, max_lag: int) -> torch.Tensor:
    """Biased autocorrelation ``r[l] = sum_n x[n] x[n + l]`` for ``l = 0..max_lag`` (via FFT).

    Shape: ``(..., n)`` -> ``(..., max_lag + 1)``.
    """
    n = x.shape[-1]
    size = 1 << (n + max_lag).bit_length()
    spec = torch.fft.rfft(x, size)
    r = torch.fft.irfft(spec.real.square() + spec.imag.square(), size)
    return r[..., : max_lag + 1]


def _check_energy(r0: torch.Tensor) -> None:
    """``r[..., 0] > 0`` everywhere (a silent frame divides by zero: NaN coefficients)."""
    if dsp.reads_skipped(r0):
        return
    ok = r0.detach() > 0  # NaN fails too
    if not dsp.host_reads_free(r0):
        dsp.device_assert(ok.all(), "levinson_durbin: r[..., 0] must be > 0")
        return
    if not bool(ok.all()):
        i = int(torch.nonzero(~ok.reshape(-1))[0])
        raise ValueError(
            f"levinson_durbin: r[..., 0] (the frame energy) must be > 0, got "
            f"{float(r0.reshape(-1)[i])} at flat index {i} of shape {tuple(r0.shape)}; for "
            "silent frames floor it first (lpc_analysis does: r[..., 0].clamp_min(tiny) gives "
            "a = 0)"
        )


def levinson_durbin(
    r: torch.Tensor, order: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Solve the Toeplitz normal equations for ``A(z) = 1 + sum a_i z^-i``.

    Args:
        r: ``(..., >= order + 1)`` autocorrelation (``r[0] > 0``).
        order: prediction order (default ``r.shape[-1] - 1``).

    Returns:
        ``a (..., order)``, reflection coefficients ``k (..., order)`` and the prediction
        error energy ``(...)``.
    """
    order = r.shape[-1] - 1 if order is None else order
    if r.shape[-1] < order + 1:
        raise ValueError(f"need {order + 1} autocorrelation lags, got {r.shape[-1]}")
    _check_energy(r[..., 0])
    err = r[..., 0]
    a = r.new_zeros(r.shape[:-1] + (0,))
    ks = []
    for m in range(1, order + 1):
        acc = r[..., m] + (a * r[..., 1:m].flip(-1)).sum(-1)
        k = -acc / err
        a = torch.cat([a + k.unsqueeze(-1) * a.flip(-1), k.unsqueeze(-1)], dim=-1)
        err = err * (1 - k * k)
        ks.append(k)
    return a, torch.stack(ks, -1), err


@full_precision(transforms=("vmap", "grad"))
def lpc_analysis(
    x: torch.Tensor,
    order: int,
    frame_length: int,
    hop_length: int,
    window: str = "hann",
    center: bool = True,
    preemphasis: float | None = None,
    lag_window_hz: float | None = None,
    sample_rate: float | None = None,
    white_noise_db: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Frame-wise LPC by the autocorrelation method.

    Args:
        x: ``(..., time)``.
        order: LPC order.
        frame_length, hop_length, window, center: framing (``center`` pads with zeros).
        preemphasis: ``x[t] - p x[t-1]`` before analysis (e.g. 0.97).
        lag_window_hz: Gaussian lag window of this bandwidth (needs ``sample_rate``):
            ``r[l] *= exp(-0.5 (2 pi f l / sr)^2)``, smoothing sharp formant peaks.
        white_noise_db: add ``r[0] * 10^(db/10)`` to ``r[0]`` (conditioning; e.g. -40).

    Returns:
        ``a (..., frames, order)``, ``k (..., frames, order)``, ``error (..., frames)`` with
        ``frames = time // hop_length + 1`` when centred.
    """
    _checks.signal(x, "x")
    if preemphasis:
        x = torch.cat([x[..., :1], x[..., 1:] - preemphasis * x[..., :-1]], dim=-1)
    if center:
        pad = frame_length // 2
        x = F.pad(x.reshape(-1, 1, x.shape[-1]), (pad, pad)).reshape(*x.shape[:-1], -1)
    frames = x.unfold(-1, frame_length, hop_length)
    frames = frames * get_window(window, frame_length, dtype=x.dtype, device=x.device)
    r = autocorrelation(frames, order)
    if lag_window_hz is not None:
        if sample_rate is None:
            raise ValueError("lag_window_hz needs sample_rate")
        lags = torch.arange(order + 1, dtype=x.dtype, device=x.device)
        r = r * torch.exp(-0.5 * (2 * math.pi * lag_window_hz * lags / sample_rate) ** 2)
    if white_noise_db is not None:
        r = torch.cat([r[..., :1] * (1 + 10 ** (white_noise_db / 10)), r[..., 1:]], dim=-1)
    tiny = torch.finfo(x.dtype).tiny
    r = torch.cat([r[..., :1].clamp_min(tiny), r[..., 1:]], dim=-1)  # silent frames: a = 0
    return levinson_durbin(r, order)

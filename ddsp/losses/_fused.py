"""The common case of :class:`~ddsp.losses.STFTLoss` as one autograd function.

Spectral convergence + smoothed-L1 log and linear magnitude distances between a prediction's
spectrum ``X`` and a fixed target's ``Y`` (no scaling, weighting or scale invariance), with the
floors of :meth:`STFTLoss.floored_power`. Autograd through the ~25 elementwise ops of the
general path keeps a tensor per op and makes a pass per op forward and backward. Here the
forward computes ``|X|^2`` and then, in one compiled loop, the losses per example (and the two
norms of spectral convergence), keeping nothing else the size of the spectrum; the backward
recomputes the per-bin quantities from ``|X|^2`` and ``|Y|^2`` and returns ``dL/d|X|^2``, with
every term's derivative folded into one per-bin factor, which one product turns into
``dL/dX``. Recomputing two square roots, a ``log1p`` and a few divisions costs less than
writing and reading back five spectrum-sized tensors and faulting in their fresh pages
(GOLF preset, 16 x 64,000, one thread: the whole loss 15-25 % faster than keeping them).
Under ``create_graph`` the backward recomputes from ``X`` by differentiable ops, so second
derivatives are the loss's own. Same values and gradients as the general path
(``tests/test_losses.py`` checks both, with ``gradcheck`` and ``gradgradcheck`` in float64).

Derivation (per bin; ``s = |X|^2 + f_x`` with the per-frame floor ``f_x = c mean_f |X|^2`` or
``eps``, ``t`` the same for ``Y``; ``x = sqrt s``, ``y = sqrt t``; ``d = x - y``;
``r = log(x / y)``): ``dd/ds = 1 / (2x)``, ``dr/ds = 1 / (2s)``; the smoothed L1 ``h(d, w)``
with width ``w = delta (x + y) / 2`` adds ``h_w delta / 2`` to ``h_d``; a floor above ``eps``
passes ``c / F`` of its frame's summed ``dL/ds`` to every bin; ``dL/dX = 2 dL/d|X|^2 X``.

Around the compiled loops, ``|X|^2`` and the product ``dL/d|X|^2 X`` are one C++ pass each on
float32 CPU spectra (:func:`ddsp.spectral._power_cpu.spectrum_times`; torch took two passes for
each, and converted the real factor to a complex tensor first): the same products and sums,
the same bits; 8-15 % faster steps at each preset (one-process A/B, 16 x 64,000).

The compiled functions take frame-major views, ``(B, C, frames, F)`` (the layout the STFT
writes), so the per-frame floors reduce over the contiguous dimension.
"""

from __future__ import annotations

import torch

from ..dsp import compiled
from ..spectral import _power_cpu

__all__ = ["fused_stft_terms", "power", "smooth_l1"]


def smooth_l1(d: torch.Tensor, delta: torch.Tensor | float) -> torch.Tensor:
    """``|d|`` where ``|d| >= delta``; inside, ``2 d^2 / delta - |d|^3 / delta^2``, which meets it
    with equal value and slope and is 0 with slope 0 at ``d = 0``. The gradient is continuous, so
    a difference within rounding of zero cannot flip it from -1 to +1. ``delta`` broadcasts."""
    a = d.abs()
    return torch.where(a < delta, a * a * (2.0 - a / delta) / delta, a)


def _smooth_grads(d: torch.Tensor, w) -> tuple[torch.Tensor, torch.Tensor]:
    """``(dh/dd, dh/dw)`` of :func:`smooth_l1`."""
    a = d.abs()
    inside = a < w
    q = a / w
    dd = torch.where(inside, d * (4.0 - 3.0 * q) / w, torch.sign(d))
    dw = torch.where(inside, q * q * (2.0 * q - 2.0), 0.0)
    return dd, dw


def _bins(px: torch.Tensor, py: torch.Tensor, rel: float | None, eps: float):
    """Per bin, from ``|X|^2`` and ``|Y|^2`` (``(..., F)``): the floored powers ``s, t``,
    magnitudes ``x, y``, ``dp = s - t`` formed without cancellation, and where ``|X|^2`` has a
    gradient (per bin when clamped, per frame through a soft floor)."""
    if rel is None:  # clamped powers (auraloss): no cancellation to avoid
        s, t = px.clamp_min(eps), py.clamp_min(eps)
        return s, t, s.sqrt(), t.sqrt(), s - t, px > eps
    fx = px.mean(dim=-1, keepdim=True) * rel
    fy = py.mean(dim=-1, keepdim=True) * rel
    s, t = px + fx.clamp_min(eps), py + fy.clamp_min(eps)
    # (px - py) + (fx - fy): the small powers' difference survives the floors
    dp = (px - py) + ((s - px) - (t - py))
    return s, t, s.sqrt(), t.sqrt(), dp, fx > eps


def _log_ratio(s: torch.Tensor, t: torch.Tensor, dp: torch.Tensor) -> torch.Tensor:
    """``log(sqrt(s / t))`` given ``dp = s - t`` formed without cancellation, as one ``log1p``
    of a non-negative argument: ``sign(dp) log1p(|dp| / min(s, t)) / 2`` (``log(s / t)`` loses
    a small difference to rounding; ``log1p(dp / t)`` loses a large ratio below 1)."""
    return 0.5 * torch.sign(dp) * torch.log1p(dp.abs() / torch.minimum(s, t))


def _forward(px, py, w_sc: float, w_log: float, w_lin: float, rel, eps: float, delta: float):
    """The loss per example ``(B,)`` and spectral convergence's two norms (``None`` without it)."""
    s, t, x, y, dp, _ = _bins(px, py, rel, eps)
    diff = dp / (x + y)
    n = diff[0].numel()
    loss = py.new_zeros(py.shape[0])
    nd = ny = None
    if w_sc:
        nd = torch.linalg.vector_norm(diff.flatten(1), dim=1)
        ny = torch.linalg.vector_norm(y.flatten(1), dim=1)
        loss = loss + w_sc * nd / ny
    if w_log:
        r = _log_ratio(s, t, dp)
        loss = loss + w_log * (smooth_l1(r, delta) if delta else r.abs()).flatten(1).sum(1) / n
    if w_lin:
        w = delta * (x + y) / 2 if delta else None
        loss = loss + w_lin * (smooth_l1(diff, w) if delta else diff.abs()).flatten(1).sum(1) / n
    return loss, nd, ny


def _backward(
    g, px, py, nd, ny, w_sc: float, w_log: float, w_lin: float, rel, eps: float, delta: float
):
    """``2 dL/d|X|^2`` per bin (the caller multiplies by ``X``), recomputing what it needs."""
    s, t, x, y, dp, live = _bins(px, py, rel, eps)
    diff = dp / (x + y)
    n = diff[0].numel()
    shape = (-1,) + (1,) * (x.dim() - 1)
    g = g.reshape(shape)
    # dL/ds per bin, as a multiple of 1 / (2x) (the derivative of x and of d)
    per_x = torch.zeros_like(x)
    if w_sc:
        per_x = per_x + (w_sc / (nd * ny).clamp_min(1e-30)).reshape(shape) * diff
    if w_lin:
        if delta:
            hd, hw = _smooth_grads(diff, delta * (x + y) / 2)
            per_x = per_x + (w_lin / n) * (hd + hw * (delta / 2))
        else:
            per_x = per_x + (w_lin / n) * torch.sign(diff)
    ds = per_x / (2.0 * x)
    if w_log:  # without smoothing only the sign of log(x / y), i.e. of dp, is needed
        hr = _smooth_grads(_log_ratio(s, t, dp), delta)[0] if delta else torch.sign(dp)
        ds = ds + (w_log / n) * hr / (2.0 * s)
    ds = ds * g
    if rel is None:  # clamped: no gradient below eps
        dpx = torch.where(live, ds, 0.0)
    else:
        share = ds.sum(dim=-1, keepdim=True) * (rel / x.shape[-1])  # the floor passes its share on
        dpx = ds + torch.where(live, share, 0.0)
    return 2.0 * dpx


# Eager, the terms are ~25 passes over memory forward and ~15 backward; compiled (one or two
# loops each, ddsp.dsp.compiled) several times faster. Small spectra (tests, one-off calls)
# stay eager: compiling takes seconds.
COMPILE_FROM = 1 << 18  # bins x frames x batch


def _run(name: str, fn, big: bool):
    return compiled(f"loss.{name}", fn) if big else fn


def _frame_major(p: torch.Tensor) -> torch.Tensor:
    """``(B, C, F, frames)`` -> a ``(B, C, frames, F)`` view (no copy)."""
    return p.transpose(-2, -1)


def power(z: torch.Tensor) -> torch.Tensor:
    """``|z|^2`` of a complex tensor, in its layout. Shape: same."""
    return torch.addcmul(z.real * z.real, z.imag, z.imag)


def _kernels(z: torch.Tensor) -> bool:
    """Whether the C++ spectrum kernels take ``z``: complex64, frame-major in memory, plain CPU."""
    return (
        z.dtype == torch.complex64
        and _frame_major(z).is_contiguous()
        and _power_cpu.usable(torch.view_as_real(z), 2.0)
    )


def _power(z: torch.Tensor) -> torch.Tensor:
    """:func:`power`, in one C++ pass where :func:`_kernels` holds (two passes in torch). The
    same products and sum. Shape: ``(B, C, F, frames)`` in frame-major memory -> the same."""
    if not _kernels(z):
        return power(z)
    fm = _frame_major(z)
    out = torch.empty(fm.shape, dtype=torch.float32)
    ri = torch.view_as_real(fm).reshape(-1, fm.shape[-1], 2)
    _power_cpu.spectrum_power(ri, out.view(-1, fm.shape[-1]), 2.0, 0.0)
    return _frame_major(out)


def _times(z: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """``z * d``, complex times real, in one C++ pass where :func:`_kernels` holds (torch first
    converts ``d`` to a complex tensor). Shape: ``(B, C, F, frames)`` frame-major, both."""
    if not (_kernels(z) and _frame_major(d).is_contiguous() and d.dtype == torch.float32):
        return z * d
    return _frame_major(_power_cpu.spectrum_times(_frame_major(z), _frame_major(d)))


class _Terms(torch.autograd.Function):
    # The compiled loops take the powers as real tensors: with the complex spectrum as
    # interleaved (re, im) pairs inductor gathers and scatters element by element (2-3x slower)
    @staticmethod
    def forward(ctx, x_spec, y, w_sc, w_log, w_lin, rel, eps, delta):
        px, py = _power(x_spec), (_power(y) if y.is_complex() else y)
        big = px.numel() >= COMPILE_FROM
        loss, nd, ny = _run("forward", _forward, big)(
            _frame_major(px), _frame_major(py), w_sc, w_log, w_lin, rel, eps, delta
        )
        ctx.save_for_backward(x_spec, px, py, nd, ny)
        ctx.args = (w_sc, w_log, w_lin, rel, eps, delta)
        return loss

    @staticmethod
    def backward(ctx, g):
        x_spec, px, py, nd, ny = ctx.saved_tensors
        big = px.numel() >= COMPILE_FROM and not torch.is_grad_enabled()
        if torch.is_grad_enabled():  # double backward: the same, from X by differentiable ops
            px = power(x_spec)
            _, nd, ny = _forward(_frame_major(px), _frame_major(py), *ctx.args)
        dpx = _run("backward", _backward, big)(
            g, _frame_major(px), _frame_major(py), nd, ny, *ctx.args
        )
        grad = (
            x_spec * _frame_major(dpx)
            if torch.is_grad_enabled()
            else _times(x_spec, _frame_major(dpx))
        )
        return grad, None, None, None, None, None, None, None


def fused_stft_terms(
    x_spec: torch.Tensor,
    y_spec: torch.Tensor,
    w_sc: float,
    w_log: float,
    w_lin: float,
    floor_db: float | None,
    eps: float,
    smooth_l1: float,
) -> torch.Tensor:
    """Per-example ``w_sc SC + w_log D(log) + w_lin D(lin)`` (natural log, L1 / smoothed L1).

    Shape: complex ``(B, C, F, frames)``; ``y_spec`` (without gradient) the same, or the
    target's power ``|Y|^2`` (real, same shape) -> ``(B,)``. Fastest when both are
    frame-major in memory (as :func:`ddsp.spectral.functional.stft` and ``stft_power`` write).
    """
    rel = None if floor_db is None else 10.0 ** (floor_db / 10.0)
    return _Terms.apply(
        x_spec, y_spec.detach(), float(w_sc), float(w_log), float(w_lin), rel, eps, smooth_l1
    )

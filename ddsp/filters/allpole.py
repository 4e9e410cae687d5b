"""Time-varying all-pole filtering on torchlpc's compiled recursion (DiffAPF gradients),
through the lean autograd function of :mod:`ddsp.filters.allpole_grad`."""

from __future__ import annotations

import torch

from ..dsp import device_assert, host_reads_free
from ..precision import full_precision
from . import _render_cpu, cascade_grad
from .allpole_grad import lpc_filter, lpc_filter_frames
from .interpolate import upsample

__all__ = ["allpole", "allpole_sos", "check_stable"]


def _check_dtype(name: str, t: torch.Tensor | None) -> None:
    if t is not None and (t.is_complex() or t.dtype not in (torch.float32, torch.float64)):
        hint = " (complex filtering is not supported: filter .real and .imag apart)"
        raise TypeError(
            f"allpole: {name} must be a real float32 or float64 tensor, got {t.dtype}"
            + (hint if t.is_complex() else "")
        )


def _check_samples(x: torch.Tensor) -> None:
    if x.dim() == 0 or x.shape[-1] == 0:
        raise ValueError(
            f"allpole: x must hold at least one sample on its last (time) axis, got shape "
            f"{tuple(x.shape)}"
        )


def _locate_nonfinite(name: str, t: torch.Tensor | None) -> None:
    if t is not None and not torch.isfinite(t).all():
        bad = torch.nonzero(~torch.isfinite(t).reshape(-1))[0].item()
        raise ValueError(
            f"allpole: {name} contains NaN or Inf (first at flat index {bad} of shape "
            f"{tuple(t.shape)})"
        )


def _is_batched(t: torch.Tensor) -> bool:
    """Inside ``torch.vmap`` (values cannot be inspected there)."""
    return torch._C._functorch.is_batchedtensor(t)


def _check_output(y: torch.Tensor, x, a, zi, checked_stability: bool) -> None:
    """NaN/Inf anywhere in the inputs reaches the output; one reduction over the output (far
    smaller than ``a``) finds it, and only then are the inputs searched for the culprit."""
    if _is_batched(y):
        return
    if not host_reads_free(y):  # an accelerator: no host stall per call
        device_assert(torch.isfinite(y.detach()).all(), "allpole: the output holds NaN or Inf")
        return
    if torch.isfinite(y.detach().sum()):
        return
    if torch.isfinite(y.detach()).all():
        return  # finite but so large that the sum overflowed
    for name, t in (("x", x), ("a", a), ("zi", zi)):
        _locate_nonfinite(name, t)
    if not checked_stability and a.shape[-1] > 0:
        check_stable(a)  # finite inputs, non-finite output: the filter blew up
    raise ValueError("allpole: the output overflowed to Inf/NaN (the filter is unstable)")


def check_stable(a: torch.Tensor) -> None:
    """Raise :class:`~ddsp.filters.UnstableFilterError` naming the first frame of ``a``
    (``(..., order)``, direct form) with a pole on or outside the unit circle (step-down /
    Schur-Cohn test in float64)."""
    from .lpc import UnstableFilterError, lpc_to_reflection

    k = lpc_to_reflection(a.detach().to(torch.float64))
    bad = ~(k.abs() < 1).all(dim=-1)  # NaN past an unstable step counts as unstable
    if bool(bad.any()):
        flat = int(torch.nonzero(bad.reshape(-1))[0])
        idx = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), bad.shape))
        row = k[idx]
        m = int(torch.nonzero(~(row.abs() < 1))[0])
        where = (
            f"a[{', '.join(map(str, idx))}] (of leading shape {tuple(bad.shape)})" if idx else "a"
        )
        raise UnstableFilterError(
            f"allpole: {where} is unstable: its "
            f"reflection coefficient k_{m + 1} = {float(row[m]):.4f} has |k| >= 1 (a pole on or "
            "outside the unit circle). Stable by construction: ddsp.filters.logits_to_reflection "
            "-> reflection_to_lpc, logits_to_lsf -> lsf_to_lpc, or biquads from "
            "logits_to_biquads with allpole_sos"
        )


@full_precision(transforms=("vmap", "grad"))
def allpole(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: torch.Tensor | None = None,
    return_zf: bool = False,
    hop_length: int | None = None,
    check_stability: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``y[t] = x[t] - sum_i a[t, i] y[t - i]`` with torchlpc's compiled filter and gradients.

    Args:
        x: ``(..., time)`` real signal, float32 or float64, CPU or CUDA.
        a: ``(..., time, order)`` per-sample coefficients; with ``hop_length``,
            ``(..., frames, order)`` (each frame's filter held for ``hop_length`` samples;
            interpolate in a stable domain first with :func:`ddsp.filters.interpolate_lpc`),
            ``(frames, order)`` sharing the frames across the batch; without ``hop_length`` and
            with fewer than ``x.dim() + 1`` dimensions, ``(..., order)`` for a time-invariant
            filter. Leading dimensions broadcast with x's.
        zi: ``(..., order)`` past outputs ``[y[-1], y[-2], ...]`` (as torchlpc; differentiable).
        return_zf: also return the final state ``[y[T-1], y[T-2], ...]``, ``(..., order)``:
            pass it as ``zi`` of the next block to filter a stream block by block.
        hop_length: samples per frame of ``a``.
        check_stability: first test every frame of ``a`` (step-down, float64) and raise
            :class:`~ddsp.filters.UnstableFilterError` naming the first unstable one.

    Stability: the recursion is only as stable as ``a``. Stable by construction are
    :func:`~ddsp.filters.reflection_to_lpc` of ``|k| < 1`` (e.g. from
    :func:`~ddsp.filters.logits_to_reflection`), :func:`~ddsp.filters.lsf_to_lpc` of
    interlaced line spectral frequencies, and biquads from
    :func:`~ddsp.filters.logits_to_biquads` (with :func:`allpole_sos`; at high orders the
    direct form of a stable product can become unstable after float32 rounding). An unstable
    filter whose output overflows raises an error naming the first unstable frame; one that
    stays finite is filtered as asked unless ``check_stability``.

    Errors: complex or non-float inputs (``TypeError``), NaN/Inf in any input, a ``zi`` whose
    last dimension is not the order, a ``hop_length`` that is not a positive integer or whose
    frames do not cover ``x``, shapes that do not broadcast (``ValueError``). Supports
    ``torch.func.jvp`` / forward-mode AD and ``torch.vmap``.

    Returns:
        ``(..., time)`` (and ``zf``).
    """
    for name, t in (("x", x), ("a", a), ("zi", zi)):
        _check_dtype(name, t)
    _check_samples(x)
    if check_stability:
        check_stable(a)
    out = _allpole(x, a, zi, return_zf, hop_length)
    _check_output(out[0] if return_zf else out, x, a, zi, check_stability)
    return out


def _allpole(x, a, zi, return_zf, hop_length):
    """:func:`allpole` without the finiteness checks (callers that checked already)."""
    t = x.shape[-1]
    hop = None  # coefficients held per frame: filtered without a per-sample copy
    if hop_length is not None:
        if isinstance(hop_length, bool) or not isinstance(hop_length, int) or hop_length < 1:
            raise ValueError(f"allpole: hop_length must be a positive int, got {hop_length!r}")
        if a.dim() < 2:
            raise ValueError(
                f"allpole: with hop_length, a must be (..., frames, order), got {tuple(a.shape)}"
            )
        if a.shape[-2] * hop_length != t:
            raise ValueError(
                f"allpole: a has {a.shape[-2]} frames x hop_length {hop_length} = "
                f"{a.shape[-2] * hop_length} samples, x has {t}"
            )
        hop = hop_length
    elif a.dim() <= x.dim():  # time-invariant (..., order): one frame held for all t samples
        a, hop = a.unsqueeze(-2), t
    if hop is None and a.shape[-2] != t:
        raise ValueError(
            f"allpole: a must be (..., {t}, order), (..., frames, order) with hop_length, or "
            f"(..., order); got {tuple(a.shape)} for x {tuple(x.shape)}"
        )
    order = a.shape[-1]
    if order < 1:
        raise ValueError(f"allpole: a must hold order >= 1 coefficients, got {tuple(a.shape)}")
    if zi is not None and (zi.dim() == 0 or zi.shape[-1] != order):
        raise ValueError(
            f"allpole: zi must be (..., order={order}) past outputs, got {tuple(zi.shape)}"
        )
    try:
        batch = torch.broadcast_shapes(
            x.shape[:-1], a.shape[:-2], *(() if zi is None else (zi.shape[:-1],))
        )
    except RuntimeError:
        raise ValueError(
            f"allpole: leading dimensions do not broadcast: x {tuple(x.shape[:-1])}, "
            f"a {tuple(a.shape[:-2])}"
            + ("" if zi is None else f", zi {tuple(zi.shape[:-1])}")
            + " (for per-frame coefficients pass hop_length)"
        ) from None
    xb = x.expand(*batch, t).reshape(-1, t)
    frames = a.shape[-2]
    ab = a.to(x.dtype).expand(*batch, frames, order).reshape(-1, frames, order).contiguous()
    zib = None if zi is None else zi.to(x.dtype).expand(*batch, order).reshape(-1, order)
    if hop is None:
        y = lpc_filter(xb.contiguous(), ab, zib)
    else:
        y = lpc_filter_frames(xb.contiguous(), ab, hop, zib)
    if not return_zf:
        return y.reshape(*batch, t)
    if t >= order:
        zf = y[:, -order:].flip(1)
    else:  # fewer samples than the order: the oldest state comes from zi
        prev = zib if zib is not None else y.new_zeros(y.shape[0], order)
        zf = torch.cat([y.flip(1), prev], dim=1)[:, :order]
    return y.reshape(*batch, t), zf.reshape(*batch, order)


@full_precision(transforms=("vmap", "grad"))
def allpole_sos(
    x: torch.Tensor,
    sos: torch.Tensor,
    zi: torch.Tensor | None = None,
    return_zf: bool = False,
    hop_length: int | None = None,
    sub_hop: int = 1,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Cascade of time-varying all-pole biquads ``1 / (1 + a1 z^-1 + a2 z^-2)``.

    With ``hop_length``, the per-frame ``(a1, a2)`` are interpolated linearly to every sample
    (with ``sub_hop > 1``: to every ``sub_hop``-th sample, each held that long, which saves the
    per-sample coefficient tensors);
    when every frame lies in the stability triangle (e.g. from
    :func:`ddsp.filters.logits_to_biquads`) so does every sample (the triangle is convex), and a
    pole-radius margin keeps that true after float32 rounding. Costs about the same as one
    direct-form filter of the same total order (measured in experiments/allpole_speed.py).
    On plain CPU tensors with ``hop_length`` the coefficients are interpolated inside C++
    recursions instead of as per-sample tensors: :mod:`ddsp.filters._render_cpu` without
    gradients, :mod:`ddsp.filters.cascade_grad` with them (zero initial state, no ``zf``).

    Why not the direct form of the product polynomial: at order 22, direct-form coefficients
    from a stable reflection-domain parameterisation were unstable after float32 rounding for
    43 % of N(0, 1) logits (Schur-Cohn test in float64; 100 % with saturated logits), while
    float32 biquads stayed inside the triangle in 1000 of 1000 trials. For time-varying
    coefficients the cascade is a different system from the direct form of the product (time
    variation does not commute); both are valid time-varying filters.

    Args:
        x: ``(..., time)``.
        sos: ``(..., time, sections, 2)`` per sample, or ``(..., frames, sections, 2)`` with
            ``hop_length``.
        zi: ``(..., sections, 2)`` states of the sections (each ``[y[-1], y[-2]]``).
        return_zf: also return the final states ``(..., sections, 2)``.
        sub_hop: with ``hop_length``, interpolate at every ``sub_hop``-th sample and hold.

    Returns:
        ``(..., time)`` (and ``zf``).
    """
    for name, t in (("x", x), ("sos", sos), ("zi", zi)):
        _check_dtype(name, t)
    _check_samples(x)
    if sos.dim() < 3 or sos.shape[-1] != 2:
        raise ValueError(
            f"allpole_sos: sos must be (..., time, sections, 2), got {tuple(sos.shape)}"
        )
    lead, sections = sos.shape[:-3], sos.shape[-2]
    if sections < 1:
        raise ValueError(f"allpole_sos: sos must hold at least one section, got {tuple(sos.shape)}")
    if (
        hop_length is not None
        and sub_hop == 1
        and x.shape[:-1] == lead
        and sos.shape[-3] * hop_length == x.shape[-1]
        and (zi is None or zi.shape == (*lead, sections, 2))
        and _render_cpu.usable(x, sos, zi)
    ):  # rendering: coefficients interpolated inside one C++ pass, no per-sample tensors
        flat = (-1, sections, 2)
        y, zf = _render_cpu.sos_cascade(
            x.reshape(-1, x.shape[-1]),
            sos.reshape(-1, *sos.shape[-3:]),
            None if zi is None else zi.reshape(flat),
            hop_length,
        )
        y, zf = y.reshape(x.shape), zf.reshape(*lead, sections, 2)
        _check_output(y, x, sos.flatten(-2), zi, True)
        return (y, zf) if return_zf else y
    if (
        hop_length is not None
        and sub_hop == 1
        and zi is None
        and not return_zf
        and x.shape[:-1] == lead
        and sos.shape[-3] * hop_length == x.shape[-1]
        and cascade_grad.available(x, sos)
    ):  # training: two C++ passes, no per-sample coefficient tensors (see cascade_grad)
        y = cascade_grad.sos_cascade(
            x.reshape(-1, x.shape[-1]),
            sos.reshape(-1, *sos.shape[-3:]),
            hop_length,
            lambda x, sos: _cascade(x, sos, None, hop_length, 1)[0],
        ).reshape(x.shape)
        _check_output(y, x, sos.flatten(-2), None, True)
        return y
    y, zf = _cascade(x, sos, zi, hop_length, sub_hop)
    _check_output(y, x, sos.flatten(-2), None, True)
    return (y, zf) if return_zf else y


def _cascade(x, sos, zi, hop_length, sub_hop):
    """:func:`allpole_sos`'s general path, section by section on :func:`_allpole`: ``(y, zf)``."""
    lead, sections = sos.shape[:-3], sos.shape[-2]
    # section-major layout: one copy, then every section's coefficients are contiguous and
    # unbind's backward stacks the gradients once (slicing one big tensor per section made
    # autograd zero-fill a full-size gradient for every section)
    per_section = sos.movedim(-2, 0).reshape(sections, -1, sos.shape[-3], 2)
    held = None
    if hop_length is not None:
        if sub_hop < 1 or hop_length % sub_hop:
            raise ValueError(f"sub_hop ({sub_hop}) must divide hop_length ({hop_length})")
        n, up = per_section.shape[2], hop_length // sub_hop
        per_section = upsample(per_section.reshape(-1, n, 2), up)
        per_section = per_section.reshape(sections, -1, n * up, 2)
        held = sub_hop if sub_hop > 1 else None
    per_section = per_section.contiguous().reshape(sections, *lead, -1, 2).unbind(0)
    zfs = []
    y = x
    for s, coeffs in enumerate(per_section):
        y, zf = _allpole(y, coeffs, None if zi is None else zi[..., s, :], True, held)
        zfs.append(zf)
    return y, torch.stack(zfs, dim=-2)

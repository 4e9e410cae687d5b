"""Pole-zero filters: batched LTI ``lfilter`` and time-varying IIR (FIR part + all-pole part)."""

from __future__ import annotations

import torch

from ..precision import full_precision
from .allpole import allpole

__all__ = ["lfilter", "ltv_iir"]


def _fir_with_state(
    x: torch.Tensor, b: torch.Tensor, x_state: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``sum_j b[..., t, j] x[t - j]`` with past inputs ``x_state (..., nb - 1)`` (oldest first)."""
    nb = b.shape[-1]
    if x_state is None:
        x_state = x.new_zeros(*x.shape[:-1], nb - 1)
    xp = torch.cat([x_state.expand(*x.shape[:-1], nb - 1), x], dim=-1)
    windows = xp.unfold(-1, nb, 1).flip(-1)  # (..., T, nb): x[t], x[t-1], ...
    y = (windows * b).sum(-1)
    return y, xp[..., xp.shape[-1] - (nb - 1) :]


@full_precision(transforms=("vmap", "grad"))
def ltv_iir(
    x: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    zi: tuple[torch.Tensor, torch.Tensor] | None = None,
    return_zf: bool = False,
):
    """Time-varying pole-zero filter ``y = (B_t / A_t) x``: a time-varying FIR
    ``v[t] = sum_j b[t, j] x[t - j]`` followed by the all-pole ``y[t] = v[t] - sum a[t, i] y[t-i]``
    (direct form I; ``a`` without the leading 1).

    Args:
        x: ``(..., time)``.
        b: ``(..., time, nb)`` or ``(..., nb)`` numerators.
        a: ``(..., time, na)`` or ``(..., na)`` denominators (``a_0 = 1`` implied).
        zi: ``(past inputs (..., nb - 1) oldest first, past outputs (..., na) newest first)``.

    Returns:
        ``(..., time)`` (and ``zf`` in the same form as ``zi``).
    """
    x_state, y_state = (None, None) if zi is None else zi
    v, x_tail = _fir_with_state(x, b, x_state)
    y, y_tail = allpole(v, a, y_state, return_zf=True)
    return (y, (x_tail, y_tail)) if return_zf else y


@full_precision(transforms=("vmap", "grad"))
def lfilter(b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, zi=None, return_zf: bool = False):
    """Batched LTI filter with scipy's argument order: ``a`` includes ``a[0]`` (normalised here).

    Shape: ``b (..., nb)``, ``a (..., na)``, ``x (..., time)`` -> ``(..., time)``. The state
    ``zi``/``zf`` is ``(past inputs, past outputs)`` as :func:`ltv_iir` (not scipy's
    transposed-form state).
    """
    a0 = a[..., :1]
    b, a = b / a0, a[..., 1:] / a0
    if a.shape[-1] == 0:
        a = torch.zeros_like(a0)
    if b.shape[-1] == 1 and zi is None:
        y = allpole(x * b, a)
        return (y, None) if return_zf else y
    t = x.shape[-1]
    bt = b.unsqueeze(-2).expand(*b.shape[:-1], t, b.shape[-1])
    return ltv_iir(x, bt, a, zi, return_zf)

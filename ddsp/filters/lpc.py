"""Stable parameterisations of all-pole filters and conversions between them.

Convention (torchlpc's): ``A(z) = 1 + sum_i a_i z^-i``, ``y[t] = x[t] - sum_i a_i y[t-i]``.
Reflection coefficients ``k`` with ``|k| < 1`` everywhere <=> ``A`` minimum phase (stable).
All functions are batched over leading dimensions and differentiable.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..dsp import finite_values, values_within

__all__ = [
    "logits_to_reflection",
    "reflection_to_lpc",
    "lpc_to_reflection",
    "reflection_to_lar",
    "lar_to_reflection",
    "logits_to_lsf",
    "lsf_to_lpc",
    "lpc_to_lsf",
    "poles_to_lpc",
    "logits_to_biquads",
    "biquads_to_logits",
    "sos_to_lpc",
    "lpc_roots",
    "lpc_to_biquads",
    "polymul",
    "UnstableFilterError",
]


class UnstableFilterError(ValueError):
    """Coefficients that were required to be stable are not; the message says where."""


def logits_to_reflection(logits: torch.Tensor, max_abs: float = 0.99) -> torch.Tensor:
    """Unconstrained logits -> reflection coefficients ``max_abs * tanh(logits)``.

    Shape: ``(..., order)`` -> ``(..., order)``.
    """
    return max_abs * torch.tanh(logits)


def reflection_to_lpc(k: torch.Tensor) -> torch.Tensor:
    """Levinson step-up: reflection coefficients -> direct-form LPC coefficients.

    ``a^(m) = [a^(m-1) + k_m flip(a^(m-1)), k_m]``. Works on the coefficient-major layout so that
    every step is a contiguous vector operation over all leading dimensions.

    Shape: ``(..., order)`` -> ``(..., order)``.
    """
    rows = list(k.movedim(-1, 0))  # order x (...)
    a: list[torch.Tensor] = []
    for m, km in enumerate(rows):
        a = [torch.addcmul(a[i], km, a[m - 1 - i]) for i in range(m)] + [km]
    return torch.stack(a, dim=-1)


def lpc_to_reflection(a: torch.Tensor, check: bool = False) -> torch.Tensor:
    """Levinson step-down: direct-form LPC -> reflection coefficients.

    Args:
        a: ``(..., order)``.
        check: raise :class:`UnstableFilterError` naming the first index (of the flattened
            leading dimensions) whose filter has ``|k| >= 1``.

    Returns:
        ``(..., order)`` reflection coefficients (meaningless past an unstable step).
    """
    order = a.shape[-1]
    rows = list(a.movedim(-1, 0))
    k: list[torch.Tensor] = [rows[-1]] * order
    for m in range(order - 1, -1, -1):
        km = rows[m]
        k[m] = km
        if check:
            bad = km.abs() >= 1
            if bad.any():
                idx = int(torch.nonzero(bad.reshape(-1))[0])
                raise UnstableFilterError(
                    f"unstable filter at index {idx} of the leading dimensions {tuple(a.shape[:-1])} "
                    f"(|k_{m + 1}| = {float(km.reshape(-1)[idx].abs()):.4f} >= 1)"
                )
        denom = 1 - km * km
        rows = [(rows[i] - km * rows[m - 1 - i]) / denom for i in range(m)]
    return torch.stack(k, dim=-1)


def reflection_to_lar(k: torch.Tensor) -> torch.Tensor:
    """Log-area ratios ``log((1 - k) / (1 + k))``, finite for ``|k| < 1`` (a clear error
    otherwise). Shape: ``(..., order)`` -> same."""
    values_within(k, "reflection coefficients k", -1.0, 1.0, closed=False)
    return torch.log1p(-k) - torch.log1p(k)


def lar_to_reflection(g: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`reflection_to_lar`: ``k = -tanh(g / 2)``. Shape: same."""
    return -torch.tanh(g / 2)


def logits_to_lsf(logits: torch.Tensor, min_gap: float = 0.02) -> torch.Tensor:
    """Unconstrained ``(..., order)`` logits -> sorted LSFs in ``(0, pi)``, gaps > ``min_gap``.

    ``omega = cumsum(min_gap + (pi - (order + 1) min_gap) softmax([logits, 0]))[:order]``: any
    logits give strictly increasing frequencies, which makes :func:`lsf_to_lpc` stable. The gap
    also bounds the pole radius: with 1e-3 rad, six LSFs crowded at pi made a near-repeated root
    at z = -1 that even float64 coefficients put outside the unit circle (found by hypothesis);
    0.02 rad (50 Hz at 16 kHz) keeps it at 0.9994.
    """
    order = logits.shape[-1]
    w = torch.softmax(F.pad(logits, (0, 1)), dim=-1)
    gaps = min_gap + (math.pi - (order + 1) * min_gap) * w
    return torch.cumsum(gaps, dim=-1)[..., :order]


def polymul(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Product of polynomials (coefficient vectors, batched). ``(..., m), (..., n) -> (..., m+n-1)``."""
    m, n = p.shape[-1], q.shape[-1]
    out = p.new_zeros(torch.broadcast_shapes(p.shape[:-1], q.shape[:-1]) + (m + n - 1,))
    for j in range(n):  # n is small (2 or 3 here)
        out = out + F.pad(p * q[..., j : j + 1], (j, n - 1 - j))
    return out


def _quadratics(coef1: torch.Tensor, coef2: torch.Tensor) -> torch.Tensor:
    """Multiply ``prod_j (1 + coef1_j z^-1 + coef2_j z^-2)``; ``(..., J)`` -> ``(..., 2J + 1)``."""
    out = torch.ones_like(coef1[..., :1])
    for j in range(coef1.shape[-1]):
        q = torch.stack([torch.ones_like(coef1[..., j]), coef1[..., j], coef2[..., j]], -1)
        out = polymul(out, q)
    return out


def lsf_to_lpc(lsf: torch.Tensor) -> torch.Tensor:
    """Line spectral frequencies (sorted, in (0, pi)) -> LPC. ``(..., order)`` -> ``(..., order)``.

    ``A = (P + Q) / 2`` with ``P = (1 + z^-1) prod (1 - 2 cos w_odd z^-1 + z^-2)`` and
    ``Q = (1 - z^-1) prod (1 - 2 cos w_even z^-1 + z^-2)`` (even order; for odd order the
    extra root goes to ``Q`` as ``1 - z^-2``). Interlaced frequencies give a stable ``A``.
    """
    order = lsf.shape[-1]
    c = -2 * torch.cos(lsf)
    ones = torch.ones_like(c)
    p = _quadratics(c[..., 0::2], ones[..., 0::2])
    q = _quadratics(c[..., 1::2], ones[..., 1::2])
    one = torch.ones_like(c[..., :1])
    if order % 2 == 0:
        p = polymul(p, torch.cat([one, one], -1))
        q = polymul(q, torch.cat([one, -one], -1))
    else:
        q = polymul(q, torch.cat([one, torch.zeros_like(one), -one], -1))
    return ((p + q) / 2)[..., 1 : order + 1]


def lpc_to_lsf(a: torch.Tensor) -> torch.Tensor:
    """LPC -> sorted LSFs in (0, pi) via the roots of the symmetric and antisymmetric polynomials
    (eigenvalues of their companion matrices, float64 internally).

    Shape: ``(..., order)`` -> ``(..., order)``.
    """
    finite_values(a, "a")
    order = a.shape[-1]
    a64 = F.pad(a.to(torch.float64), (1, 1), value=0.0)
    a64[..., 0] = 1.0
    p = a64 + a64.flip(-1)
    q = a64 - a64.flip(-1)
    ang = torch.cat([torch.angle(lpc_roots(poly[..., 1:] / poly[..., :1])) for poly in (p, q)], -1)
    eps = 1e-9
    ang = torch.where((ang > eps) & (ang < math.pi - eps), ang, torch.full_like(ang, 10.0))
    return ang.sort(-1).values[..., :order].to(a.dtype)


def lpc_roots(a: torch.Tensor) -> torch.Tensor:
    """The roots of ``A(z) = 1 + sum_i a_i z^-i`` (the filter's poles), as the eigenvalues of
    its companion matrix, in complex128.

    Shape: ``(..., order)`` -> ``(..., order)`` complex.
    """
    finite_values(a, "a")  # LAPACK returns finite garbage for NaN entries
    order = a.shape[-1]
    comp = torch.zeros(*a.shape[:-1], order, order, dtype=torch.float64, device=a.device)
    comp[..., 0, :] = -a.double()
    comp[..., 1:, :-1] = torch.eye(order - 1, dtype=torch.float64, device=a.device)
    return torch.linalg.eigvals(comp)


def lpc_to_biquads(a: torch.Tensor, max_radius: float | None = None) -> torch.Tensor:
    """Factor an even-order all-pole filter into a cascade of biquads ``(a1, a2)``: one per
    complex pole pair (ordered by angle), then the real poles paired in order of value. With
    ``max_radius``, poles beyond it are pulled onto it (angle kept). Float64 inside.

    Shape: ``(..., order)`` -> ``(..., order / 2, 2)`` in ``a``'s dtype.
    """
    order = a.shape[-1]
    if order % 2:
        raise ValueError(f"biquads need an even order, got {order}")
    roots = lpc_roots(a).reshape(-1, order)
    if max_radius is not None:
        mag = roots.abs()
        roots = torch.where(mag > max_radius, roots * (max_radius / mag.clamp_min(1e-300)), roots)
    out = torch.empty(roots.shape[0], order // 2, 2, dtype=torch.float64)
    for i, z in enumerate(roots):
        tol = 1e-9 * max(1.0, float(z.detach().abs().max()))
        upper = z[z.imag > tol]
        upper = upper[upper.angle().argsort()]
        real = z.real[z.imag.abs() <= tol].sort().values
        n = len(upper)
        out[i, :n, 0], out[i, :n, 1] = -2 * upper.real, upper.abs().square()
        out[i, n:, 0], out[i, n:, 1] = -(real[0::2] + real[1::2]), real[0::2] * real[1::2]
    return out.reshape(*a.shape[:-1], order // 2, 2).to(a.dtype)


def poles_to_lpc(radius: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Conjugate pole pairs ``radius * exp(+-i angle)`` -> LPC of order ``2 * pairs``.

    Shape: ``(..., pairs), (..., pairs)`` -> ``(..., 2 * pairs)``.
    """
    return _quadratics(-2 * radius * torch.cos(angle), radius.square())[..., 1:]


def logits_to_biquads(logits: torch.Tensor, max_radius: float = 0.99) -> torch.Tensor:
    """Unconstrained ``(..., sections, 2)`` logits -> stable biquad denominators ``(a1, a2)``.

    The "triangle" parameterisation (Nercessian et al. 2021; used by GOLF):
    ``a1 = 2 tanh(u1)``, ``a2 = ((2 - |a1|) tanh(u2) + |a1|) / 2`` covers the stability triangle
    ``|a1| - 1 < a2 < 1``; scaling ``(a1 r, a2 r^2)`` shrinks every pole radius by ``r`` so the
    poles stay within ``max_radius`` (a margin that survives float32 rounding). The triangle is
    convex, so linear interpolation between two such biquads is stable at every point.

    Returns:
        ``(..., sections, 2)`` with ``a1, a2`` in the last dimension.
    """
    a1 = 2 * torch.tanh(logits[..., 0])
    a2 = ((2 - a1.abs()) * torch.tanh(logits[..., 1]) + a1.abs()) / 2
    return torch.stack([a1 * max_radius, a2 * max_radius**2], dim=-1)


def biquads_to_logits(
    sos: torch.Tensor, max_radius: float = 0.99, eps: float = 1e-6
) -> torch.Tensor:
    """Inverse of :func:`logits_to_biquads`: biquads ``(..., sections, 2)`` -> logits.

    Computed in float64 and returned in ``sos``'s dtype. A biquad on (or beyond) the edge of
    the ``max_radius`` triangle is clamped onto it: each ``tanh`` argument is limited to
    ``[-1 + eps, 1 - eps]``, so the logits stay finite.

    Shape: ``(..., sections, 2)`` -> ``(..., sections, 2)``.
    """
    a1 = sos[..., 0].double() / max_radius
    a2 = sos[..., 1].double() / max_radius**2
    t1 = (a1 / 2).clamp(-1 + eps, 1 - eps)
    abs_a1 = 2 * t1.abs()
    t2 = ((2 * a2 - abs_a1) / (2 - abs_a1)).clamp(-1 + eps, 1 - eps)
    return torch.stack([torch.atanh(t1), torch.atanh(t2)], dim=-1).to(sos.dtype)


def sos_to_lpc(sos: torch.Tensor) -> torch.Tensor:
    """Cascade of biquad denominators ``(..., sections, 2)`` -> LPC ``(..., 2 * sections)``."""
    return _quadratics(sos[..., 0], sos[..., 1])[..., 1:]

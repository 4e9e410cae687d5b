"""A lean autograd function around torchlpc's compiled all-pole kernel.

Forward and backward both call ``torch.ops.torchlpc.lpc`` (the kernel behind
``torchlpc.sample_wise_lpc``). The gradient (DiffAPF, DAFx 2024) is the same filter run backwards:

    dL/dx[t] = dL/dy[t] - sum_i A[t+i, i] dL/dx[t+i]          (time reversed: an all-pole filter)
    dL/dA[t, i] = -dL/dx[t] y[t-i]
    dL/dzi[k-1] = -sum_{i>=k} A[i-k, i] dL/dx[i-k]            (the reversed filter run N more steps)

On the CPU the first-order backward is one fused pass in C++ (:mod:`ddsp.filters._fused_cpu`,
compiled on first use): the adjoint recursion reads ``A`` in skewed order where it lies and writes
``dL/dA`` in the same loop; per-frame (held) coefficients are read at frame rate and their
gradient folded back to frame rate without a per-sample copy. Where that extension cannot be
built, for second derivatives, and on CUDA, the backward below runs instead. On accelerators the
forward filter and the backward's adjoint filter run chunk-parallel
(:mod:`ddsp.filters.allpole_chunked`: the kernel gets ``B * T / L`` rows of ``L`` steps instead of
``B`` rows of ``T``; ``DDSP_ALLPOLE_CHUNK=0`` turns it off).

What differs from torchlpc's own backward is how few passes over ``(B, T, N)`` memory it makes:
the time-shifted coefficients ``A[t+i, i]`` are one ``as_strided`` view of a zero-padded copy of
A (stride ``N + 1`` along the order axis), reversed in time by one copy; ``dL/dA`` is one multiply
against an ``unfold`` view of the padded output and one flip. torchlpc's backward pads, reshapes,
transposes and flips the coefficients several times. The backward is itself differentiable (it
is written with this function and differentiable views), so second derivatives work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchlpc

from ..dsp import compiled
from . import _fused_cpu
from .allpole_chunked import chunk_length, lpc_chunked

__all__ = ["lpc_filter", "lpc_filter_frames", "HAS_KERNEL"]

HAS_KERNEL = bool(getattr(torchlpc, "EXTENSION_LOADED", False)) and hasattr(
    torch.ops.torchlpc, "lpc"
)


def _skew_gather(a: torch.Tensor, extra: int) -> torch.Tensor:
    """:func:`_shifted_reversed` as one masked gather (what ``torch.compile`` fuses into a single
    loop: 70 ms vs 134 ms eager at 16 x 64,000 x 20 on one thread; a plain copy takes 36 ms)."""
    b, t, n = a.shape
    s = torch.arange(t + extra, device=a.device)[:, None]
    j = torch.arange(n, device=a.device)[None, :]
    src = t - s + j
    valid = (src >= 0) & (src < t)
    idx = src.clamp(0, t - 1).unsqueeze(0).expand(b, -1, -1)
    return torch.where(valid, a.gather(1, idx), torch.zeros((), dtype=a.dtype, device=a.device))


def _grad_coefficients(y: torch.Tensor, zi: torch.Tensor, gx: torch.Tensor) -> torch.Tensor:
    """``dL/dA[t, j] = -dL/dx[t] y[t - 1 - j]`` (past outputs from ``zi`` before t = 0)."""
    n = zi.shape[-1]
    y_pad = torch.cat([zi.flip(1), y[:, :-1]], dim=1)  # y[t - N] ... y[t - 1] windows
    return (y_pad.unfold(1, n, 1) * -gx.unsqueeze(-1)).flip(-1)  # column j <-> y[t - 1 - j]


def _kernel(x: torch.Tensor, a: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
    return torch.ops.torchlpc.lpc(x.contiguous(), a.contiguous(), zi.contiguous())


def _forward(x: torch.Tensor, a: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
    """The kernel, chunk-parallel where :func:`chunk_length` says so (accelerators)."""
    chunk = chunk_length(x, x.shape[-1])
    return _kernel(x, a, zi) if chunk is None else lpc_chunked(x, a, zi, chunk, _kernel)


def _shifted_reversed(a: torch.Tensor, extra: int) -> torch.Tensor:
    """Coefficients of the time-reversed adjoint filter.

    Column ``j`` holds lag ``j + 1`` (the kernel's layout), so the reversed filter needs
    ``R[:, s, j] = A[:, T - s + j, j]`` (0 outside ``[0, T)``) for ``s < T + extra``.

    Shape: ``(B, T, N)`` -> ``(B, T + extra, N)`` contiguous.
    """
    b, t, n = a.shape
    padded = F.pad(a, (0, 0, extra, n))  # padded[p] = A[p - extra], (B, extra + T + N, N)
    # V[u, j] = padded[u + 1 + j, j] = A[u + 1 + j - extra, j]: one strided view, no copy
    v = padded.as_strided(
        (b, t + extra, n), (padded.stride(0), n, n + 1), padded.storage_offset() + n
    )
    return v.flip(1)  # R[s] = V[T + extra - 1 - s]: the one copy


class _LPC(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor, a: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
        return _forward(x, a, zi)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        _, a, zi = inputs
        ctx.save_for_backward(a, zi, output)
        ctx.save_for_forward(a, zi, output)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        a, zi, y = ctx.saved_tensors
        fused = _fused_module(grad_y)
        if fused is not None:
            gx, ga, gzi = fused.allpole_backward(
                grad_y, a, y, zi, 0, ctx.needs_input_grad[1], ctx.needs_input_grad[2]
            )
            return gx, ga, gzi
        return _backward(a, zi, y, grad_y, ctx.needs_input_grad)

    @staticmethod
    def jvp(ctx, dx, da, dzi):
        a, zi, y = ctx.saved_tensors
        return _LPC.apply(*_tangent_inputs(a, zi, y, dx, da, dzi))

    @staticmethod
    def vmap(info, in_dims, x, a, zi):
        return _vmap(_LPC.apply, info, in_dims, (x, a, zi))


def _tangent_inputs(a, zi, y, dx, da, dzi):
    """Forward-mode AD: the tangent of ``y`` is the same filter run on
    ``dx[t] - sum_j da[t, j] y[t - 1 - j]`` from the state ``dzi``. Returns its inputs
    ``(rhs, a, zi)`` (per-sample ``da``, ``(B, T, N)``)."""
    rhs = dx if dx is not None else torch.zeros_like(y)
    if da is not None:
        n = a.shape[-1]
        past = torch.cat([zi.flip(1), y[:, :-1]], dim=1).unfold(1, n, 1).flip(-1)  # y[t-1-j]
        rhs = rhs - (da * past).sum(-1)
    return rhs, a, dzi if dzi is not None else torch.zeros_like(zi)


def _vmap(apply, info, in_dims, tensors):
    """``torch.vmap`` rule: fold the mapped dimension into the kernel's batch dimension."""
    size = info.batch_size
    flat = []
    for t, d in zip(tensors, in_dims, strict=True):
        t = t.movedim(d, 0) if d is not None else t.expand(size, *t.shape)
        flat.append(t.reshape(size * t.shape[1], *t.shape[2:]))
    y = apply(*flat)
    return y.reshape(size, -1, y.shape[-1]), 0


def _fused_module(grad_y: torch.Tensor):
    """The compiled fused backward, for first-order CPU backward passes that are not chunked
    (else None)."""
    if torch.is_grad_enabled() or grad_y.device.type != "cpu":
        return None
    if chunk_length(grad_y, grad_y.shape[-1]) is not None:
        return None
    return _fused_cpu.load()


def _adjoint(g_rev: torch.Tensor, shifted: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
    """The time-reversed adjoint filter from zero state: chunk-parallel where
    :func:`~ddsp.filters.allpole_chunked.chunk_length` says so (accelerators), else one
    sequential pass of the kernel."""
    chunk = chunk_length(g_rev, g_rev.shape[-1])
    if chunk is None:
        return _LPC.apply(g_rev, shifted, zi)
    return lpc_chunked(g_rev, shifted, zi, chunk, _LPC.apply)


def _backward(a, zi, y, grad_y, needs_input_grad):
    """Backward with torchlpc's kernel on skewed coefficients (differentiable: second order)."""
    n = a.shape[-1]
    t = y.shape[-1]
    need_zi = needs_input_grad[2]
    extra = n if need_zi else 0
    # first order and order >= 8: compiled helpers (their per-call overhead outweighs the
    # saving on the small tensors of low orders, e.g. the biquads of a cascade); second
    # order (create_graph): differentiable eager ops
    fast = not torch.is_grad_enabled() and n >= 8
    shifted = (
        compiled("allpole.skew", _skew_gather)(a, extra) if fast else _shifted_reversed(a, extra)
    )
    g_rev = F.pad(grad_y.flip(1), (0, extra))
    gx_rev = _adjoint(g_rev, shifted, torch.zeros_like(zi))  # reversed time, T + extra
    grad_zi = gx_rev[:, t:] if need_zi else None  # [dL/dy[-1], dL/dy[-2], ...]
    gx = gx_rev[:, :t].flip(1)
    grad_a = None
    if needs_input_grad[1]:
        grad_a = (compiled("allpole.grad_a", _grad_coefficients) if fast else _grad_coefficients)(
            y, zi, gx
        )
    return gx, grad_a, grad_zi


class _LPCFrames(torch.autograd.Function):
    """Per-frame coefficients held for ``hop`` samples: ``a (B, F, N)``, ``T = F hop``."""

    @staticmethod
    def forward(x: torch.Tensor, a: torch.Tensor, zi: torch.Tensor, hop: int) -> torch.Tensor:
        return _forward(x, a.repeat_interleave(hop, dim=1), zi)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        _, a, zi, hop = inputs
        ctx.hop = hop
        ctx.save_for_backward(a, zi, output)
        ctx.save_for_forward(a, zi, output)

    @staticmethod
    def jvp(ctx, dx, da, dzi, _):
        a, zi, y = ctx.saved_tensors
        if da is not None:
            da = da.repeat_interleave(ctx.hop, dim=1)
        rhs, _, z0 = _tangent_inputs(a.repeat_interleave(ctx.hop, dim=1), zi, y, dx, da, dzi)
        return _LPCFrames.apply(rhs, a, z0, ctx.hop)

    @staticmethod
    def vmap(info, in_dims, x, a, zi, hop):
        return _vmap(lambda *t: _LPCFrames.apply(*t, hop), info, in_dims[:3], (x, a, zi))

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        a, zi, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        fused = _fused_module(grad_y)
        if fused is not None:
            gx, ga, gzi = fused.allpole_backward(grad_y, a, y, zi, ctx.hop, need[1], need[2])
            return gx, ga, gzi, None
        a_full = a.repeat_interleave(ctx.hop, dim=1)
        gx, ga, gzi = _backward(a_full, zi, y, grad_y, need[:3])
        if ga is not None:
            ga = ga.reshape(a.shape[0], a.shape[1], ctx.hop, a.shape[2]).sum(2)
        return gx, ga, gzi, None


def lpc_filter_frames(
    x: torch.Tensor, a: torch.Tensor, hop: int, zi: torch.Tensor | None = None
) -> torch.Tensor:
    """:func:`lpc_filter` with each frame's coefficients held for ``hop`` samples; the gradient
    for ``a`` comes back at frame rate without a per-sample copy (CPU, fused backward).

    Shape: ``x (B, F * hop)``, ``a (B, F, N)``, ``zi (B, N)`` -> ``(B, F * hop)``.
    """
    if zi is None:
        zi = a.new_zeros(a.shape[0], a.shape[-1])
    if HAS_KERNEL and torch.jit.is_tracing():  # export: the bare op (inference only)
        return _kernel(x, a.repeat_interleave(hop, dim=1), zi)
    if HAS_KERNEL:
        return _LPCFrames.apply(x, a, zi, hop)
    return torchlpc.sample_wise_lpc(x, a.repeat_interleave(hop, dim=1), zi)


def lpc_filter(x: torch.Tensor, a: torch.Tensor, zi: torch.Tensor | None = None) -> torch.Tensor:
    """``y[t] = x[t] - sum_i a[t, i] y[t - i]`` with the lean gradient (torchlpc's when its
    compiled kernel is unavailable, e.g. a build without the extension or a device it lacks).

    Shape: ``x (B, T)``, ``a (B, T, N)``, ``zi (B, N)`` -> ``(B, T)``.
    """
    if zi is None:
        zi = a.new_zeros(a.shape[0], a.shape[-1])
    if HAS_KERNEL and torch.jit.is_tracing():  # export: the bare op (inference only)
        return _kernel(x, a, zi)
    if HAS_KERNEL:
        return _LPC.apply(x, a, zi)
    return torchlpc.sample_wise_lpc(x, a, zi)

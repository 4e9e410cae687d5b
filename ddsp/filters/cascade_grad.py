"""The time-varying biquad cascade with gradients, in two C++ passes (GOLF-ss's vocal tract).

:func:`ddsp.filters.allpole_sos` with per-frame biquads otherwise interpolates ``(a1, a2)`` to
every sample as tensors (``sections x batch x time x 2``), filters section by section with
torchlpc's kernel and runs the fused backward once per section, then folds the per-sample
gradients back to frames: about 65 ms of a GOLF training step (16 x 16,000, 11 sections, one
thread). Here the forward is the render kernel's recursion (coefficients interpolated inside the
loop: the same operations, so the same output bits as rendering) keeping each section's output,
and the backward is one pass backwards in time through all sections, last section first::

    g_s[t]      = g_{s+1}[t] - a1_s[t+1] g_s[t+1] - a2_s[t+2] g_s[t+2]      (g_S = dL/dy)
    dL/da1_s[t] = -g_s[t] y_s[t-1],   dL/da2_s[t] = -g_s[t] y_s[t-2]       (y_s[t<0] = 0)
    dL/dx[t]    = g_0[t]

with each per-sample coefficient gradient added straight to the two frames it was interpolated
from (weights ``1 - j / hop`` and ``j / hop``, summed in float64). Zero initial state only
(training); ``zi`` / ``zf`` and second derivatives take the general path. Under ``create_graph``
the backward differentiates that general path instead, so second derivatives are exact too.
"""

from __future__ import annotations

import torch

from . import _fused_cpu, _render_cpu

__all__ = ["sos_cascade", "available"]


def available(x: torch.Tensor, sos: torch.Tensor) -> bool:
    """Whether :func:`sos_cascade` runs here: plain CPU float32/float64 tensors of one dtype and
    the extension built (:func:`ddsp.filters._render_cpu.usable_with_gradient`)."""
    return _render_cpu.usable_with_gradient(x, sos)


class _Cascade(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, sos: torch.Tensor, hop: int, general) -> torch.Tensor:
        y, ys = _render_cpu.ops().sos_cascade_saving(x, sos, hop)
        ctx.save_for_backward(x, sos, ys)
        ctx.hop, ctx.general = hop, general
        return y

    @staticmethod
    def backward(ctx, gy: torch.Tensor):
        x, sos, ys = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: the general path's own derivatives
            y = ctx.general(x, sos)
            gx, gsos = torch.autograd.grad(y, (x, sos), gy, create_graph=True, allow_unused=True)
        else:
            gx, gsos = _fused_cpu.load().sos_cascade_backward(gy, sos, ys, ctx.hop)
        need_x, need_sos = ctx.needs_input_grad[:2]
        return (gx if need_x else None), (gsos if need_sos else None), None, None


def sos_cascade(x: torch.Tensor, sos: torch.Tensor, hop_length: int, general) -> torch.Tensor:
    """Biquads ``1 / (1 + a1 z^-1 + a2 z^-2)`` per frame, interpolated linearly to every sample
    and cascaded from zero state, differentiable in ``x`` and ``sos``.

    ``general(x, sos)`` is the differentiable reference (the eager cascade), used only under
    ``create_graph``. Check :func:`available` first.

    Shape: ``x (B, T)``, ``sos (B, frames, sections, 2)`` with ``frames * hop_length == T``
    -> ``(B, T)``.
    """
    return _Cascade.apply(x, sos, hop_length, general)

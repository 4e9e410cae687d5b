"""Frequency responses of batches of filters."""

from __future__ import annotations

import math

import torch

from ..dsp import compiled
from . import _fused_cpu, _render_cpu

__all__ = ["freqz", "biquad_log_rms_gain"]


def freqz(
    b: torch.Tensor | None = None,
    a: torch.Tensor | None = None,
    n_freqs: int = 512,
    sample_rate: float = 2 * math.pi,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``H(e^{jw}) = B(e^{jw}) / A(e^{jw})`` at ``n_freqs`` frequencies in ``[0, sr / 2)``
    (as ``scipy.signal.freqz(worN=n_freqs)``).

    Args:
        b: ``(..., nb)`` numerators (default 1).
        a: ``(..., na)`` denominators including ``a[0]``; or LPC without it, see below
            (default 1). Pass ``torch.nn.functional.pad(lpc, (1, 0), value=1)`` for LPC.
        sample_rate: the frequency unit (default: radians per sample, as scipy).

    Returns:
        ``freqs (n_freqs,)`` and complex ``H (..., n_freqs)``.
    """
    if b is None and a is None:
        raise ValueError("give b, a or both")
    ref = a if a is not None else b
    w = torch.arange(n_freqs, dtype=ref.dtype, device=ref.device) * (math.pi / n_freqs)

    def poly(c: torch.Tensor) -> torch.Tensor:
        k = torch.arange(c.shape[-1], dtype=c.dtype, device=c.device)
        return (
            c.unsqueeze(-1).to(torch.complex128 if c.dtype == torch.float64 else torch.complex64)
            * torch.exp(-1j * k[:, None] * w[None, :])
        ).sum(-2)

    h = poly(b) if b is not None else 1.0
    if a is not None:
        h = h / poly(a)
    return w * sample_rate / (2 * math.pi), h


# inductor's CPU loops for the unit-power gain at 256-bit vectors: where torch runs AVX-512
# kernels it writes 512-bit ones, and there the backward's loop (float64 powers, float32 logs)
# came out scalar: 40 ms against 12 ms at 256 bits for a (16, 100, 11, 2) training batch on a
# Xeon, the same as with vectors off. On AVX2 machines 256 bits is what it picks anyway.
VECTOR_256 = {"cpp.simdlen": 256}


def biquad_log_rms_gain(sos: torch.Tensor, n_freqs: int = 256) -> torch.Tensor:
    """log of the RMS over frequency of ``|H| = 1 / prod_s |1 + a1 z^-1 + a2 z^-2|``.

    Dividing an excitation by ``exp`` of this normalises every frame's all-pole cascade to unit
    power gain for white input. Without it, saturated logits (a double pole at 0.99 in each of
    11 sections) give a DC gain of 1e44 and float32 outputs of 5e27 within one second; stable
    is not the same as bounded in practice. Computed in the log domain.

    Shape: ``(..., sections, 2)`` -> ``(...)``.
    """
    if _render_cpu.usable(sos) and sos.dim() >= 3:  # rendering: one C++ pass, one log a frame
        return _render_cpu.biquad_log_rms_gain(sos, n_freqs)
    if sos.dim() >= 3 and _kernels_take_gradient(sos):  # training: that pass and its gradient's
        return _LogRmsGain.apply(sos, n_freqs)
    basis = _basis(n_freqs, sos.device)
    if torch.is_grad_enabled() and sos.requires_grad and sos[..., 0].numel() >= 1 << 12:
        # a training batch: one compiled loop each way, 2.2x the eager forward + backward
        fn = compiled("biquad_log_rms_gain", _log_rms_gain, VECTOR_256)
        return fn(sos, basis, fn is not _log_rms_gain)  # the fused form only when compiled
    return _log_rms_gain(sos, basis, False)


def _basis(n_freqs: int, device) -> torch.Tensor:
    """``1, cos w, cos 2w`` at ``n_freqs`` frequencies in ``[0, pi]``: ``(3, n_freqs)`` float64."""
    w = torch.linspace(0, math.pi, n_freqs, dtype=torch.float64, device=device)
    return torch.stack([torch.ones_like(w), torch.cos(w), torch.cos(2 * w)])


def _kernels_take_gradient(sos: torch.Tensor) -> bool:
    """A CPU float32/float64 tensor and the extension built: the C++ forward and backward."""
    return _render_cpu.usable_with_gradient(sos)


class _LogRmsGain(torch.autograd.Function):
    """:func:`biquad_log_rms_gain` as the render kernel's float64 pass and a float64 backward
    pass (``_fused_cpu``: ``-u(w) / (2 P_s(w))`` summed against ``1, cos w, cos 2w``); about 3x
    the compiled eager form's speed on a training batch. Under ``create_graph`` the backward
    differentiates the eager form."""

    @staticmethod
    def forward(ctx, sos: torch.Tensor, n_freqs: int) -> torch.Tensor:
        ctx.save_for_backward(sos)
        ctx.n_freqs = n_freqs
        return _render_cpu.biquad_log_rms_gain(sos, n_freqs)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (sos,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: the eager form's own derivatives
            out = _log_rms_gain(sos, _basis(ctx.n_freqs, sos.device), False)
            return torch.autograd.grad(out, sos, g, create_graph=True)[0], None
        lead = sos.shape[:-2]
        flat = sos.reshape(-1, *sos.shape[-2:])
        grad = _fused_cpu.load().biquad_log_rms_gain_backward(flat, g.reshape(-1), ctx.n_freqs)
        return grad.reshape(*lead, *sos.shape[-2:]), None


def _log_rms_gain(sos: torch.Tensor, basis: torch.Tensor, fused: bool) -> torch.Tensor:
    a1, a2 = sos[..., 0].double(), sos[..., 1].double()
    # |1 + a1 e^-jw + a2 e^-2jw|^2 = (1 + a1^2 + a2^2) + 2 a1 (1 + a2) cos w + 2 a2 cos 2w, in
    # float64 (the expansion cancels near a pole), the logs in the input's dtype: forward +
    # backward at a training batch 2-3x faster than re/im squares in float32, and closer to
    # float64 (1e-5 against 1e-4 in the log gain). (A closed form, -1/2 sum log(1 - k^2) over
    # the step-down's reflection coefficients, failed: the step-down of a product of 11 stable
    # biquads gives |k| > 1 in float64 already for N(0, 2^2) logits.)
    coef = torch.stack([1 + a1.square() + a2.square(), 2 * a1 * (1 + a2), 2 * a2], dim=-1)
    if fused:  # compiled: one loop together with the logs (a matmul stays a kernel of its own)
        power = (coef.unsqueeze(-1) * basis).sum(-2)
    else:  # eager: the matmul is the fast form (a broadcast sum is 3x slower)
        power = coef @ basis  # (..., sections, n_freqs)
    log_power = -torch.log(power.to(sos.dtype)).sum(-2)  # (..., n_freqs)
    return (0.5 * (torch.logsumexp(log_power, dim=-1) - math.log(basis.shape[-1]))).to(sos.dtype)

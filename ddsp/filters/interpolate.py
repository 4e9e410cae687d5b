"""Frame-rate controls -> sample rate, and filter coefficients interpolated in stable domains."""

from __future__ import annotations

import math

import torch

from ..dsp import _positive, finite_values, values_within
from ..precision import full_precision
from .lpc import lar_to_reflection, lsf_to_lpc, reflection_to_lar, reflection_to_lpc

__all__ = ["upsample", "interpolate_lpc"]

DOMAINS = ("reflection", "lar", "lsf", "direct", "hold")


@full_precision(transforms=("vmap", "grad"))
def upsample(x: torch.Tensor, hop_length: int) -> torch.Tensor:
    """Linear interpolation of frame-rate controls to the sample rate.

    Frame ``k`` sits at sample ``k * hop_length``; the last frame's value is held for its
    ``hop_length`` samples, so ``frames`` frames give exactly ``frames * hop_length`` samples.

    Shape:
        ``(batch, frames, channels)`` -> ``(batch, frames * hop_length, channels)``.
    """
    if x.dim() != 3:
        raise ValueError(f"upsample expects (batch, frames, channels), got {tuple(x.shape)}")
    _positive("hop_length", hop_length)
    b, frames, c = x.shape
    # explicit weights, the same for every frame: a segment of frames upsampled alone gives
    # bit-identical samples to the same frames inside a longer sequence (streaming relies on
    # it; F.interpolate's position = index * scale rounds differently for every length)
    wrapped = torch._C._functorch.is_functorch_wrapped_tensor(x)  # torch.func: autograd's own
    if x.requires_grad and torch.is_grad_enabled() and c <= _FEW and not wrapped:
        return _Upsample.apply(x, hop_length)
    return _upsample(x, hop_length)


def _upsample(x: torch.Tensor, hop_length: int) -> torch.Tensor:
    b, frames, c = x.shape
    w = torch.arange(hop_length, dtype=x.dtype, device=x.device) / hop_length
    nxt = torch.cat([x[:, 1:], x[:, -1:]], dim=1)
    y = torch.addcmul(x.unsqueeze(2), (nxt - x).unsqueeze(2), w[:, None])  # (B, frames, hop, C)
    return y.reshape(b, frames * hop_length, c)


# Channels up to which the backward is one matrix product (below)
_FEW = 4


def _weights(hop: int, c: int, like: torch.Tensor) -> torch.Tensor:
    """The interpolation as a block matrix: ``m[h c + i, k c + j] = (1 - w_h, w_h)[k] (i == j)``,
    ``w_h = h / hop``. Shape: ``(hop c, 2 c)``."""
    w = torch.arange(hop, dtype=like.dtype, device=like.device) / hop
    eye = torch.eye(c, dtype=like.dtype, device=like.device)
    m = torch.stack([1 - w, w], dim=1)[:, None, :, None] * eye[None, :, None, :]
    return m.reshape(hop * c, 2 * c)


class _Upsample(torch.autograd.Function):
    """:func:`upsample` for training (few channels, gradients wanted), both ways one matrix
    product with the interpolation weights as a block matrix (:func:`_weights`; ``C^2`` of it is
    zero, so only for few channels). Autograd's backward of the broadcast ``addcmul`` reduces
    over the hop with the few channels innermost: 23 ms for the (176, 100, 2) biquad
    coefficients of a GOLF training batch, 5 ms here; the forward 12 -> 5.5 ms on the CPU. Here
    ``dL/dx[f] = sum_h dL/dy[f, h] (1 - w_h) + sum_h dL/dy[f - 1, h] w_h`` (the last frame also
    takes its own ``w`` share, as it is held). The product's forward computes ``x (1 - w) +
    x_next w`` where :func:`upsample` computes ``x + (x_next - x) w``: equal to rounding; it
    runs only for finite CPU inputs (a NaN times the matrix's zeros would reach every channel).
    Rendering without gradients, and streaming, keep the ``addcmul``'s bits."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, hop_length: int) -> torch.Tensor:
        ctx.hop, ctx.shape = hop_length, x.shape
        b, frames, c = x.shape
        if x.device.type != "cpu" or not bool(torch.isfinite(x).all()):
            return _upsample(x, hop_length)
        both = torch.cat([x, torch.cat([x[:, 1:], x[:, -1:]], dim=1)], dim=-1)
        y = both.reshape(b * frames, 2 * c) @ _weights(hop_length, c, x).T
        return y.view(b, frames * hop_length, c)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        b, frames, c = ctx.shape
        hop = ctx.hop
        m = _weights(hop, c, g)
        a = (g.reshape(b * frames, hop * c) @ m).view(b, frames, 2, c)
        gx = a[:, :, 0].clone()
        gx[:, 1:] += a[:, :-1, 1]
        gx[:, -1] += a[:, -1, 1]
        return gx, None


def _check_lsf(lsf: torch.Tensor) -> None:
    """LSFs in ``(0, pi)``, increasing along the last dim (else the filter is not stable)."""
    values_within(lsf, "params (LSFs, domain='lsf')", 0.0, math.pi, closed=False)
    if lsf.shape[-1] > 1:
        name = "params (LSFs, domain='lsf'): consecutive differences"
        hint = ": LSFs must increase along the last dim"
        values_within(lsf.diff(dim=-1), name, 0.0, closed=False, hint=hint)


@full_precision(transforms=("vmap", "grad"))
def interpolate_lpc(
    params: torch.Tensor, hop_length: int, domain: str = "reflection", sub_hop: int = 1
) -> torch.Tensor:
    """Bring per-frame filter parameters to per-sample direct-form LPC coefficients.

    ``domain`` says what ``params`` are and where the linear interpolation happens:

    - ``"reflection"``: reflection coefficients (``|k| < 1``); interpolated, then stepped up at
      every sample. Convex domain: every sample's filter is stable.
    - ``"lar"``: reflection coefficients, interpolated as log-area ratios. Stable likewise.
    - ``"lsf"``: sorted line spectral frequencies; interpolation keeps them sorted, so stable.
    - ``"direct"``: LPC interpolated directly (GOLF-ss). **Not** guaranteed stable.
    - ``"hold"``: LPC held for the frame (stable when every frame is).

    The per-sample step-up / LSF conversion costs O(order^2) per sample. ``sub_hop > 1``
    interpolates at every ``sub_hop``-th sample only, for coefficients to be held that long
    (``allpole(x, a, hop_length=sub_hop)``, which filters held coefficients without expanding
    them): every held filter is still one of the stable interpolants, and the conversion
    costs ``sub_hop`` times less. At 24 kHz, ``sub_hop=8`` updates the filter every 0.33 ms.

    Shape:
        ``(batch, frames, order)`` -> ``(batch, frames * hop_length // sub_hop, order)``.
    """
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    _positive("hop_length", hop_length)
    _positive("sub_hop", sub_hop)
    if hop_length % sub_hop:
        raise ValueError(f"sub_hop ({sub_hop}) must divide hop_length ({hop_length})")
    if params.dim() != 3:
        raise ValueError(f"params must be (batch, frames, order), got {tuple(params.shape)}")
    if domain in ("reflection", "lar"):  # outside (-1, 1): unstable, or an infinite LAR
        values_within(params, f"params (reflection coefficients, domain={domain!r})", -1, 1, False)
    elif domain == "lsf":
        _check_lsf(params)
    else:
        finite_values(params, "params")
    hop_length //= sub_hop
    if domain == "hold":
        return params.repeat_interleave(hop_length, dim=1)
    if domain == "direct":
        return upsample(params, hop_length)
    if domain == "reflection":
        return reflection_to_lpc(upsample(params, hop_length))
    if domain == "lar":
        return reflection_to_lpc(lar_to_reflection(upsample(reflection_to_lar(params), hop_length)))
    return lsf_to_lpc(upsample(params, hop_length))

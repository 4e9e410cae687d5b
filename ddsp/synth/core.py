"""Small helpers shared by the synthesisers: control scaling and frame -> sample upsampling."""

from __future__ import annotations

import math

import torch

from ..filters.interpolate import upsample

__all__ = ["exp_sigmoid", "upsample", "fill_unvoiced_f0", "check_controls", "gate_voiced"]


def exp_sigmoid(
    x: torch.Tensor, exponent: float = 10.0, max_value: float = 2.0, threshold: float = 1e-7
) -> torch.Tensor:
    """DDSP's positive output nonlinearity: ``max_value * sigmoid(x) ** ln(exponent) + threshold``.

    Shape: any -> same.
    """
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def fill_unvoiced_f0(
    f0: torch.Tensor, voiced: torch.Tensor, default: float = 150.0
) -> torch.Tensor:
    """Fill unvoiced frames by linear interpolation of log-f0 between voiced neighbours.

    Edges take the nearest voiced value; a sequence with no voiced frame gets ``default`` Hz.

    Shape:
        ``f0, voiced: (frames,)`` -> ``(frames,)``. Works on CPU tensors (data preparation).
    """
    f0 = f0.to(torch.float64)
    idx = torch.nonzero(voiced > 0.5).squeeze(-1)
    if idx.numel() == 0:
        return torch.full_like(f0, default)
    if idx.numel() == 1:
        return torch.full_like(f0, float(f0[idx[0]]))
    t = torch.arange(f0.shape[0], dtype=torch.float64)
    logf = torch.log(f0[idx].clamp_min(1e-3))
    # neighbours idx[pos - 1] <= t <= idx[pos]; outside the voiced span the weight clamps
    pos = torch.searchsorted(idx.to(torch.float64), t).clamp(1, idx.numel() - 1)
    x0, x1 = idx[pos - 1].to(torch.float64), idx[pos].to(torch.float64)
    w = ((t - x0) / (x1 - x0)).clamp(0, 1)
    out = torch.exp(logf[pos - 1] * (1 - w) + logf[pos] * w)
    return torch.where(voiced > 0.5, f0, out)


def check_controls(
    controls: dict[str, torch.Tensor], sizes: dict[str, int], f0: torch.Tensor
) -> None:
    """Raise a clear error unless every control ``name`` is ``(*f0.shape, sizes[name])``.

    Shape: ``f0 (batch, frames)``, ``controls {name: (batch, frames, channels)}``.
    """
    for name, size in sizes.items():
        c = controls.get(name)
        if c is None or c.shape != (*f0.shape, size):
            got = None if c is None else tuple(c.shape)
            raise ValueError(f"control {name!r}: expected {(*f0.shape, size)}, got {got}")


def gate_voiced(x: torch.Tensor, voiced: torch.Tensor | None, hop_length: int) -> torch.Tensor:
    """Multiply a periodic source by the voicing flag, interpolated linearly to the sample rate.

    On- and offsets ramp over one hop (no clicks). ``voiced=None`` returns ``x`` unchanged (the
    encoder then has to learn to mute the source in unvoiced frames by itself).

    Shape: ``x (batch, frames * hop_length)``, ``voiced (batch, frames)`` in ``[0, 1]`` -> as ``x``.
    """
    if voiced is None:
        return x
    return x * upsample(voiced.to(x.dtype).unsqueeze(-1), hop_length)[..., 0]

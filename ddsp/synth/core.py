"""Small helpers shared by the synthesisers: control scaling and frame -> sample upsampling."""

from __future__ import annotations

import math

import torch

from ..dsp import device_assert, finite_values, host_reads_free, reads_skipped
from ..f0 import fill_unvoiced_f0
from ..filters.interpolate import upsample
from ..filters.lpc import logits_to_biquads
from ..filters.response import biquad_log_rms_gain
from ..spectral import _checks

__all__ = [
    "exp_sigmoid",
    "inverse_exp_sigmoid",
    "upsample",
    "fill_unvoiced_f0",
    "check_controls",
    "gate_voiced",
    "normalised_biquads",
    "check_settings",
]


def check_settings(
    sample_rate: float | None = None,
    hop_length: int | None = None,
    max_radius: float | None = None,
    at_least: dict[int, dict[str, object]] | None = None,
) -> None:
    """A synthesiser's constructor arguments, refused with their name and value before they
    reach a kernel (``table_size=0`` crashed the render kernel; ``n_tables=1``, ``hop_length=0``
    or ``lpc_order=0`` failed inside torch at the first call): a positive finite
    ``sample_rate``, a positive int ``hop_length``, ``0 < max_radius < 1``, and for each
    ``{minimum: {name: value}}`` an int ``>= minimum`` (``True`` and ``2.0`` are not)."""
    if sample_rate is not None:
        _checks.sample_rate(sample_rate)
    if hop_length is not None:
        _checks.positive_int("hop_length", hop_length)
    if max_radius is not None and not 0 < max_radius < 1:
        raise ValueError(f"max_radius must be in (0, 1), got {max_radius!r}")
    for minimum, counts in (at_least or {}).items():
        for name, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def exp_sigmoid(
    x: torch.Tensor, exponent: float = 10.0, max_value: float = 2.0, threshold: float = 1e-7
) -> torch.Tensor:
    """DDSP's positive output nonlinearity: ``max_value * sigmoid(x) ** ln(exponent) + threshold``.

    Shape: any -> same.
    """
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def inverse_exp_sigmoid(
    y: torch.Tensor, exponent: float = 10.0, max_value: float = 2.0, threshold: float = 1e-7
) -> torch.Tensor:
    """Inverse of :func:`exp_sigmoid` (float64 inside, ``y``'s dtype out). Values at or beyond
    the range ``(threshold, max_value + threshold)`` are clamped just inside it.

    Shape: any -> same.
    """
    s = ((y.double() - threshold) / max_value).clamp(1e-30, 1 - 1e-12) ** (1 / math.log(exponent))
    return torch.logit(s).to(y.dtype)


def check_controls(
    controls: dict[str, torch.Tensor], sizes: dict[str, int], f0: torch.Tensor
) -> None:
    """Raise a clear error unless ``f0`` is a float32 / float64 ``(batch, frames)`` tensor (at
    least one of each), every control ``name`` is ``(*f0.shape, sizes[name])`` in its dtype, every
    value is finite and ``f0 >= 0`` Hz (one reduction per tensor, frame rate: a synthesiser
    used to render NaN f0 into an error about its all-pole filter's input, and negative f0 as a
    backwards-running oscillator).

    Shape: ``f0 (batch, frames)``, ``controls {name: (batch, frames, channels)}``.
    """
    if not isinstance(f0, torch.Tensor) or f0.dtype not in (torch.float32, torch.float64):
        got = f0.dtype if isinstance(f0, torch.Tensor) else type(f0).__name__
        raise TypeError(f"f0 must be a float32 or float64 tensor, got {got}")
    if f0.dim() != 2 or 0 in f0.shape:
        raise ValueError(
            f"f0 must be (batch, frames) with at least one of each, got shape {tuple(f0.shape)}"
            + (" (one example: f0[None] and each control [None])" if f0.dim() == 1 else "")
        )
    for name, size in sizes.items():
        c = controls.get(name)
        if c is None or c.shape != (*f0.shape, size):
            got = None if c is None else tuple(c.shape)
            raise ValueError(f"control {name!r}: expected {(*f0.shape, size)}, got {got}")
        if c.dtype != f0.dtype:
            raise TypeError(f"control {name!r} is {c.dtype} but f0 is {f0.dtype}: use one dtype")
        finite_values(c, f"control {name!r}")
    finite_values(f0, "f0")
    if f0.numel() == 0 or reads_skipped(f0):
        return
    lowest = f0.detach().amin()
    if not host_reads_free(lowest):
        device_assert(lowest >= 0, "f0 must be >= 0 Hz")
    elif lowest < 0:
        i = int(torch.nonzero(f0.detach().reshape(-1) < 0)[0])
        raise ValueError(
            f"f0 must be >= 0 Hz, got {float(f0.reshape(-1)[i])} at flat index {i} of shape "
            f"{tuple(f0.shape)}"
        )


def gate_voiced(x: torch.Tensor, voiced: torch.Tensor | None, hop_length: int) -> torch.Tensor:
    """Multiply a periodic source by the voicing flag, interpolated linearly to the sample rate.

    On- and offsets ramp over one hop (no clicks). ``voiced=None`` returns ``x`` unchanged (the
    encoder then has to learn to mute the source in unvoiced frames by itself).

    Shape: ``x (batch, frames * hop_length)``, ``voiced (batch, frames)`` in ``[0, 1]`` -> as ``x``.
    """
    if voiced is None:
        return x
    return x * upsample(voiced.to(x.dtype).unsqueeze(-1), hop_length)[..., 0]


def normalised_biquads(
    controls: torch.Tensor, order: int, max_radius: float = 0.99, max_gain: float = 2.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """An all-pole vocal tract from raw controls: ``order / 2`` biquads in the triangle
    parameterisation (:func:`ddsp.filters.logits_to_biquads`) and the frame gain
    ``exp_sigmoid(last, max_value=max_gain) / rms_gain``, which normalises each frame's cascade
    to unit power gain (:func:`ddsp.filters.response.biquad_log_rms_gain`). Shared by GOLF and
    PULF.

    Shape: ``(batch, frames, order + 1)`` -> ``sos (batch, frames, order / 2, 2)``,
    ``gain (batch, frames)``.
    """
    b, f, _ = controls.shape
    sos = logits_to_biquads(controls[..., :order].reshape(b, f, order // 2, 2), max_radius)
    gain = exp_sigmoid(controls[..., order], max_value=max_gain)
    return sos, gain * torch.exp(-biquad_log_rms_gain(sos))

"""Argument checks shared by the front-ends and losses: one-line errors that name the argument
and its value (at construction, not deep inside a transform)."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable

import torch

from .. import dsp


def power(value, none_ok: bool = False) -> float | None:
    """``value`` if it is a finite number > 0 (the exponent of a magnitude: 1 magnitude, 2
    power), or ``None`` where ``none_ok`` (a complex output), else ``ValueError``: a power of
    0 or below makes every bin 1 or turns silent bins into ``inf``."""
    if value is None and none_ok:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        kinds = "1: magnitude, 2: power" + (", None: complex" if none_ok else "")
        raise ValueError(f"power must be a finite number > 0 ({kinds}), got {value!r}")
    return float(value)


def hop(hop_length, win_length: int) -> int:
    """``hop_length``, or librosa's default ``win_length // 4`` for ``None``; a positive int
    either way, else ``ValueError`` (a window under 4 samples has no default hop: it was 0, and
    the error named a ``hop_length`` the caller never passed). The one home of that default."""
    if hop_length is None:
        if win_length < 4:
            raise ValueError(
                f"hop_length defaults to win_length // 4, which is 0 for win_length={win_length}: "
                "pass hop_length"
            )
        return win_length // 4
    return positive_int("hop_length", hop_length)


def nonnegative(name: str, value) -> float:
    """``value`` if it is a finite number >= 0 (a loss term's weight, a smoothing width), else
    ``ValueError``: a NaN weight made the whole loss NaN, a negative one a loss that falls
    without bound."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def positive_int(name: str, value, none_ok: bool = False) -> int | None:
    """``value`` if it is a positive int (``1024.0`` and ``True`` are not), else ``ValueError``."""
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def stft_sizes(n_fft, hop_length=None, win_length=None) -> tuple[int, int | None, int | None]:
    """Check ``n_fft``, ``hop_length`` and ``win_length`` (``None`` allowed for the last two)."""
    n_fft = positive_int("n_fft", n_fft)
    hop_length = positive_int("hop_length", hop_length, none_ok=True)
    win_length = positive_int("win_length", win_length, none_ok=True)
    if win_length is not None and win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must be <= n_fft ({n_fft})")
    return n_fft, hop_length, win_length


def sample_rate(value, name: str = "sample_rate") -> float:
    """A positive, finite sample rate."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < float("inf")
    ):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def band(f_min: float, f_max: float | None, rate: float) -> float:
    """``0 <= f_min < f_max <= rate / 2``; returns ``f_max`` (Nyquist when ``None``)."""
    nyquist = rate / 2
    f_max = nyquist if f_max is None else f_max
    if not 0 <= f_min < f_max:
        raise ValueError(f"need 0 <= f_min < f_max, got f_min={f_min!r}, f_max={f_max!r}")
    if f_max > nyquist * (1 + 1e-9):
        raise ValueError(
            f"f_max={f_max!r} is above the Nyquist frequency {nyquist:g} of sample_rate={rate!r}"
        )
    return f_max


def warn_if_longer(n_fft: int, length: int, stacklevel: int = 3) -> None:
    """Warn (as librosa does) when the FFT is longer than the signal it analyses."""
    if n_fft > length:
        warnings.warn(
            f"n_fft={n_fft} is too large for an input signal of length={length}",
            stacklevel=stacklevel,
        )


def signal(x, name: str = "signals", finite: bool = True) -> None:
    """A real float32 or float64 tensor (what every front-end and loss computes in) with a time
    axis of at least one sample and, with ``finite``, no NaN or Inf
    (:func:`ddsp.dsp.finite_values`)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            f"{name} must be a real float32 or float64 tensor, got {x.dtype}"
            + ("" if x.is_complex() else " (cast it with .float())")
        )
    if x.dim() == 0 or x.shape[-1] == 0:
        raise ValueError(
            f"{name} must hold at least one sample on the last (time) axis, got shape "
            f"{tuple(x.shape)}"
        )
    if finite:
        dsp.finite_values(x, name)


def empty_batch(core: int) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """A transform of ``(..., *core dims)`` that also takes an empty batch (a 0 among the
    leading dims; the FFT libraries reject a batch of no transforms): it runs on one all-zero
    item, whose output gives the shape, and returns none of it. Shape: ``(0, ..., *core)`` ->
    ``(0, ..., *out core)``."""

    def wrap(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        @functools.wraps(fn)
        def run(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
            if x.numel() or x.dim() <= core or 0 in x.shape[-core:]:
                return fn(x, *args, **kwargs)
            out = fn(x.new_zeros(1, *x.shape[-core:]), *args, **kwargs)
            out = out[:0].reshape(*x.shape[:-core], *out.shape[1:])
            return out + x.sum() if x.requires_grad else out  # (in the graph, as a batch would be)

        return run

    return wrap

"""f0 helpers shared by data preparation, metrics and synthesis (a leaf: numpy and torch only).

``extract_f0``: f0 and voicing with WORLD (pyworld, imported on use): dio + stonemask (as the
GOLF papers) or harvest. Why WORLD: it is maintained, runs on the CPU in ~0.1 s per 10 s of
audio, needs no model weights or network, and is the tracker the GOLF papers used.
Torchaudio-based neural trackers (torchcrepe, torchfcpe, pesto) do not import against the CPU
torch build this project targets. ``fill_unvoiced_f0``: a continuous f0 through unvoiced frames.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = ["extract_f0", "fill_unvoiced_f0"]


def _check_range(sample_rate: int, hop_length: int, f0_min: float, f0_max: float) -> None:
    """The tracker's settings, named (``f0_min > f0_max`` had failed inside WORLD with
    ``std::bad_array_new_length``, ``hop_length=0`` with "negative dimensions")."""
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, int | float)
        or not sample_rate > 0
    ):
        raise ValueError(f"sample_rate must be a positive number, got {sample_rate!r}")
    if isinstance(hop_length, bool) or not isinstance(hop_length, int) or hop_length < 1:
        raise ValueError(f"hop_length must be a positive int, got {hop_length!r}")
    if not 0 < f0_min < f0_max <= sample_rate / 2:
        raise ValueError(
            f"need 0 < f0_min < f0_max <= sample_rate / 2 = {sample_rate / 2}, got {f0_min}, "
            f"{f0_max}"
        )


def extract_f0(
    x: np.ndarray,
    sample_rate: int,
    hop_length: int,
    f0_min: float = 60.0,
    f0_max: float = 800.0,
    method: str = "dio",
) -> tuple[np.ndarray, np.ndarray]:
    """Frame-wise f0 in Hz and a voicing flag.

    Frame ``k`` is centred at sample ``k * hop_length``, the same grid as a centred STFT.

    Args:
        x: ``(time,)`` mono audio.
        method: ``"dio"`` (fast; refined by stonemask) or ``"harvest"`` (slower, more robust
            on speech). Note: pyworld's harvest reports no voiced frame at all on perfectly
            clean synthetic tones (it works once there is noise, e.g. -40 dB); dio does not.

    Returns:
        ``f0: (frames,)`` (0 where unvoiced) and ``voiced: (frames,)`` bool, with
        ``frames = time // hop_length + 1``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyworld imports pkg_resources
        import pyworld

    x64 = np.ascontiguousarray(x, dtype=np.float64)
    if not np.isfinite(x64).all():  # WORLD reads NaN audio as unvoiced: a silently wrong track
        i = int(np.flatnonzero(~np.isfinite(x64))[0])
        raise ValueError(f"NaN or Inf in the audio (first at sample {i}: {x64.flat[i]})")
    _check_range(sample_rate, hop_length, f0_min, f0_max)
    period_ms = 1000.0 * hop_length / sample_rate
    if method == "dio":
        f0, t = pyworld.dio(
            x64, sample_rate, f0_floor=f0_min, f0_ceil=f0_max, frame_period=period_ms
        )
        f0 = pyworld.stonemask(x64, f0, t, sample_rate)
    elif method == "harvest":
        f0, _ = pyworld.harvest(
            x64, sample_rate, f0_floor=f0_min, f0_ceil=f0_max, frame_period=period_ms
        )
    else:
        raise ValueError(f"unknown f0 method {method!r}; use 'dio' or 'harvest'")
    frames = len(x) // hop_length + 1
    f0 = np.pad(f0, (0, max(0, frames - len(f0))))[:frames]
    f0[(f0 < f0_min) | (f0 > f0_max)] = 0.0
    return f0.astype(np.float32), f0 > 0


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

"""Loudness, f0 and voicing errors of a resynthesis, and real-time factor."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ..precision import full_precision
from ..spectral import _checks
from ..spectral.loudness import a_weighted_loudness

__all__ = ["loudness_error", "f0_errors", "real_time_factor"]


@full_precision
def loudness_error(
    pred: torch.Tensor, target: torch.Tensor, sample_rate: int, hop_length: int
) -> torch.Tensor:
    """Mean absolute difference of A-weighted loudness, in dB, over frames.

    Shape: ``(batch, time)`` -> ``(batch,)``.
    """
    lp = a_weighted_loudness(pred, sample_rate, hop_length)
    lt = a_weighted_loudness(target, sample_rate, hop_length)
    return (lp - lt).abs().mean(-1)


@full_precision
def f0_errors(
    pred: torch.Tensor,
    f0_target: torch.Tensor,
    voiced_target: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    method: str = "dio",
) -> tuple[torch.Tensor, torch.Tensor]:
    """f0 of the resynthesis re-extracted with the data pipeline's tracker, against the target.

    Returns:
        ``(cents, voicing)``, each ``(batch,)``: mean absolute f0 error in cents over frames voiced
        in both (NaN where there are none), and the fraction of frames whose voicing disagrees.
    """
    from ..f0 import extract_f0

    cents, voicing = [], []
    for y, f0, v in zip(
        pred.detach().cpu().double().numpy(),
        f0_target.cpu().numpy(),
        voiced_target.cpu().numpy(),
        strict=True,
    ):
        est, ev = extract_f0(y, sample_rate, hop_length, method=method)
        n = min(len(est), len(f0))
        both = ev[:n] & (v[:n] > 0.5)
        err = (
            np.abs(1200 * np.log2(est[:n][both] / f0[:n][both]))
            if both.any()
            else np.array([np.nan])
        )
        cents.append(float(err.mean()))
        voicing.append(float((ev[:n] != (v[:n] > 0.5)).mean()))
    return torch.tensor(cents), torch.tensor(voicing)


def real_time_factor(fn: Callable[[], object], seconds_of_audio: float, repeats: int = 10) -> float:
    """Wall time of ``fn()`` / audio duration: median of ``repeats`` after dropping the min and
    max (as GOLF reports RTF)."""
    _checks.positive_int("repeats", repeats)
    if not 0 < seconds_of_audio < float("inf"):
        raise ValueError(f"seconds_of_audio must be a positive number, got {seconds_of_audio!r}")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times = sorted(times)[1:-1] if repeats > 2 else times
    return float(np.median(times)) / seconds_of_audio

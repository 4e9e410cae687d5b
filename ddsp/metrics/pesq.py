"""Wide-band PESQ (ITU-T P.862.2) of a resynthesis against its reference, via the ``pesq``
package (an optional dependency; GOLF's papers report it)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..losses.stft import check_pair
from ..precision import full_precision

__all__ = ["pesq_wb"]


@full_precision
def pesq_wb(pred: torch.Tensor, target: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """PESQ-WB (MOS-LQO, about 1.0 ... 4.6) per example, at 16 kHz (resampled with soxr when
    ``sample_rate`` differs). NaN where PESQ cannot score: it finds no speech (e.g. a silent
    reference) or the clip is shorter than its minimum of a quarter second.

    Shape: ``(batch, time)`` -> ``(batch,)``.
    """
    try:
        from pesq import NoUtterancesError, pesq
    except ImportError as e:  # pragma: no cover - the message is the point
        raise ImportError("PESQ needs the 'pesq' package: pip install 'ddsp-lpc[train]'") from e
    check_pair(pred, target, 2)  # one shape and dtype, finite (NaN failed inside the package)
    out = []
    for y, x in zip(
        pred.detach().cpu().double().numpy(), target.detach().cpu().double().numpy(), strict=True
    ):
        if sample_rate != 16000:
            import soxr

            y, x = soxr.resample(y, sample_rate, 16000), soxr.resample(x, sample_rate, 16000)
        if len(x) < 4000:  # P.862's minimum; the package raises BufferTooShortError below it
            out.append(math.nan)
            continue
        try:
            out.append(pesq(16000, np.ascontiguousarray(x), np.ascontiguousarray(y), "wb"))
        except NoUtterancesError:
            out.append(math.nan)
    return torch.tensor(out, dtype=torch.float64)

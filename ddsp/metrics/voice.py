"""Measurements of a voice for checking edits: f0 in cents, formants by LPC root-finding, H1-H2.

All work on one recording at a time and return frame tracks on the pipeline's grid (frame
``k`` centred at sample ``k * hop_length``) with NaN where a frame has no measurement.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from ..dsp import finite_values
from ..f0 import extract_f0
from ..filters.analysis import autocorrelation, levinson_durbin
from ..filters.lpc import lpc_roots
from ..precision import full_precision
from ..spectral import _checks
from ..spectral.functional import get_window, stft_power

__all__ = ["f0_track", "cents", "smoothed_f0", "formant_tracks", "h1_h2"]


@full_precision
def f0_track(
    audio: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    f0_min: float = 40.0,
    f0_max: float = 1000.0,
    method: str = "dio",
) -> torch.Tensor:
    """f0 re-extracted with the data pipeline's tracker (:func:`ddsp.f0.extract_f0`), NaN where
    unvoiced. The default range is wider than training's, so that edits to 40 Hz or 1 kHz are
    measured rather than cut off.

    Shape: ``(time,)`` -> ``(time // hop_length + 1,)`` float64.
    """
    x = audio.detach().cpu().double().numpy()
    f0, voiced = extract_f0(x, sample_rate, hop_length, f0_min, f0_max, method)
    return torch.from_numpy(np.where(voiced, f0, np.nan).astype(np.float64))


def cents(f: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``1200 log2(f / reference)``; NaN where either is NaN or not positive. Shape: same."""
    f, reference = f.double(), reference.double()
    ok = (f > 0) & (reference > 0)
    return torch.where(
        ok, 1200 * torch.log2(f.clamp_min(1e-9) / reference.clamp_min(1e-9)), math.nan
    )


def smoothed_f0(f0: torch.Tensor, frames: int = 5) -> torch.Tensor:
    """A moving average of log f0 over ``frames`` frames (fewer at the edges): a request an f0
    tracker can follow. WORLD's dio + stonemask on real speech gives contours that jump by about
    37 cents from one 10 ms frame to the next (median, a shipped recording); rendered exactly,
    such a contour re-tracks at 8-14 cents median error, a 5-frame (50 ms) average at about 7.

    Shape: ``(..., n)`` -> same.
    """
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1 or frames % 2 == 0:
        raise ValueError(f"frames must be an odd int >= 1 (a centred average), got {frames!r}")
    lead = f0.shape[:-1]
    lf = torch.log(f0.double().clamp_min(1e-3)).reshape(-1, 1, f0.shape[-1])
    pool = torch.nn.functional.avg_pool1d(lf, frames, 1, frames // 2, count_include_pad=False)
    return torch.exp(pool).reshape(*lead, -1)[..., : f0.shape[-1]].to(f0.dtype)


@full_precision
def formant_tracks(
    audio: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    n_formants: int = 3,
    max_formant: float = 5500.0,
    n_poles: int = 5,
    frame_ms: float = 25.0,
    min_hz: float = 50.0,
) -> torch.Tensor:
    """Formant frequencies by LPC root-finding with Praat's defaults ("To Formant"): the audio
    resampled to ``2 * max_formant`` Hz (soxr), pre-emphasis from 50 Hz, a 25 ms Hann window,
    ``n_poles`` pole pairs (order ``2 * n_poles``), and every root whose angle lies between
    ``min_hz`` and ``max_formant - min_hz``, sorted by frequency. Like Praat's, it assumes about ``n_poles``
    formants below ``max_formant`` (an adult voice; use 5000 Hz for a low male voice).

    Shape: ``(time,)`` -> ``(time // hop_length + 1, n_formants)`` Hz float64, NaN where a
    frame has fewer roots in range (or is silent).
    """
    import soxr

    finite_values(audio, "audio")
    _checks.positive_int("n_formants", n_formants)
    _checks.positive_int("n_poles", n_poles)
    rate = 2 * max_formant
    if not round(frame_ms * rate / 1000) > 2 * n_poles:
        raise ValueError(
            f"frame_ms={frame_ms!r} holds {round(frame_ms * rate / 1000)} samples at "
            f"{rate:g} Hz, fewer than an order-{2 * n_poles} LPC needs"
        )
    x = audio.detach().cpu().double().numpy()
    x = torch.from_numpy(soxr.resample(x, sample_rate, rate, quality="HQ").copy())
    x = torch.cat([x[:1], x[1:] - math.exp(-2 * math.pi * 50 / rate) * x[:-1]])
    frame = round(frame_ms * rate / 1000)
    n = len(audio) // hop_length + 1
    centres = torch.round(torch.arange(n, dtype=torch.float64) * hop_length * rate / sample_rate)
    idx = centres.long().unsqueeze(-1) + torch.arange(frame) - frame // 2 + frame
    x = torch.nn.functional.pad(x, (frame, 2 * frame))
    frames = x[idx.clamp(0, len(x) - 1)] * get_window("hann", frame, dtype=torch.float64)
    r = autocorrelation(frames, 2 * n_poles)
    silent = r[:, 0] <= 1e-20 * r[:, 0].max().clamp_min(1e-300)
    r = torch.cat([r[:, :1].clamp_min(1e-300), r[:, 1:]], dim=-1)
    a = levinson_durbin(r, 2 * n_poles)[0]  # (frames, order)
    roots = lpc_roots(a)  # (frames, order)
    hz = roots.angle() * rate / (2 * math.pi)
    ok = (hz > min_hz) & (hz < max_formant - min_hz)
    hz = torch.where(ok, hz, math.inf).sort(-1).values[:, :n_formants]
    return torch.where(torch.isinf(hz) | silent.unsqueeze(-1), math.nan, hz)


@full_precision
def h1_h2(
    audio: torch.Tensor,
    f0: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    n_fft: int = 2048,
    oversample: int = 4,
) -> torch.Tensor:
    """H1-H2: the level of the first harmonic over the second's, in dB, per frame: the largest
    magnitude within 10 % of ``f0`` and of ``2 f0`` in a Hann-windowed spectrum of ``n_fft``
    samples, zero-padded ``oversample`` times and refined by a parabola through the peak's
    log-magnitude and its neighbours (scalloping below 0.05 dB). Uncorrected for formants:
    compare renders through one vocal tract.

    Shape: ``audio (time,)``, ``f0 (frames,)`` Hz (NaN or 0 = skip) -> ``(frames,)`` dB.
    """
    _checks.positive_int("oversample", oversample)
    size = n_fft * oversample  # a centred Hann window of n_fft zero-padded to size
    with warnings.catch_warnings():  # the padded FFT may be longer than a short clip: fine
        warnings.filterwarnings("ignore", "n_fft=.* is too large")
        mag = stft_power(audio.detach().cpu().double(), size, hop_length, n_fft, "hann")
    db = 20 * torch.log10(mag.T.clamp_min(1e-12))  # (frames, bins)
    n = min(len(db), len(f0))
    db, f0 = db[:n], f0[:n].double()
    bins = torch.arange(db.shape[-1], dtype=torch.float64) * sample_rate / size

    def peak(f: torch.Tensor) -> torch.Tensor:
        near = (bins - f.unsqueeze(-1)).abs() <= 0.1 * f.unsqueeze(-1)
        k = torch.where(near, db, -math.inf).argmax(-1, keepdim=True).clamp(1, db.shape[-1] - 2)
        left, mid, right = db.gather(-1, k - 1), db.gather(-1, k), db.gather(-1, k + 1)
        curve = left - 2 * mid + right
        shift = torch.where(curve < 0, 0.5 * (left - right) / curve, 0.0)
        return (mid - 0.25 * (left - right) * shift)[..., 0]

    ok = torch.nan_to_num(f0) > 0
    f = torch.where(ok, f0, 100.0)
    return torch.where(ok, peak(f) - peak(2 * f), math.nan)

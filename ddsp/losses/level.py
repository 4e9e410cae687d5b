"""Frame-level losses: the output's level per frame (and per frequency band) against the
target's, in dB.

A spectral loss of L1 type under-estimates the level of anything it cannot predict exactly
(noise, smeared harmonics: the L1 optimum of a random magnitude is below its RMS), so vocoders
trained on MSS alone come out 1-2 dB too quiet. Matching the frame energies directly removes
that bias at little cost to the spectral terms. The bias is not flat over frequency: with the
overall level matched, the many-voices GOLF model still came out 1-6 dB short between 1 and
3 kHz in voiced frames (where harmonics are least predictable), which is where A-weighted
loudness weighs most; :class:`BandLevelLoss` matches the level of each band.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from ..precision import full_precision
from ..spectral import _checks
from ..spectral.functional import stft_power
from ..spectral.loudness import butterworth_highpass
from .stft import check_pair

__all__ = ["FrameLevelLoss", "BandLevelLoss", "CombinedLoss"]


class FrameLevelLoss(nn.Module):
    """Mean absolute difference of the frame levels ``10 log10(mean x^2)`` of input and target.

    Frames of ``frame_length`` samples every ``hop_length``; both levels are floored
    ``range_db`` below the target's loudest frame (per example), so near-silent frames weigh
    no more than that and digital silence gives no infinite log.

    ``highpass_hz > 0`` (with ``sample_rate``) measures both levels above that frequency
    (:func:`ddsp.spectral.butterworth_highpass`), as the vocoders' level track does: rumble below
    the voice, which no vocoder here renders, then does not ask for energy in the voice band.

    Shape: ``input, target: (batch, ..., time)`` -> scalar.
    """

    def __init__(
        self,
        frame_length: int = 640,
        hop_length: int = 160,
        range_db: float = 60.0,
        highpass_hz: float = 0.0,
        sample_rate: int | None = None,
    ):
        super().__init__()
        if not (highpass_hz == 0 or (sample_rate and 0 < highpass_hz < sample_rate / 2)):
            raise ValueError(
                "highpass_hz must be 0, or between 0 and the Nyquist frequency with sample_rate; "
                f"got {highpass_hz}, {sample_rate}"
            )
        self.highpass = highpass_hz / sample_rate if highpass_hz > 0 else 0.0
        if not 0 < hop_length <= frame_length:
            raise ValueError(
                f"need 0 < hop_length <= frame_length, got {hop_length}, {frame_length}"
            )
        if not range_db > 0:
            raise ValueError(f"range_db must be > 0, got {range_db}")
        self.frame_length, self.hop_length, self.range_db = frame_length, hop_length, range_db

    def levels(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, ..., time)`` -> ``(batch, ..., frames)`` frame levels in dB."""
        if x.shape[-1] < self.frame_length:
            raise ValueError(
                f"signals of {x.shape[-1]} samples are too short for frames of {self.frame_length}"
            )
        if self.highpass > 0:
            x = butterworth_highpass(x, self.highpass)
        power = F.avg_pool1d(
            x.reshape(-1, 1, x.shape[-1]).square(), self.frame_length, self.hop_length
        )
        return 10 * torch.log10(power.reshape(*x.shape[:-1], -1) + 1e-20)

    @full_precision
    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target, self.frame_length)
        lt = self.levels(target)
        floor = lt.flatten(1).amax(-1).reshape(-1, *[1] * (lt.dim() - 1)) - self.range_db
        li = self.levels(input)
        return (torch.maximum(li, floor) - torch.maximum(lt, floor)).abs().mean()


class BandLevelLoss(nn.Module):
    """Mean absolute difference, in dB, of the frame levels of input and target in frequency bands.

    Each frame (a Hann window of ``frame_length`` samples every ``hop_length``, centred as the
    STFT) has one level per band, ``10 log10`` of its power in ``[edge_k, edge_k+1)`` Hz (the last
    band includes its upper edge). Both levels are floored ``range_db`` below the target's
    loudest frame in that band (per example), as :class:`FrameLevelLoss` does for one band.
    With one band from the voice's lowest f0 to Nyquist it is that loss with a Hann window;
    with several it also asks for the right spectral balance, frame by frame, which a spectral
    L1 loss leaves biased low wherever the output cannot be predicted exactly.

    Args:
        sample_rate: Hz.
        band_edges_hz: increasing edges, the first >= 0 and the last <= ``sample_rate / 2``;
            every band must hold at least one FFT bin of ``frame_length``.
        frame_length, hop_length: the frames, in samples.
        range_db: how far below each band's loudest target frame the levels are floored.

    Shape: ``input, target: (batch, ..., time)`` -> scalar.
    """

    def __init__(
        self,
        sample_rate: int,
        band_edges_hz: tuple[float, ...] = (60.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0),
        frame_length: int = 640,
        hop_length: int = 160,
        range_db: float = 60.0,
    ):
        super().__init__()
        edges = [float(e) for e in band_edges_hz]
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        if (
            len(edges) < 2
            or edges[0] < 0
            or edges[-1] > sample_rate / 2
            or any(b <= a for a, b in pairwise(edges))
        ):
            raise ValueError(
                "band_edges_hz must be at least two increasing frequencies in "
                f"[0, sample_rate / 2 = {sample_rate / 2}], got {band_edges_hz}"
            )
        if not 0 < hop_length <= frame_length:
            raise ValueError(
                f"need 0 < hop_length <= frame_length, got {hop_length}, {frame_length}"
            )
        if not range_db > 0:
            raise ValueError(f"range_db must be > 0, got {range_db}")
        freqs = torch.fft.rfftfreq(frame_length, 1.0 / sample_rate, dtype=torch.float64)
        bands = []
        for k, (lo, hi) in enumerate(pairwise(edges)):
            last = k == len(edges) - 2
            band = (freqs >= lo) & ((freqs <= hi) if last else (freqs < hi))
            if not band.any():
                raise ValueError(
                    f"band {k} [{lo}, {hi}) Hz holds no FFT bin of frame_length={frame_length} "
                    f"at {sample_rate} Hz (bin spacing {sample_rate / frame_length:.1f} Hz)"
                )
            bands.append(band)
        self.register_buffer("bands", torch.stack(bands).float(), persistent=False)
        self.frame_length, self.hop_length, self.range_db = frame_length, hop_length, range_db

    def levels(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, ..., time)`` -> ``(batch, ..., bands, frames)`` band levels in dB."""
        if x.shape[-1] < self.frame_length:
            raise ValueError(
                f"signals of {x.shape[-1]} samples are too short for frames of {self.frame_length}"
            )
        power = stft_power(x, self.frame_length, self.hop_length, power=2.0)
        return 10 * torch.log10(self.bands.to(power.dtype) @ power + 1e-20)

    @full_precision
    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target, self.frame_length)
        lt = self.levels(target)
        floor = lt.amax(-1, keepdim=True) - self.range_db
        li = self.levels(input)
        return (torch.maximum(li, floor) - torch.maximum(lt, floor)).abs().mean()


class CombinedLoss(nn.Module):
    """A weighted sum of losses, each called as ``loss(input, target)``.

    Args:
        terms: ``{name: loss module}``.
        weights: ``{name: weight}``; missing names weigh 1.

    Shape: as the terms (scalar for the vocoders' losses).
    """

    def __init__(self, terms: dict[str, nn.Module], weights: dict[str, float] | None = None):
        super().__init__()
        weights = dict(weights or {})
        unknown = set(weights) - set(terms)
        if unknown:
            raise ValueError(
                f"weights for unknown terms {sorted(unknown)}; terms are {sorted(terms)}"
            )
        self.terms = nn.ModuleDict(terms)
        self.weights = {
            k: _checks.nonnegative(f"weight of {k!r}", weights.get(k, 1.0)) for k in terms
        }

    @full_precision
    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(w * self.terms[k](input, target) for k, w in self.weights.items())

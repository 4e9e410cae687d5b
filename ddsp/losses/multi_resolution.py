"""Multi-resolution, random-resolution and sum-and-difference (stereo) STFT losses."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import nn

from ..precision import full_precision
from ..spectral import _checks
from .stft import STFTLoss, check_pair

__all__ = [
    "PRESETS",
    "golf_mss",
    "MultiResolutionSTFTLoss",
    "RandomResolutionSTFTLoss",
    "SumAndDifferenceSTFTLoss",
]

PRESETS: dict[str, dict] = {
    # auraloss.freq.MultiResolutionSTFTLoss defaults (0.4.0): SC + natural-log L1, mean
    "auraloss": dict(
        fft_sizes=(1024, 2048, 512),
        hop_sizes=(120, 240, 50),
        win_lengths=(600, 1200, 240),
        aggregate="mean",
    ),
    # DDSP (Engel et al. 2020): 2048 ... 64, 75 % overlap, L1 on linear and natural-log magnitude
    "ddsp": dict(
        fft_sizes=(2048, 1024, 512, 256, 128, 64),
        hop_sizes=(512, 256, 128, 64, 32, 16),
        win_lengths=(2048, 1024, 512, 256, 128, 64),
        w_sc=0.0,
        w_log_mag=1.0,
        w_lin_mag=1.0,
        aggregate="sum",
    ),
    # GOLF (Interspeech 2024): primes 509/1021/2053, hop n // 4, L1 linear + L1 log2, summed over
    # scales (the sum is our reading of the published values, ~3 for three scales)
    "golf": dict(
        fft_sizes=(509, 1021, 2053),
        hop_sizes=(127, 255, 513),
        win_lengths=(509, 1021, 2053),
        w_sc=0.0,
        w_log_mag=1.0,
        w_lin_mag=1.0,
        log_base=2,
        aggregate="sum",
    ),
}


class MultiResolutionSTFTLoss(nn.Module):
    """Sum or mean of :class:`STFTLoss` over several resolutions.

    Args:
        fft_sizes, hop_sizes, win_lengths: one entry per resolution (auraloss defaults).
        aggregate: ``"mean"`` over resolutions (auraloss) or ``"sum"`` (DDSP, GOLF).
        preset: ``"auraloss"``, ``"ddsp"`` or ``"golf"`` (see :data:`PRESETS`); explicit
            arguments given with a preset override it.
        **kwargs: passed to every :class:`STFTLoss` (weights, ``log_base``, ``scale``,
            ``reduction``, ...).

    Shape:
        ``input, target: (batch, ..., time)`` -> scalar, or ``(batch,)`` for ``"none"``.
    """

    def __init__(
        self,
        fft_sizes: Sequence[int] | None = None,
        hop_sizes: Sequence[int] | None = None,
        win_lengths: Sequence[int] | None = None,
        aggregate: str | None = None,
        preset: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        if preset is not None and preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        cfg = {**PRESETS["auraloss"], **PRESETS.get(preset or "auraloss", {})}
        given = dict(
            fft_sizes=fft_sizes, hop_sizes=hop_sizes, win_lengths=win_lengths, aggregate=aggregate
        )
        cfg.update({k: v for k, v in given.items() if v is not None})
        ffts, hops, wins = cfg.pop("fft_sizes"), cfg.pop("hop_sizes"), cfg.pop("win_lengths")
        if not len(ffts) == len(hops) == len(wins):
            raise ValueError(
                f"fft_sizes, hop_sizes and win_lengths must have equal lengths, got "
                f"{len(ffts)}, {len(hops)} and {len(wins)}"
            )
        if not ffts:
            raise ValueError("fft_sizes is empty: give at least one resolution")
        self.aggregate = cfg.pop("aggregate")
        if self.aggregate not in ("mean", "sum"):
            raise ValueError(f"aggregate must be 'mean' or 'sum', got {self.aggregate!r}")
        cfg.update(kwargs)
        self.max_fft = max(ffts)
        self.losses = nn.ModuleList(
            STFTLoss(n, h, w, **cfg) for n, h, w in zip(ffts, hops, wins, strict=True)
        )

    @full_precision
    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target, self.max_fft)
        total = sum(loss.compute(input, target) for loss in self.losses)
        return total / len(self.losses) if self.aggregate == "mean" else total


def golf_mss() -> MultiResolutionSTFTLoss:
    """GOLF's MSS metric, exactly its formula (clamped magnitudes, plain L1, no conditioning
    floor): the validation/test metric and the evaluation tables, comparable with the papers.

    Shape: ``input, target: (batch, ..., time)`` -> scalar.
    """
    return MultiResolutionSTFTLoss(preset="golf", floor_db=None, smooth_l1=0.0)


class RandomResolutionSTFTLoss(nn.Module):
    """Mean of :class:`STFTLoss` at resolutions drawn at random every ``randomize_rate`` calls.

    As ``auraloss.freq.RandomResolutionSTFTLoss``: FFT sizes ``2**k`` in
    ``[min_fft_size, max_fft_size)``, hop a random fraction in ``[min_hop, max_hop)`` of the
    FFT size, window length 1, 1/2 or 1/4 of it, a random window. Differences: draws come from
    a seedable ``torch.Generator`` (repeatable), and sizes larger than the signal are not drawn
    (auraloss raises unless every input is longer than ``max_fft_size``).

    Shape:
        ``input, target: (batch, ..., time)`` -> scalar, or ``(batch,)`` for ``"none"``.
    """

    def __init__(
        self,
        resolutions: int = 3,
        min_fft_size: int = 16,
        max_fft_size: int = 32768,
        min_hop_size: float = 0.1,
        max_hop_size: float = 1.0,
        windows: Sequence[str] = ("hann", "bartlett", "blackman", "hamming"),
        randomize_rate: int = 1,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        _checks.positive_int("resolutions", resolutions)
        _checks.positive_int("randomize_rate", randomize_rate)
        _checks.positive_int("min_fft_size", min_fft_size)
        if _checks.positive_int("max_fft_size", max_fft_size) <= min_fft_size:
            raise ValueError(
                f"max_fft_size must be above min_fft_size={min_fft_size}, got {max_fft_size}"
            )
        if not 0 < min_hop_size <= max_hop_size <= 1:
            raise ValueError(
                "hop fractions must satisfy 0 < min_hop_size <= max_hop_size <= 1, got "
                f"{min_hop_size!r}, {max_hop_size!r}"
            )
        if isinstance(windows, str) or not windows:
            raise ValueError(f"windows must be a non-empty sequence of names, got {windows!r}")
        with warnings.catch_warnings():  # each STFTLoss is built when drawn: a bad setting
            warnings.simplefilter("ignore")  # (window, loss argument) fails now, not at a draw
            for window in windows:
                STFTLoss(min_fft_size, min_fft_size, min_fft_size, window, **kwargs)
        self.resolutions, self.randomize_rate = resolutions, randomize_rate
        self.min_fft, self.max_fft = min_fft_size, max_fft_size
        self.min_hop, self.max_hop, self.windows = min_hop_size, max_hop_size, tuple(windows)
        self.kwargs = kwargs
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)
        self.calls = 0
        self.losses: list[STFTLoss] = []

    def _draw(self, length: int) -> None:
        lo = max(self.min_fft.bit_length() - 1, 1)
        hi = min(self.max_fft.bit_length() - 1, (2 * length - 1).bit_length() - 2)
        if hi <= lo - 1:
            raise ValueError(
                f"signals of {length} samples are too short for an FFT of {self.min_fft}"
            )
        self.losses = []
        for _ in range(self.resolutions):
            n = 2 ** int(torch.randint(lo, max(hi, lo + 1), (), generator=self.generator))
            frac = self.min_hop + float(torch.rand((), generator=self.generator)) * (
                self.max_hop - self.min_hop
            )
            win = int(n * (1.0, 0.5, 0.25)[int(torch.randint(3, (), generator=self.generator))])
            window = self.windows[
                int(torch.randint(len(self.windows), (), generator=self.generator))
            ]
            self.losses.append(
                STFTLoss(n, max(1, int(n * frac)), max(win, 1), window, **self.kwargs)
            )

    @full_precision
    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target, self.min_fft)
        if not self.losses or self.calls % self.randomize_rate == 0:
            self._draw(input.shape[-1])
        self.calls += 1
        dev = dict(device=input.device)
        return sum(loss.to(**dev).compute(input, target) for loss in self.losses) / len(self.losses)


class SumAndDifferenceSTFTLoss(nn.Module):
    """Stereo loss on mid (L + R) and side (L - R) signals (as auraloss's):
    ``(w_sum * MRSTFT(sum) + w_diff * MRSTFT(diff)) / 2``.

    Args:
        w_sum, w_diff: weights of the two terms.
        **kwargs: passed to :class:`MultiResolutionSTFTLoss` (sizes, preset, weights, ...).

    Shape:
        ``input, target: (batch, 2, time)`` -> scalar, or ``(batch,)`` for ``"none"``.
    """

    def __init__(self, w_sum: float = 1.0, w_diff: float = 1.0, **kwargs) -> None:
        super().__init__()
        self.w_sum, self.w_diff = w_sum, w_diff
        self.mrstft = MultiResolutionSTFTLoss(**kwargs)

    @full_precision
    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if input.dim() != 3 or input.shape[1] != 2:
            raise ValueError(f"expected stereo (batch, 2, time), got {tuple(input.shape)}")
        s = self.mrstft(input.sum(1, keepdim=True), target.sum(1, keepdim=True))
        d = self.mrstft(
            (input[:, 0] - input[:, 1]).unsqueeze(1), (target[:, 0] - target[:, 1]).unsqueeze(1)
        )
        return (self.w_sum * s + self.w_diff * d) / 2

"""Single- and multi-resolution STFT losses (auraloss-compatible terms, per-example reduction)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..spectral import functional as SF

__all__ = ["STFTLoss", "MultiResolutionSTFTLoss", "PRESETS"]

_LOG = {"e": 1.0, 2: 1.0 / math.log(2.0), 10: 1.0 / math.log(10.0)}

PRESETS: dict[str, dict] = {
    # auraloss.freq.MultiResolutionSTFTLoss defaults (0.4.0)
    "auraloss": dict(
        fft_sizes=(1024, 2048, 512), hop_sizes=(120, 240, 50), win_lengths=(600, 1200, 240)
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
    # GOLF (Interspeech 2024): primes 509/1021/2053, hop n/4, L1 linear + L1 log2
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


class STFTLoss(nn.Module):
    """Spectral loss at one resolution.

    ``loss = w_sc * SC + w_log_mag * mean|log Y_hat - log Y| + w_lin_mag * mean|Y_hat - Y|``
    with magnitudes ``sqrt(clamp(re**2 + im**2, eps))`` (as auraloss, finite at silence).

    Args:
        fft_size, hop_size, win_length, window: STFT settings (``center=True``).
        w_sc, w_log_mag, w_lin_mag: term weights (auraloss defaults 1, 1, 0).
        log_base: ``"e"`` (auraloss), ``2`` (GOLF) or ``10``.
        distance: ``"L1"`` or ``"L2"`` for the magnitude terms.
        pad_mode: ``"reflect"`` (auraloss / torch.stft default) or ``"constant"``.
        reduction: ``"mean"`` over examples, ``"sum"``, or ``"none"``: one value per example.
        sc_over_batch: compute spectral convergence over the whole batch tensor as auraloss
            does (then it is the same number for every example); default per example.
        eps: power floor.

    Shape:
        ``input, target: (batch, ..., time)`` -> scalar, or ``(batch,)`` for ``"none"``.
    """

    def __init__(
        self,
        fft_size: int = 1024,
        hop_size: int = 256,
        win_length: int | None = None,
        window: str = "hann",
        w_sc: float = 1.0,
        w_log_mag: float = 1.0,
        w_lin_mag: float = 0.0,
        log_base: str | int = "e",
        distance: str = "L1",
        pad_mode: str = "reflect",
        reduction: str = "mean",
        sc_over_batch: bool = False,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        if log_base not in _LOG:
            raise ValueError(f"log_base must be 'e', 2 or 10, got {log_base!r}")
        if distance not in ("L1", "L2"):
            raise ValueError(f"distance must be 'L1' or 'L2', got {distance!r}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.fft_size, self.hop_size = fft_size, hop_size
        self.win_length = fft_size if win_length is None else win_length
        self.w_sc, self.w_log_mag, self.w_lin_mag = w_sc, w_log_mag, w_lin_mag
        self.log_scale = _LOG[log_base]
        self.distance, self.pad_mode, self.reduction = distance, pad_mode, reduction
        self.sc_over_batch, self.eps = sc_over_batch, eps
        self.window = window  # built in the input dtype on use (bit-equal to auraloss in float32)

    def magnitude(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, ..., time)`` -> ``(batch, -1, frames)`` magnitudes."""
        spec = SF.stft(
            x.reshape(x.shape[0], -1, x.shape[-1]),
            self.fft_size,
            self.hop_size,
            self.win_length,
            self.window,
            center=True,
            pad_mode=self.pad_mode,
        )
        return SF.magnitude(spec, 1.0, self.eps).flatten(1, 2)

    def _dist(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d = (a - b).abs() if self.distance == "L1" else (a - b).square()
        return d.flatten(1).mean(dim=1)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target, self.fft_size)
        x_mag = self.magnitude(input)
        if target.requires_grad:
            y_mag = self.magnitude(target)
        else:
            with torch.no_grad():
                y_mag = self.magnitude(target)
        loss = x_mag.new_zeros(x_mag.shape[0])
        if self.w_sc:
            if self.sc_over_batch:
                sc = torch.linalg.vector_norm(y_mag - x_mag) / torch.linalg.vector_norm(y_mag)
            else:
                sc = torch.linalg.vector_norm((y_mag - x_mag).flatten(1), dim=1)
                sc = sc / torch.linalg.vector_norm(y_mag.flatten(1), dim=1)
            loss = loss + self.w_sc * sc
        if self.w_log_mag:
            loss = loss + self.w_log_mag * self._dist(
                torch.log(x_mag) * self.log_scale, torch.log(y_mag) * self.log_scale
            )
        if self.w_lin_mag:
            loss = loss + self.w_lin_mag * self._dist(x_mag, y_mag)
        return _reduce(loss, self.reduction)


class MultiResolutionSTFTLoss(nn.Module):
    """Sum or mean of :class:`STFTLoss` over several resolutions.

    Args:
        fft_sizes, hop_sizes, win_lengths: one entry per resolution (auraloss defaults).
        aggregate: ``"mean"`` over resolutions (auraloss) or ``"sum"`` (DDSP, GOLF).
        preset: ``"auraloss"``, ``"ddsp"`` or ``"golf"`` (see :data:`PRESETS`); explicit
            arguments given alongside a preset override it.
        **kwargs: passed to every :class:`STFTLoss` (weights, ``log_base``, ``reduction``...).

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
        cfg = dict(PRESETS["auraloss"], aggregate="mean")
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
            cfg.update(PRESETS[preset])
        for key, val in dict(
            fft_sizes=fft_sizes, hop_sizes=hop_sizes, win_lengths=win_lengths, aggregate=aggregate
        ).items():
            if val is not None:
                cfg[key] = val
        ffts, hops, wins = cfg.pop("fft_sizes"), cfg.pop("hop_sizes"), cfg.pop("win_lengths")
        if not len(ffts) == len(hops) == len(wins):
            raise ValueError("fft_sizes, hop_sizes and win_lengths must have equal lengths")
        self.aggregate = cfg.pop("aggregate")
        if self.aggregate not in ("mean", "sum"):
            raise ValueError(f"aggregate must be 'mean' or 'sum', got {self.aggregate!r}")
        cfg.update(kwargs)
        self.max_fft = max(ffts)
        self.losses = nn.ModuleList(
            STFTLoss(int(n), int(h), int(w), **cfg)
            for n, h, w in zip(ffts, hops, wins, strict=True)
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_pair(input, target, self.max_fft)
        total = sum(loss(input, target) for loss in self.losses)
        return total / len(self.losses) if self.aggregate == "mean" else total


def check_pair(input: torch.Tensor, target: torch.Tensor, min_length: int) -> None:
    """Raise a clear error for mismatched, too short or non-finite inputs."""
    if input.shape != target.shape:
        raise ValueError(f"input shape {tuple(input.shape)} != target shape {tuple(target.shape)}")
    if input.dim() < 2:
        raise ValueError(f"expected (batch, ..., time), got shape {tuple(input.shape)}")
    if input.shape[-1] <= min_length // 2:
        raise ValueError(
            f"signals of {input.shape[-1]} samples are too short for an FFT of {min_length}"
        )
    for name, t in (("input", input), ("target", target)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or Inf")


def _reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    return x

"""Inverse constant-Q / variable-Q transform (``librosa.icqt``'s algorithm) and the CQT's
Griffin-Lim (``librosa.griffinlim_cqt``), differentiable, in torch.

The inverse works octave by octave from the lowest: each octave's bins are projected back onto
the Fourier frequencies of its own rate with the conjugate transpose of that octave's forward
basis (weighted by the inverse of each filter's frequency-domain power and its length, as
librosa), overlap-added with a rectangular window, upsampled to the full rate and summed. One
difference: librosa upsamples with soxr's HQ resampler, we with the windowed sinc that the
forward transform's decimation uses (:func:`ddsp.spectral._cqt.decimation_filter`), run as 2:1
steps: the two agree to 3e-7 of the peak in the middle of a signal and differ within about
2048 samples of its ends, where the resamplers treat the boundary differently.

Like librosa's, the inverse is approximate (the CQT is not a tight frame): on 2 s of speech it
leaves 0.16 of the energy as error; on the ERB-based VQT (``gamma=None``), 0.58.
"""

from __future__ import annotations

import functools
import math

import torch

from ..dsp import fft_convolve, values_within
from ..precision import full_precision
from . import _checks
from ._cqt import (
    cqt_fft_basis,
    cqt_frequencies,
    decimation_filter,
    note_to_hz,
    relative_bandwidth,
    vqt,
    wavelet_lengths,
)
from ._stft import istft

__all__ = ["ivqt", "icqt", "griffinlim_cqt", "upsample2"]


def upsample2(x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
    """2:1 interpolation, zero-delay: zeros between samples, then the decimation low-pass
    (twice its gain, so a tone keeps its amplitude).

    Shape: ``(..., time)`` -> ``(..., 2 time)``.
    """
    h = (decimation_filter() if h is None else h).to(device=x.device, dtype=x.dtype)
    up = torch.zeros(*x.shape[:-1], 2 * x.shape[-1], dtype=x.dtype, device=x.device)
    up[..., ::2] = x
    taps = h.shape[-1]
    return 2 * fft_convolve(up, h)[..., taps // 2 : taps // 2 + up.shape[-1]]


@functools.lru_cache(maxsize=16)
def inverse_plan(
    sample_rate: float,
    hop_length: int,
    f_min: float,
    n_bins: int,
    bins_per_octave: int,
    gamma: float | None,
    filter_scale: float,
    norm: float | None,
    sparsity: float,
    window: str,
    scale: bool,
    tuning: float,
) -> tuple[float, list[tuple[slice, torch.Tensor, int, int, float]]]:
    """:func:`ivqt`'s bases, built once per configuration (Griffin-Lim calls the inverse every
    iteration): the longest filter (samples) and, from the lowest octave up, ``(bins, inverse
    basis (n_fft // 2 + 1, n_i) complex128, n_fft, hop, rate)``. Read-only: callers cast."""
    freqs = cqt_frequencies(n_bins, f_min, bins_per_octave, tuning)
    alpha = relative_bandwidth(freqs, bins_per_octave)
    lengths, _ = wavelet_lengths(freqs, sample_rate, window, filter_scale, gamma, alpha)
    n_octaves = math.ceil(n_bins / bins_per_octave)
    rates, hops = [float(sample_rate)], [hop_length]  # the top octave at the full rate
    for _ in range(n_octaves - 1):
        if hops[0] % 2 == 0:
            rates.insert(0, rates[0] / 2)
            hops.insert(0, hops[0] // 2)
        else:
            rates.insert(0, rates[0])
            hops.insert(0, hops[0])
    octaves = []
    for i, (rate, hop) in enumerate(zip(rates, hops, strict=True)):
        sl = slice(bins_per_octave * i, min(bins_per_octave * (i + 1), n_bins))
        basis, n_fft = cqt_fft_basis(
            freqs[sl], rate, window, filter_scale, norm, sparsity, gamma, alpha[sl]
        )
        inv = basis.conj().T  # (n_fft // 2 + 1, n_filters)
        weight = n_fft / (inv.abs().square().sum(0) * lengths[sl])
        if scale:
            weight = weight * lengths[sl].sqrt()
        octaves.append((sl, inv * weight, n_fft, hop, rate))
    return float(lengths.max()), octaves


@_checks.empty_batch(2)
@full_precision
def ivqt(
    spec: torch.Tensor,
    sample_rate: float = 22050,
    hop_length: int = 512,
    f_min: float | None = None,
    bins_per_octave: int = 12,
    gamma: float | None = None,
    filter_scale: float = 1.0,
    norm: float | None = 1.0,
    sparsity: float = 0.01,
    window: str = "hann",
    scale: bool = True,
    length: int | None = None,
    tuning: float = 0.0,
    n_bins: int | None = None,
) -> torch.Tensor:
    """Inverse of :func:`ddsp.spectral.functional.vqt` (``librosa.icqt`` for ``gamma=0``).

    Args:
        spec: ``(..., n_bins, frames)`` complex, lowest bin first, as the forward transform's
            (real: a magnitude with zero phase).
        length: output length in samples (default: what the frames cover).
        n_bins: the forward transform's, checked against ``spec``'s (default: ``spec``'s).
        the others: as the forward transform that made ``spec``.

    Returns:
        ``(..., time)`` real, in ``spec``'s precision.
    """
    if not (isinstance(spec, torch.Tensor) and (spec.is_complex() or spec.is_floating_point())):
        raise TypeError(
            "spec must be a complex (or real: zero phase) float tensor (..., n_bins, frames), "
            f"e.g. from cqt(); got {type(spec).__name__}"
            + (f" of {spec.dtype}" if isinstance(spec, torch.Tensor) else "")
        )
    if not spec.is_complex():  # a magnitude: zero phase, as librosa.icqt takes it
        spec = spec.to(torch.complex128 if spec.dtype == torch.float64 else torch.complex64)
    _checks.sample_rate(sample_rate)
    _checks.positive_int("hop_length", hop_length)
    _checks.positive_int("bins_per_octave", bins_per_octave)
    f_min = note_to_hz("C1") if f_min is None else f_min
    _same_bins(n_bins, spec, "spec")
    n_bins = spec.shape[-2]
    longest, octaves = inverse_plan(
        float(sample_rate), hop_length, float(f_min), n_bins, bins_per_octave, gamma,
        filter_scale, norm, sparsity, window, scale, float(tuning),
    )  # fmt: skip
    if length is not None:  # only the frames that reach into the output
        spec = spec[..., : math.ceil((length + longest) / hop_length)]
    batch = spec.shape[:-2]
    spec = spec.reshape(-1, *spec.shape[-2:])
    real = spec.real.dtype
    h = decimation_filter().to(device=spec.device, dtype=real)
    y, previous_rate = None, None
    for sl, inv, n_fft, hop, rate in octaves:
        inv = inv.to(device=spec.device, dtype=spec.dtype)
        y_oct = istft(inv @ spec[:, sl], n_fft, hop, window="rectangular", center=True)
        if y is None:
            y = y_oct
        else:  # the octaves below, brought up to this rate, plus this one (Horner's scheme:
            if rate > previous_rate:  # one 2:1 interpolation per rate, not per octave and rate)
                y = upsample2(y, h)
            n = min(y.shape[-1], y_oct.shape[-1])
            y = torch.cat([y[..., :n] + y_oct[..., :n], y[..., n:]], dim=-1)
        previous_rate = rate
    assert y is not None
    if length is not None:
        y = (
            y[..., :length]
            if y.shape[-1] >= length
            else torch.nn.functional.pad(y, (0, length - y.shape[-1]))
        )
    return y.reshape(*batch, y.shape[-1])


def _same_bins(n_bins: int | None, spec: torch.Tensor, name: str) -> None:
    """``n_bins``, when given, is the number of bins of ``spec (..., n_bins, frames)``."""
    if n_bins is not None and (spec.dim() < 2 or n_bins != spec.shape[-2]):
        raise ValueError(
            f"n_bins={n_bins!r}, but {name} {tuple(spec.shape)} has "
            f"{spec.shape[-2] if spec.dim() >= 2 else 'no'} bins: {name} must be "
            "(..., n_bins, frames)"
        )


@full_precision
def icqt(spec: torch.Tensor, sample_rate: float = 22050, hop_length: int = 512, **kwargs):
    """Inverse constant-Q transform, ``librosa.icqt``: :func:`ivqt` with ``gamma=0``.

    Shape: ``(..., n_bins, frames)`` complex -> ``(..., time)``.
    """
    return ivqt(spec, sample_rate, hop_length, gamma=0.0, **kwargs)


@_checks.empty_batch(2)
@full_precision
def griffinlim_cqt(
    magnitude: torch.Tensor,
    sample_rate: float = 22050,
    hop_length: int = 512,
    n_iter: int = 32,
    momentum: float = 0.99,
    length: int | None = None,
    init: str | None = "random",
    generator: torch.Generator | None = None,
    pad_mode: str = "constant",
    method: str = "multirate",
    n_bins: int | None = None,
    **kwargs,
) -> torch.Tensor:
    """A signal whose CQT magnitude is ``magnitude`` (``librosa.griffinlim_cqt``'s fast
    Griffin-Lim): alternate the inverse and forward CQT, keeping the phase, with momentum.

    Args:
        magnitude: ``(..., n_bins, frames)`` non-negative.
        init: ``"random"`` (uniform phases from ``generator``) or ``None`` (zero phase).
        pad_mode, method: the forward CQT's padding and method (the inverse has neither).
        n_bins: the forward CQT's, checked against ``magnitude``'s (default: its).
        kwargs: the other arguments of the CQT and its inverse (``f_min``,
            ``bins_per_octave``, ``filter_scale``, ``norm``, ``sparsity``, ``window``,
            ``scale``, ``tuning``).

    Shape: -> ``(..., time)``.
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    _checks.positive_int("n_iter", n_iter)
    values_within(magnitude, "magnitude", 0.0, hint=" (a CQT magnitude is >= 0)")
    _same_bins(n_bins, magnitude, "magnitude")
    mag = magnitude.to(torch.float64 if magnitude.dtype == torch.float64 else torch.float32)
    if init == "random":
        phase = torch.rand(mag.shape, generator=generator, dtype=mag.dtype) * (2 * math.pi)
    elif init is None:
        phase = torch.zeros_like(mag)
    else:
        raise ValueError(f"init must be 'random' or None, got {init!r}")
    angles = torch.polar(torch.ones_like(mag), phase.to(mag.device))
    n_bins = mag.shape[-2]
    rebuilt = torch.zeros_like(angles)
    eps = torch.finfo(mag.dtype).tiny
    for _ in range(n_iter):
        previous = rebuilt
        y = icqt(mag * angles, sample_rate, hop_length, length=length, **kwargs)
        rebuilt = vqt(
            y, sample_rate, hop_length, n_bins=n_bins, gamma=0.0, pad_mode=pad_mode,
            method=method, **kwargs,
        )  # fmt: skip
        rebuilt = rebuilt[..., : mag.shape[-1]]
        angles = rebuilt - (momentum / (1 + momentum)) * previous[..., : rebuilt.shape[-1]]
        angles = angles / (angles.abs() + eps)
        if angles.shape[-1] < mag.shape[-1]:
            angles = torch.nn.functional.pad(angles, (0, mag.shape[-1] - angles.shape[-1]), value=1)
    return icqt(mag * angles, sample_rate, hop_length, length=length, **kwargs)

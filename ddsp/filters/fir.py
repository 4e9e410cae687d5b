"""FIR filtering: FFT convolution and time-varying FIR by overlap-add (DDSP style)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..dsp import _fft_convolve, fft_convolve, finite_values, overlap_add, values_within
from ..precision import full_precision

__all__ = [
    "fft_convolve",
    "magnitudes_to_impulse_response",
    "magnitudes_to_minimum_phase_ir",
    "cepstrum_to_minimum_phase_ir",
    "ltv_fir",
]


def _check_amplitudes(magnitudes: torch.Tensor) -> None:
    """Finite and >= 0, in one pass (:func:`ddsp.dsp.values_within` up to the dtype's largest
    value: a minimum and a sum): NaN, Inf and negative amplitudes get a clear error."""
    big = torch.finfo(magnitudes.dtype).max
    values_within(magnitudes, "magnitudes", 0.0, big, hint=" (amplitudes are finite and >= 0)")


def magnitudes_to_impulse_response(
    magnitudes: torch.Tensor, window_size: int | None = None
) -> torch.Tensor:
    """Zero-phase frequency responses -> windowed, causal linear-phase impulse responses.

    The response of frame ``k`` is sampled at ``n_bins`` equally spaced frequencies from DC to
    Nyquist. The impulse response is centred (delay ``window_size // 2``) and Hann-windowed,
    as in DDSP's ``frequency_impulse_response``.

    Args:
        magnitudes: ``(..., frames, n_bins)`` finite, non-negative amplitudes (else a clear
            error).
        window_size: taps to keep, default ``2 * (n_bins - 1)``; at most that.

    Returns:
        ``(..., frames, window_size)`` impulse responses with delay ``window_size // 2``.
    """
    _check_amplitudes(magnitudes)
    n_bins = magnitudes.shape[-1]
    if n_bins < 2:
        raise ValueError(
            f"magnitudes must sample a response at n_bins >= 2 frequencies (DC ... Nyquist), "
            f"got {tuple(magnitudes.shape)}"
        )
    ir_size = 2 * (n_bins - 1)
    window_size = ir_size if window_size is None else window_size
    if not 0 < window_size <= ir_size:
        raise ValueError(f"window_size must be in (0, {ir_size}], got {window_size}")
    ir = torch.fft.irfft(magnitudes, n=ir_size)  # zero-phase: symmetric around index 0
    ir = torch.roll(ir, ir_size // 2, dims=-1)
    start = ir_size // 2 - window_size // 2
    ir = ir[..., start : start + window_size]
    # periodic Hann is symmetric around window_size // 2, the centre of the response
    win = torch.hann_window(window_size, periodic=True, dtype=ir.dtype, device=ir.device)
    return ir * win


@full_precision(transforms=("vmap",))
def ltv_fir(
    x: torch.Tensor,
    h: torch.Tensor,
    hop_length: int,
    delay: int = 0,
    zi: torch.Tensor | None = None,
    return_zf: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Linear time-varying FIR: block ``k`` of ``x`` is convolved with ``h[k]``, overlap-added.

    Each block of ``hop_length`` samples is filtered by its own impulse response and the tails
    are overlap-added, so the output is exactly ``sum_k conv(x * box_k, h_k)``. With ``delay``
    (e.g. ``taps // 2`` for the centred responses of :func:`magnitudes_to_impulse_response`)
    the output is advanced by that many samples, which makes a linear-phase filter zero-phase.

    Args:
        x: ``(..., time)`` with ``time == frames * hop_length``.
        h: ``(..., frames, taps)`` impulse responses.
        hop_length: block length in samples.
        delay: samples to trim from the start of the output.
        zi: ``(..., taps - 1)`` tails of the previous block's responses, added to the start of
            this block's output (streaming; only with ``delay=0``: a zero-phase filter looks
            ahead, so it cannot run block by block without latency).
        return_zf: also return the tail ``(..., taps - 1)`` for the next block.

    Returns:
        ``(..., time)`` (and ``zf``).
    """
    finite_values(x, "x")
    finite_values(h, "h")
    return _ltv_fir(x, h, hop_length, delay, zi, return_zf)


def _ltv_fir(
    x: torch.Tensor,
    h: torch.Tensor,
    hop_length: int,
    delay: int = 0,
    zi: torch.Tensor | None = None,
    return_zf: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """:func:`ltv_fir` without its NaN / Inf checks, for callers that made ``x`` and ``h``
    themselves from checked values (the noise branch: drawn noise, checked magnitudes)."""
    if (zi is not None or return_zf) and delay:
        raise ValueError(
            "ltv_fir: streaming (zi/return_zf) needs delay=0; delay the output instead"
        )
    frames, taps = h.shape[-2:]
    if taps < 1:
        raise ValueError(f"ltv_fir: h must hold at least one tap, got {tuple(h.shape)}")
    t = x.shape[-1]
    if t != frames * hop_length:
        raise ValueError(
            f"ltv_fir: signal has {t} samples but h has {frames} frames x hop {hop_length} = "
            f"{frames * hop_length}"
        )
    blocks = x.reshape(*x.shape[:-1], frames, hop_length)
    y = _fft_convolve(blocks, h)  # (..., frames, hop + taps - 1): x and h checked
    y = overlap_add(y, hop_length)
    if zi is not None:
        y = torch.cat([y[..., : taps - 1] + zi, y[..., taps - 1 :]], dim=-1)
    if return_zf:
        tail = y[..., t:]
        return y[..., :t], F.pad(tail, (0, taps - 1 - tail.shape[-1]))
    return y[..., delay : delay + t]


def magnitudes_to_minimum_phase_ir(
    magnitudes: torch.Tensor, n_fft: int | None = None, eps: float = 1e-7
) -> torch.Tensor:
    """Frequency responses -> minimum-phase impulse responses (folded real cepstrum).

    Args:
        magnitudes: ``(..., n_bins)`` non-negative amplitudes from DC to Nyquist.
        n_fft: cepstrum FFT size (default ``2 (n_bins - 1)``); larger reduces time aliasing.

    Returns:
        ``(..., n_fft)`` causal impulse responses whose magnitude response matches
        ``magnitudes`` (up to cepstral aliasing) with all energy as early as possible.
    """
    _check_amplitudes(magnitudes)
    n_bins = magnitudes.shape[-1]
    n_fft = 2 * (n_bins - 1) if n_fft is None else n_fft
    if n_fft != 2 * (n_bins - 1):  # resample the response onto the finer grid
        mags = F.interpolate(
            magnitudes.reshape(-1, 1, n_bins),
            size=n_fft // 2 + 1,
            mode="linear",
            align_corners=True,
        ).reshape(*magnitudes.shape[:-1], n_fft // 2 + 1)
    else:
        mags = magnitudes
    cep = torch.fft.irfft(torch.log(mags.clamp_min(eps)), n=n_fft)
    fold = torch.zeros(n_fft, dtype=cep.dtype, device=cep.device)
    fold[0] = 1.0
    fold[1 : (n_fft + 1) // 2] = 2.0
    if n_fft % 2 == 0:
        fold[n_fft // 2] = 1.0
    return _minimum_phase_from_causal_cepstrum(cep * fold, n_fft)


def _minimum_phase_from_causal_cepstrum(cep: torch.Tensor, n_fft: int) -> torch.Tensor:
    return torch.fft.irfft(torch.exp(torch.fft.rfft(cep, n=n_fft)), n=n_fft)


def cepstrum_to_minimum_phase_ir(cepstrum: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Real cepstra -> minimum-phase impulse responses (NHV's harmonic filter).

    ``cepstrum[..., 0]`` is the log gain, ``cepstrum[..., n]`` (``n >= 1``) the coefficient of
    quefrency ``n`` of the log magnitude response ``log|H(w)| = c0 + 2 sum_n c_n cos(n w)``.
    The minimum-phase filter with that magnitude has the causal complex cepstrum
    ``(c0, 2 c1, 2 c2, ...)``: its response is ``exp`` of that cepstrum's spectrum.

    Args:
        cepstrum: ``(..., n_ceps)`` with ``n_ceps <= n_fft // 2``.
        n_fft: FFT size and impulse-response length (longer: less time aliasing).

    Returns:
        ``(..., n_fft)`` causal impulse responses.
    """
    finite_values(cepstrum, "cepstrum")
    n_ceps = cepstrum.shape[-1]
    if not 0 < n_ceps <= n_fft // 2:
        raise ValueError(
            f"cepstrum has {n_ceps} coefficients; need 1 ... n_fft // 2 = {n_fft // 2}"
        )
    causal = torch.cat([cepstrum[..., :1], 2.0 * cepstrum[..., 1:]], dim=-1)
    return _minimum_phase_from_causal_cepstrum(causal, n_fft)

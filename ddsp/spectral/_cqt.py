"""Constant-Q and variable-Q transforms, exact against librosa (re-exported by ``functional``).

The kernels are librosa's: fractional filter lengths ``Q sr / (f + gamma / alpha)``, sampled at
the integers in ``[floor(-length / 2), floor(length / 2))`` under a periodic window of as many
samples, L1 (or other) normalisation, centred in a power-of-two FFT frame,
renormalised by ``length / n_fft`` and sparsified in the frequency domain (the ``sparsity``
fraction of each row's L1 mass is dropped, as ``librosa.util.sparsify_rows``). The response of
a group of bins is ``basis @ STFT(x, n_fft, window=ones)``.

Two methods:

- ``"multirate"`` (Schoerkhuber & Klapuri 2010, librosa's algorithm): one octave at a time from the
  top, halving the sampling rate and the hop between octaves. Fast on a CPU. The only
  difference from librosa is the 2:1 decimator: a 383-tap Kaiser-windowed sinc shaped like soxr's HQ
  resampler, which librosa uses (median relative difference 1e-6, see ``decimation_filter``).
- ``"direct"`` (Brown & Puckette 1992): every bin at the full rate in one frame size; no
  resampling at all, so it is the reference the multirate path approximates. Long frames for
  low bins: slower on a CPU, one big matmul on a GPU.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..dsp import kaiser_sinc_lowpass
from ..precision import full_precision
from . import _checks, _decimate_cpu, _framed_cpu
from ._stft import PAD_ALIASES, frames, get_window, stft

# Equivalent noise bandwidths in FFT bins (librosa.filters.WINDOW_BANDWIDTHS).
WINDOW_BANDWIDTHS = {
    "hann": 1.50018310546875,
    "hamming": 1.3629455320350348,
    "blackman": 1.7269681554262326,
    "bartlett": 1.3334961334912805,
    "rectangular": 1.0,
}

# 2:1 decimator (see decimation_filter): a Kaiser-windowed sinc shaped like soxr's HQ low-pass.
DECIMATOR_TAPS, DECIMATOR_CUTOFF, DECIMATOR_BETA = 383, 0.478, 12.8


def note_to_hz(note: str) -> float:
    """``"C1"`` -> 32.703 Hz (A4 = 440 Hz; sharps ``#``, flats ``b``)."""
    names = {"C": -9, "D": -7, "E": -5, "F": -4, "G": -2, "A": 0, "B": 2}
    head, rest = note[0].upper(), note[1:]
    semis = names[head]
    while rest and rest[0] in "#b":
        semis += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 440.0 * 2.0 ** ((semis + 12 * (int(rest) - 4)) / 12)


def hz_to_note(f: float) -> str:
    """Nearest equal-tempered note name, e.g. 440 -> ``"A4"``."""
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    midi = round(69 + 12 * math.log2(f / 440.0))
    return f"{names[midi % 12]}{midi // 12 - 1}"


def cqt_frequencies(
    n_bins: int, f_min: float, bins_per_octave: int = 12, tuning: float = 0.0
) -> torch.Tensor:
    """Centre frequencies ``f_min 2^((k + tuning) / bins_per_octave)``, float64 ``(n_bins,)``."""
    k = torch.arange(n_bins, dtype=torch.float64)
    octave, step = torch.div(k, bins_per_octave, rounding_mode="floor"), k % bins_per_octave
    return f_min * 2.0**octave * 2.0 ** ((tuning + step) / bins_per_octave)


def relative_bandwidth(freqs: torch.Tensor, bins_per_octave: int | None = None) -> torch.Tensor:
    """librosa's ``alpha``: relative bandwidth from the local spacing of ``freqs``, ``(n_bins,)``.

    A single frequency has no spacing: with ``bins_per_octave`` it gets the equal-temperament
    value ``(r^2 - 1) / (r^2 + 1)``, ``r = 2^(1 / bins_per_octave)`` (as librosa does)."""
    if freqs.numel() < 2:
        if bins_per_octave is None or freqs.numel() == 0:
            raise ValueError("relative_bandwidth needs 2 frequencies, or 1 and bins_per_octave")
        r2 = 2.0 ** (2.0 / bins_per_octave)
        return torch.full_like(freqs, (r2 - 1) / (r2 + 1))
    logf = torch.log2(freqs)
    bpo = torch.empty_like(freqs)
    bpo[0] = 1 / (logf[1] - logf[0])
    bpo[-1] = 1 / (logf[-1] - logf[-2])
    bpo[1:-1] = 2 / (logf[2:] - logf[:-2])
    r = 2.0 ** (2 / bpo)
    return (r - 1) / (r + 1)


def wavelet_lengths(
    freqs: torch.Tensor,
    sample_rate: float,
    window: str = "hann",
    filter_scale: float = 1.0,
    gamma: float | None = 0.0,
    alpha: torch.Tensor | None = None,
) -> tuple[torch.Tensor, float]:
    """Fractional filter lengths ``(n_bins,)`` and the highest frequency the filters reach (Hz).

    ``gamma=None`` takes librosa's ERB-based ``gamma = 24.7 alpha / 0.108``.
    """
    if filter_scale <= 0:
        raise ValueError(f"filter_scale={filter_scale} must be positive")
    if gamma is not None and gamma < 0:
        raise ValueError(f"gamma={gamma} must be non-negative")
    if window not in WINDOW_BANDWIDTHS:
        raise ValueError(f"window must be one of {sorted(WINDOW_BANDWIDTHS)}, got {window!r}")
    alpha = relative_bandwidth(freqs) if alpha is None else alpha
    g = alpha * 24.7 / 0.108 if gamma is None else torch.full_like(freqs, gamma)
    q = filter_scale / alpha
    cutoff = (freqs * (1 + 0.5 * WINDOW_BANDWIDTHS[window] / q) + 0.5 * g).max().item()
    return q * sample_rate / (freqs + g / alpha), cutoff


def cqt_kernels(
    freqs: torch.Tensor,
    sample_rate: float,
    window: str = "hann",
    filter_scale: float = 1.0,
    norm: float | None = 1.0,
    gamma: float | None = 0.0,
    alpha: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Time-domain (variable-)Q kernels as ``librosa.filters.wavelet``.

    Returns:
        ``(n_bins, n_fft)`` complex128 kernels centred in a power-of-two ``n_fft``, and their
        ``(n_bins,)`` fractional lengths.
    """
    lengths, _ = wavelet_lengths(freqs, sample_rate, window, filter_scale, gamma, alpha)
    n_fft = 2 ** math.ceil(math.log2(lengths.max().item()))
    out = torch.zeros(len(freqs), n_fft, dtype=torch.complex128)
    for i, (ilen, f) in enumerate(zip(lengths.tolist(), freqs.tolist(), strict=True)):
        n = torch.arange(math.floor(-ilen / 2), math.floor(ilen / 2), dtype=torch.float64)
        sig = torch.polar(torch.ones_like(n), n * 2 * math.pi * f / sample_rate)
        sig = sig * get_window(window, len(n), dtype=torch.float64)  # as librosa: len(sig)
        if norm is not None:
            sig = sig / sig.abs().pow(norm).sum().pow(1 / norm)
        left = (n_fft - len(n)) // 2
        out[i, left : left + len(n)] = sig
    return out, lengths


def sparsify_rows(x: torch.Tensor, quantile: float = 0.01) -> torch.Tensor:
    """Zero the smallest entries of each row whose magnitudes sum to < ``quantile`` of its L1 norm.

    Same selection as ``librosa.util.sparsify_rows`` (returned dense). ``x``: ``(rows, cols)``.
    """
    if not 0.0 <= quantile < 1:
        raise ValueError(f"quantile must be in [0, 1), got {quantile}")
    if quantile == 0:
        return x
    mags = x.abs()
    mag_sort, _ = mags.sort(dim=1)
    cum = torch.cumsum(mag_sort / mags.sum(dim=1, keepdim=True), dim=1)
    idx = (cum < quantile).sum(dim=1, keepdim=True)  # first index where cum >= quantile
    threshold = mag_sort.gather(1, idx.clamp_max(x.shape[1] - 1))
    return torch.where(mags >= threshold, x, torch.zeros_like(x))


def cqt_fft_basis(
    freqs: torch.Tensor,
    sample_rate: float,
    window: str = "hann",
    filter_scale: float = 1.0,
    norm: float | None = 1.0,
    sparsity: float = 0.01,
    gamma: float | None = 0.0,
    alpha: torch.Tensor | None = None,
) -> tuple[torch.Tensor, int]:
    """Frequency-domain kernels for ``basis @ STFT(x, n_fft, window=ones)``.

    Returns:
        ``(n_bins, n_fft // 2 + 1)`` complex128 basis (renormalised by ``length / n_fft`` and
        sparsified, as librosa) and ``n_fft``.
    """
    kernels, lengths = cqt_kernels(freqs, sample_rate, window, filter_scale, norm, gamma, alpha)
    n_fft = kernels.shape[-1]
    kernels = kernels * (lengths / n_fft)[:, None]
    basis = torch.fft.fft(kernels, dim=-1)[:, : n_fft // 2 + 1]
    return sparsify_rows(basis, sparsity), n_fft


@functools.lru_cache(maxsize=8)
def decimation_filter(
    taps: int = DECIMATOR_TAPS, cutoff: float = DECIMATOR_CUTOFF, beta: float = DECIMATOR_BETA
) -> torch.Tensor:
    """Linear-phase low-pass for 2:1 decimation with unit DC gain: ``(taps,)`` float64.

    ``cutoff`` is relative to the input Nyquist. The defaults put the transition band between
    0.913 and 1.0 of the output Nyquist with about 125 dB stop-band attenuation, the shape of
    soxr's HQ resampler that librosa uses; that shape (not only the flat pass band) is what
    makes the low CQT bins near the signal's edges agree with librosa (p99 error 2e-3 here,
    against 5e-2 for a half-band filter cut at the new Nyquist).
    """
    return kaiser_sinc_lowpass(taps, cutoff, beta)


def decimate2(x: torch.Tensor, h: torch.Tensor | None = None, block: int = 4096) -> torch.Tensor:
    """Low-pass and keep every other sample, zero-delay: ``y[m] = sum_k h[k] x[2m + c - k]``,
    ``c = (taps - 1) / 2``, zeros outside the signal.

    Overlap-save FFT convolution in polyphase form: each block of ``block`` input samples (fewer
    for a short signal) is split into its even and odd samples, and ``y`` is the sum of the two
    half-rate convolutions with the filter's even and odd taps, so each block takes two real FFTs
    of half its length forward and one back (against one FFT of each whole clip forward and
    back), on cache-sized blocks read straight from ``x`` (only the two end blocks are padded).
    The same linear operator as the whole clip's FFT convolution (2e-15 apart in float64).
    Without gradients on the CPU the blocks and the spectra's product are one C++ pass each
    (:mod:`ddsp.spectral._decimate_cpu`).

    Args:
        x: ``(..., time)``.
        h: odd-length linear-phase filter (default :func:`decimation_filter`).
        block: FFT size of the blocks (even; a power of two is fastest).

    Returns:
        ``(..., ceil(time / 2))``.
    """
    _checks.signal(x, "x")
    if h is not None and (not isinstance(h, torch.Tensor) or h.dim() != 1 or h.numel() % 2 == 0):
        shape = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
        raise ValueError(f"h must be a 1-D tensor of odd length (linear phase), got {shape}")
    if isinstance(block, bool) or not isinstance(block, int) or block < 2 or block % 2:
        raise ValueError(f"block must be an even int >= 2, got {block!r}")
    return _decimate2(x, h, block)


def _decimate2(x: torch.Tensor, h: torch.Tensor | None = None, block: int = 4096) -> torch.Tensor:
    """:func:`decimate2` without its argument checks (the CQT's octaves, whose input was
    checked once)."""
    h = decimation_filter() if h is None else h
    h = h.to(dtype=x.dtype, device=x.device)
    t, c = x.shape[-1], h.shape[-1] // 2
    n, step = decimation_blocks(t, c, block)
    half = n // 2
    count = -(-t // step)
    flat = x.reshape(-1, t)
    if flat.shape[0] == 0:  # MKL refuses a batch of no FFTs
        return x.new_empty(*x.shape[:-1], (t + 1) // 2)
    even = torch.fft.rfft(h[0::2], half)  # taps h[2r] meet the even samples at m + c - r,
    odd = torch.fft.rfft(F.pad(h[1::2], (1, 0)), half)  # h[2r + 1] the odd ones at m + c - r - 1
    if _decimate_cpu.fusable(flat, h):  # all of it in one C++ pass, block by block
        y = _decimate_cpu.decimate_fused(flat, n, step, c, even, odd)
        return y.reshape(*x.shape[:-1], y.shape[-1])
    if _decimate_cpu.usable(flat, h):  # the same passes in C++
        spec = torch.fft.rfft(_decimate_cpu.polyphase_blocks(flat, n, step, c))
        y = _decimate_cpu.polyphase_mac(spec.flatten(0, 1), even, odd).unflatten(0, spec.shape[:2])
        y = torch.fft.irfft(y, half)
    else:
        y = torch.fft.irfft(_polyphase_spectrum(flat, n, step, c, even, odd), half)
    y = y[..., c : c + step // 2]  # the wrap-free part of the circular convolution
    return y.reshape(*x.shape[:-1], count * (step // 2))[..., : (t + 1) // 2]


def decimation_blocks(t: int, c: int, block: int = 4096) -> tuple[int, int]:
    """:func:`decimate2`'s FFT size ``n`` and step for ``t`` samples and a filter of ``2c + 1``
    taps: a power of two with room for the ``2c`` samples of overlap (``block``, or less for a
    short signal), each block adding ``n - 2c`` (even) samples."""
    n = max(1 << (4 * c + 1).bit_length(), min(block, 1 << (t + 2 * c - 1).bit_length()))
    return n, n - 2 * c


def _polyphase_spectrum(
    flat: torch.Tensor, n: int, step: int, c: int, even: torch.Tensor, odd: torch.Tensor
) -> torch.Tensor:
    """:func:`decimate2`'s blocks and spectrum in eager torch: ``(R, T)`` -> ``(R, blocks,
    n // 4 + 1)`` complex (:mod:`ddsp.spectral._decimate_cpu` does the same in two passes)."""
    t, half = flat.shape[-1], n // 2
    rows, count = flat.shape[0], -(-t // step)
    # blocks[:, j, p, i] = x[j step - c + 2 i + p] (zero outside x)
    blocks = flat.new_empty(rows, count, 2, half)
    inner = range(1, min(count, (t - n + c) // step + 1))  # blocks lying wholly inside x
    if len(inner):
        s0, s1 = flat.stride()
        strides = (s0, step * s1, s1, 2 * s1)
        start = flat.storage_offset() + (inner.start * step - c) * s1
        view = flat.as_strided((rows, len(inner), 2, half), strides, start)
        blocks[:, inner.start : inner.stop].copy_(view)
    for j in (j for j in range(count) if j not in inner):  # the ends, padded with zeros
        lo, hi = j * step - c, j * step - c + n
        piece = F.pad(flat[:, max(lo, 0) : min(hi, t)], (max(-lo, 0), max(hi - t, 0)))
        blocks[:, j].copy_(piece.view(rows, half, 2).transpose(-1, -2))
    spec = torch.fft.rfft(blocks)  # (rows, count, 2, half // 2 + 1)
    return torch.addcmul(spec[:, :, 0] * even, spec[:, :, 1], odd)


@dataclass
class CQTPlan:
    """Precomputed bases for one CQT/VQT configuration (all on CPU in float64).

    ``octaves[i] = (basis (n_i, n_fft_i // 2 + 1) complex, n_fft_i, hop_i, decimate_after)``,
    from the top octave down; the scale factors (``scale``, resampling gains) are folded into
    the bases. ``early`` is the number of 2:1 decimations before the first octave.
    """

    octaves: list[tuple[torch.Tensor, int, int, bool]]
    early: int
    freqs: torch.Tensor
    lengths: torch.Tensor


@functools.lru_cache(maxsize=16)
def cqt_plan(
    sample_rate: float,
    hop_length: int = 512,
    f_min: float | None = None,
    n_bins: int = 84,
    bins_per_octave: int = 12,
    filter_scale: float = 1.0,
    norm: float | None = 1.0,
    sparsity: float = 0.01,
    window: str = "hann",
    scale: bool = True,
    gamma: float | None = 0.0,
    method: str = "multirate",
    tuning: float = 0.0,
) -> CQTPlan:
    """Build (and cache) the bases of :func:`vqt`; see there for the arguments."""
    f_min = note_to_hz("C1") if f_min is None else f_min
    _checks.sample_rate(sample_rate)
    _checks.positive_int("hop_length", hop_length)
    _checks.positive_int("n_bins", n_bins)
    _checks.positive_int("bins_per_octave", bins_per_octave)
    if not 0 < f_min < sample_rate / 2:
        raise ValueError(f"f_min must be in (0, {sample_rate / 2:g}), got {f_min!r}")
    freqs = cqt_frequencies(n_bins, f_min, bins_per_octave, tuning)
    alpha = relative_bandwidth(freqs, bins_per_octave)
    lengths, cutoff = wavelet_lengths(freqs, sample_rate, window, filter_scale, gamma, alpha)
    nyquist = sample_rate / 2
    if cutoff > nyquist:
        raise ValueError(
            f"CQT filters reach {cutoff:.1f} Hz, above the Nyquist frequency {nyquist} Hz: "
            "reduce n_bins or f_min"
        )
    post = lengths.rsqrt() if scale else torch.ones_like(lengths)
    if method == "direct":
        basis, n_fft = cqt_fft_basis(
            freqs, sample_rate, window, filter_scale, norm, sparsity, gamma, alpha
        )
        return CQTPlan([(basis * post[:, None], n_fft, hop_length, False)], 0, freqs, lengths)
    if method != "multirate":
        raise ValueError(f"method must be 'multirate' or 'direct', got {method!r}")
    n_octaves = math.ceil(n_bins / bins_per_octave)
    n_filters = min(bins_per_octave, n_bins)
    twos = (hop_length & -hop_length).bit_length() - 1  # factors of two in hop_length
    early = min(
        max(0, math.ceil(math.log2(nyquist / cutoff)) - 1 - 1), max(0, twos - n_octaves + 1)
    )
    sr, hop = sample_rate / 2**early, hop_length // 2**early
    gain = 2.0 ** (early / 2)  # resampling with scale=True: sqrt(2) per halving
    octaves = []
    for i in range(n_octaves):
        sl = slice(n_bins - n_filters * (i + 1), n_bins - n_filters * i)
        sl = slice(max(sl.start, 0), sl.stop)
        basis, n_fft = cqt_fft_basis(
            freqs[sl], sr, window, filter_scale, norm, sparsity, gamma, alpha[sl]
        )
        basis = basis * (math.sqrt(sample_rate / sr) * gain) * post[sl, None]
        down = hop % 2 == 0
        octaves.append((basis, n_fft, hop, down))
        if down:
            hop, sr, gain = hop // 2, sr / 2, gain * math.sqrt(2.0)
    return CQTPlan(octaves, early, freqs, lengths)


GEMM_MAX_FFT = 1024  # octaves whose FFT frame is this short take the time-domain kernels


@functools.lru_cache(maxsize=8)
def _dft_rows(n_fft: int) -> torch.Tensor:
    """``exp(-2 pi i k n / n_fft)`` for ``k <= n_fft // 2``: ``(n_fft // 2 + 1, n_fft)``
    complex128 (the rows of the real FFT)."""
    kn = torch.outer(torch.arange(n_fft // 2 + 1), torch.arange(n_fft)) % n_fft
    angle = kn.double() * (-2 * math.pi / n_fft)
    return torch.polar(torch.ones_like(angle), angle)


def octave_kernels(basis: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Time-domain kernels of a frequency-domain basis: ``frames @ K`` is ``basis @
    rfft(frames)`` with real and imaginary parts interleaved (the same linear map).

    Shape: ``basis (n_i, n_fft // 2 + 1)`` complex -> ``(n_fft, 2 n_i)`` real.
    """
    if not basis.is_complex() or basis.dim() != 2 or basis.shape[-1] != n_fft // 2 + 1:
        raise ValueError(
            f"basis must be complex (n_i, n_fft // 2 + 1 = {n_fft // 2 + 1}), got "
            f"{basis.dtype} {tuple(basis.shape)}"
        )
    kernels = (basis @ _dft_rows(n_fft).to(device=basis.device, dtype=basis.dtype)).T
    return torch.view_as_real(kernels).reshape(n_fft, -1)


def _octave_matmul(
    x: torch.Tensor, n_fft: int, hop: int, pad_mode: str, kernels: torch.Tensor
) -> torch.Tensor:
    """The octave's centred frames times its time-domain kernels: ``(batch, time)`` ->
    ``(batch, frames, 2 n_i)``. Without gradients, float32 on the CPU with MKL, a block of
    frames at a time in cache (:func:`ddsp.spectral._framed_cpu.framed_matmul`: the framed copy
    took as long as the matmul); else the framed copy and one matmul (a batched matmul would
    copy clip by clip)."""
    mode = PAD_ALIASES.get(pad_mode, pad_mode)
    grad = torch.is_grad_enabled() and (x.requires_grad or kernels.requires_grad)
    if not grad and kernels.dtype == x.dtype and _framed_cpu.usable(x, n_fft, mode):
        ri = _framed_cpu.framed_matmul(x, n_fft, hop, True, mode, kernels)
        if ri is not None:
            return ri
    fr = frames(x, n_fft, hop, True, pad_mode)
    return (fr.reshape(-1, n_fft) @ kernels).view(*fr.shape[:2], -1)


def vqt_power(
    x: torch.Tensor,
    kernels: list[torch.Tensor],
    plan: CQTPlan,
    pad_mode: str,
    h: torch.Tensor,
    power: float,
) -> torch.Tensor | None:
    """``|vqt_response(x, bases, plan, pad_mode, h)| ** power`` for power 1 or 2 without the
    complex transform: each octave's frames times its time-domain kernels
    (:func:`octave_kernels` of its basis) a block at a time, their magnitudes written straight
    into the octave's rows (:func:`ddsp.spectral._framed_cpu.framed_matmul_power`). Without
    gradients (the caller's to check), float32 on the CPU with MKL, every octave a matmul
    (``n_fft <= GEMM_MAX_FFT``); None elsewhere (the caller takes :func:`vqt_response`, which
    also says what is wrong with a signal too short). The same values as the complex path's
    magnitude.

    Shape: ``x (batch, time)``, ``kernels[i] (n_fft_i, 2 n_i)`` float32 -> ``(batch, n_bins,
    frames)``.
    """
    mode = PAD_ALIASES.get(pad_mode, pad_mode)
    if power not in (1.0, 2.0) or not _framed_cpu.usable(x, plan.octaves[0][1], mode):
        return None
    if x.shape[0] == 0 or not all(k.dtype == torch.float32 for k in kernels):
        return None
    t = x.shape[-1]
    if t < 2**plan.early:
        return None
    for _ in range(plan.early):
        t = (t + 1) // 2
    counts = []
    for i, (_, n_fft, hop, down) in enumerate(plan.octaves):
        if t == 0 or n_fft > GEMM_MAX_FFT or n_fft % 2:
            return None
        counts.append(1 + t // hop)  # centred frames: 1 + (t + 2 (n_fft // 2) - n_fft) // hop
        if down and i + 1 < len(plan.octaves):
            t = (t + 1) // 2
    n_bins = sum(k.shape[1] // 2 for k in kernels)
    out = torch.empty(x.shape[0], n_bins, min(counts), dtype=x.dtype)
    for _ in range(plan.early):
        x = _decimate2(x, h)
    top = n_bins
    for i, (k, (_, n_fft, hop, down)) in enumerate(zip(kernels, plan.octaves, strict=True)):
        top -= k.shape[1] // 2
        if not _framed_cpu.framed_matmul_power(x, n_fft, hop, mode, k, out, top, power):
            return None
        if down and i + 1 < len(plan.octaves):
            x = _decimate2(x, h)
    return out


@_checks.empty_batch(1)
def vqt_response(
    x: torch.Tensor,
    bases: list[torch.Tensor],
    plan: CQTPlan,
    pad_mode: str = "constant",
    h: torch.Tensor | None = None,
) -> torch.Tensor:
    """Apply a plan's octaves with the given (possibly trainable) bases.

    An octave whose frame is at most ``GEMM_MAX_FFT`` samples (every octave of the multirate
    method at the usual settings: 256) is one matmul of its frames with the basis's
    time-domain kernels (:func:`octave_kernels`): the basis's dense product with the spectrum
    costs as much as this matmul, so the FFT before it was pure overhead. Longer frames (the
    direct method's) take the FFT, then the basis. Without gradients, float32 on the CPU with
    MKL, the frames are multiplied a block at a time in cache and each decimation is one C++
    pass (:mod:`ddsp.spectral._framed_cpu`, :mod:`ddsp.spectral._decimate_cpu`): on 59 clips
    of 80,000 samples (84 bins, hop 512, 44.1 kHz, a 2-core Xeon) 131 -> 64 ms on one thread,
    71 -> 40 ms on two, the same values. The modules' magnitudes skip the complex transform
    altogether (:func:`vqt_power`: a further 50 -> 47 ms, 34 -> 31 ms), with the time-domain
    kernels kept between calls by the modules (:meth:`ddsp.spectral.VQT.time_kernels`: 1 ms).

    Args:
        x: ``(batch, time)``.
        bases: one complex ``(n_i, n_fft_i // 2 + 1)`` tensor per octave, in ``x``'s precision.
        h: the decimation filter (default :func:`decimation_filter`).

    Returns:
        ``(batch, n_bins, frames)`` complex, lowest bin first.
    """
    h = decimation_filter() if h is None else h
    if x.shape[-1] < 2**plan.early:  # as librosa: nothing would be left after decimating
        raise ValueError(
            f"signal of {x.shape[-1]} samples is too short for this CQT: it is first decimated "
            f"2:1 {plan.early} times (the top octave lies far below Nyquist), which needs at "
            f"least {2**plan.early} samples"
        )
    for _ in range(plan.early):
        x = _decimate2(x, h)
    out = []
    for i, (basis, (_, n_fft, hop, down)) in enumerate(zip(bases, plan.octaves, strict=True)):
        if x.shape[-1] == 0:
            raise ValueError("signal too short for this many CQT octaves")
        if n_fft <= GEMM_MAX_FFT:  # (batch, frames, n_i) -> (batch, n_i, frames)
            ri = _octave_matmul(x, n_fft, hop, pad_mode, octave_kernels(basis, n_fft))
            ri = ri.view(*ri.shape[:2], -1, 2)
            out.append(torch.view_as_complex(ri).transpose(-1, -2))
        else:
            with warnings.catch_warnings():  # the low octaves' FFTs may exceed a short signal:
                warnings.filterwarnings("ignore", "n_fft=.* is too large")  # padded, as librosa
                d = stft(x, n_fft, hop, window="rectangular", center=True, pad_mode=pad_mode)
            out.append(torch.matmul(basis, d))
        if down and i + 1 < len(plan.octaves):
            x = _decimate2(x, h)
    n_frames = min(o.shape[-1] for o in out)
    return torch.cat([o[..., :n_frames] for o in reversed(out)], dim=-2)


@_checks.empty_batch(1)
@full_precision
def vqt(
    x: torch.Tensor,
    sample_rate: float = 22050,
    hop_length: int = 512,
    f_min: float | None = None,
    n_bins: int = 84,
    bins_per_octave: int = 12,
    gamma: float | None = None,
    filter_scale: float = 1.0,
    norm: float | None = 1.0,
    sparsity: float = 0.01,
    window: str = "hann",
    scale: bool = True,
    pad_mode: str = "constant",
    method: str = "multirate",
    tuning: float | None = 0.0,
) -> torch.Tensor:
    """Variable-Q transform, ``librosa.vqt`` (``gamma=0``: the CQT, ``librosa.cqt``).

    Args:
        x: ``(..., time)`` real signal.
        sample_rate: Hz.
        hop_length: frame hop in samples; the multirate method halves it per octave while it
            is even (as librosa).
        f_min: lowest centre frequency (default C1 = 32.70 Hz).
        n_bins, bins_per_octave: number of bins and their spacing.
        gamma: bandwidth offset in Hz (``None``: ERB-based, as librosa's VQT).
        filter_scale, norm, sparsity, window, scale, pad_mode: as librosa.
        method: ``"multirate"`` or ``"direct"`` (see the module docstring).
        tuning: offset of the bins from A4 = 440 Hz equal temperament, in fractions of a bin;
            ``None``: estimated from ``x`` (:func:`ddsp.spectral.functional.estimate_tuning`,
            one value for the whole batch, as librosa).

    Returns:
        ``(..., n_bins, frames)`` complex.
    """
    _checks.signal(x)
    if tuning is None:
        from ._tuning import estimate_tuning

        tuning = estimate_tuning(x, sample_rate, bins_per_octave=bins_per_octave)
    plan = cqt_plan(
        float(sample_rate), hop_length, f_min, n_bins, bins_per_octave, filter_scale,
        norm, sparsity, window, scale, gamma, method, tuning,
    )  # fmt: skip
    cdtype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
    bases = [b.to(device=x.device, dtype=cdtype) for b, *_ in plan.octaves]
    batch = x.shape[:-1]
    out = vqt_response(x.reshape(-1, x.shape[-1]), bases, plan, pad_mode)
    return out.reshape(*batch, *out.shape[-2:])


@full_precision
def cqt(
    x: torch.Tensor,
    sample_rate: float = 22050,
    hop_length: int = 512,
    f_min: float | None = None,
    n_bins: int = 84,
    bins_per_octave: int = 12,
    **kwargs,
) -> torch.Tensor:
    """Constant-Q transform, ``librosa.cqt``: :func:`vqt` with ``gamma=0``.

    Shape: ``(..., time)`` -> ``(..., n_bins, frames)`` complex.
    """
    return vqt(x, sample_rate, hop_length, f_min, n_bins, bins_per_octave, gamma=0.0, **kwargs)

"""STFT, inverse STFT, windows and magnitude (re-exported by :mod:`ddsp.spectral.functional`).

Conventions follow librosa (>= 0.9): periodic windows centred inside ``n_fft`` when
``win_length < n_fft``, ``center=True`` pads ``n_fft // 2`` on both sides with ``pad_mode``
(``"constant"`` by default), frequencies in rows and frames in columns.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .. import dsp
from ..dsp import empty_huge, finite_values, frame, overlap_add
from ..precision import full_precision
from . import _checks, _cosine, _framed_cpu, _ola_cpu, _power_cpu
from ._rfft import irfft_frames, rfft_frames, windowed_pairs


def get_window(
    window: str | torch.Tensor,
    win_length: int,
    n_fft: int | None = None,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """A periodic analysis window, zero-padded (centred) to ``n_fft``.

    Args:
        window: ``"hann"``, ``"hamming"``, ``"blackman"``, ``"bartlett"``, ``"rectangular"`` or a tensor of
            shape ``(win_length,)``.
        win_length: window length in samples.
        n_fft: total length; the window is centred inside it (as librosa). Defaults to
            ``win_length``.

    Returns:
        ``(n_fft,)`` tensor.
    """
    n_fft = win_length if n_fft is None else n_fft
    if win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must be <= n_fft ({n_fft})")
    if isinstance(window, torch.Tensor):
        if window.shape != (win_length,):
            raise ValueError(
                f"window tensor has shape {tuple(window.shape)}, expected ({win_length},)"
            )
        w = window.to(dtype=dtype or window.dtype, device=device or window.device)
    else:
        kw = {"periodic": True, "dtype": dtype or torch.get_default_dtype(), "device": device}
        makers = {
            "hann": torch.hann_window,
            "hamming": torch.hamming_window,
            "blackman": torch.blackman_window,
            "bartlett": torch.bartlett_window,
        }
        if window in makers:
            w = makers[window](win_length, **kw)
        elif window in ("rectangular", "boxcar", "ones"):
            w = torch.ones(win_length, dtype=kw["dtype"], device=device)
        else:
            raise ValueError(f"unknown window {window!r}")
    left = (n_fft - win_length) // 2
    return F.pad(w, (left, n_fft - win_length - left))


@functools.lru_cache(maxsize=64)
def cached_window(
    window: str, win_length: int, n_fft: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """:func:`get_window` computed directly in ``dtype`` (exact in float32 and float64), cached.

    The returned tensor is shared: do not modify it in place. It is built outside inference
    mode, so a window first requested under ``torch.inference_mode()`` (e.g. Lightning's
    validation) can later take part in autograd.
    """
    with torch.inference_mode(False):
        return get_window(window, win_length, n_fft, dtype=dtype, device=device)


def _window(window, win_length, n_fft, dtype, device) -> torch.Tensor:
    """A named window from the cache, or a given tensor padded and cast."""
    if isinstance(window, str):
        return cached_window(window, win_length, n_fft, dtype, device)
    return get_window(window, win_length, n_fft, dtype=dtype, device=device)


@_checks.empty_batch(1)
@full_precision
def stft(
    x: torch.Tensor,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str | torch.Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    normalized: bool = False,
) -> torch.Tensor:
    """Complex short-time Fourier transform (librosa's convention).

    Args:
        x: ``(..., time)`` real signal; any number of leading batch dimensions.
        n_fft: FFT size (odd or even).
        hop_length: frame hop, default ``win_length // 4``.
        win_length: window length, default ``n_fft``; a shorter window is centred.
        window: window name or a ``(win_length,)`` tensor.
        center: pad ``n_fft // 2`` on both sides so frame ``t`` is centred at ``t * hop``.
        pad_mode: ``"constant"`` (librosa >= 0.9) or ``"reflect"``.
        normalized: multiply by ``1 / sqrt(sum(window ** 2))`` (unitary frames).

    Returns:
        ``(..., n_fft // 2 + 1, frames)`` complex tensor.
    """
    win_length, hop_length = _checked(x, n_fft, hop_length, win_length)
    w = _window(window, win_length, n_fft, x.dtype, x.device)
    batch = x.shape[:-1]
    spec, mode = None, PAD_ALIASES.get(pad_mode, pad_mode)
    grad = torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)
    if not grad and _framed_cpu.usable(x, n_fft, mode):
        # one C++ pass over the frames in place, FFT'd with MKL's plan kept: on 59 clips of
        # 80,000 samples (n_fft 2048, hop 512, one thread) a fifth of the eager path's time
        scaled = w / w.pow(2).sum().sqrt() if normalized else w
        spec = _framed_cpu.spectra(x, n_fft, hop_length, center, mode, scaled)
    if spec is None:
        spec = windowed_rfft(frames(x, n_fft, hop_length, center, pad_mode), w)
        if normalized:
            spec = spec / w.pow(2).sum().sqrt()
    spec = spec.transpose(-1, -2)
    return spec.reshape(*batch, *spec.shape[-2:])


def _checked(
    x: torch.Tensor,
    n_fft: int,
    hop_length: int | None,
    win_length: int | None,
    finite: bool = True,
) -> tuple[int, int]:
    """The STFT's input checks (NaN and Inf with ``finite``); ``(win_length, hop_length)``
    with their defaults filled in."""
    _checks.signal(x, finite=finite)  # a tensor with a time axis of >= 1 sample, first
    _checks.stft_sizes(n_fft, hop_length, win_length)
    _checks.warn_if_longer(n_fft, x.shape[-1])
    win_length = n_fft if win_length is None else win_length
    return win_length, _checks.hop(hop_length, win_length)


def frames(
    x: torch.Tensor, n_fft: int, hop_length: int, center: bool = True, pad_mode: str = "constant"
) -> torch.Tensor:
    """The STFT's frames (the matmul STFT's too): ``n_fft`` samples every ``hop_length``,
    centred on ``t * hop_length`` with ``center`` (:func:`center_pad`). A view where no padding
    is needed.

    Shape: ``(..., time)`` -> ``(prod(...), frames, n_fft)``.
    """
    flat = x.reshape(-1, x.shape[-1])
    if center:
        flat = center_pad(flat, n_fft // 2, pad_mode)
    if flat.shape[-1] < n_fft:
        raise ValueError(f"stft: signal of {flat.shape[-1]} samples is shorter than n_fft={n_fft}")
    return frame(flat, n_fft, hop_length)


def frame_pieces(
    x: torch.Tensor, n_fft: int, hop_length: int, center: bool = True, pad_mode: str = "constant"
) -> list[tuple[int, torch.Tensor]]:
    """:func:`frames` without a padded copy of the whole signal: ``[(first frame, view)]`` whose
    views, concatenated along the frame axis, are the frames. Only the frames that reach into
    the centre padding come from padded copies of the signal's two ends; the rest are a view of
    ``x`` (the padded copy cost 5 % of a mel spectrogram of 59 clips). One piece (``frames``)
    when there is no frame clear of the padding, or for ``pad_mode="circular"``.

    Shape: ``(..., time)`` -> views ``(prod(...), frames_i, n_fft)``.
    """
    flat = x.reshape(-1, x.shape[-1])
    t, half = flat.shape[-1], n_fft // 2
    first = -(-half // hop_length)  # the first frame inside x, and the last one:
    last = (t - n_fft + half) // hop_length if t >= n_fft - half else -1
    if not center or last < first or PAD_ALIASES.get(pad_mode, pad_mode) == "circular":
        return [(0, frames(x, n_fft, hop_length, center, pad_mode))]
    n_frames = 1 + (t + 2 * half - n_fft) // hop_length
    # left: frames 0 .. first - 1 read x[: (first - 1) * hop + n_fft - half] (reflect: > half)
    reach = max((first - 1) * hop_length + n_fft - half, half + 1)
    left = center_pad(flat[:, :reach], half, pad_mode).unfold(-1, n_fft, hop_length)[:, :first]
    inner = flat[:, first * hop_length - half :].unfold(-1, n_fft, hop_length)
    pieces = [(0, left), (first, inner[:, : last - first + 1])]
    if last + 1 < n_frames:  # right: frames last + 1 ... start at x[(last + 1) * hop - half]
        start = min((last + 1) * hop_length - half, t - half - 1)
        tail = center_pad(flat[:, start:], half, pad_mode)
        right = tail[:, (last + 1) * hop_length - start :].unfold(-1, n_fft, hop_length)
        pieces.append((last + 1, right[:, : n_frames - last - 1]))
    return pieces


PAD_ALIASES = {"edge": "replicate", "wrap": "circular"}  # numpy's names for torch's modes


def pad_mode_name(mode: str) -> str:
    """The padding ``mode`` as torch names it (``"edge"``/``"wrap"``: numpy's names), else
    ``ValueError``: one check, at construction in the modules and losses and in
    :func:`center_pad`."""
    mode = PAD_ALIASES.get(mode, mode) if isinstance(mode, str) else mode
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(
            f"pad_mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    return mode


_BLOCK = 1 << 19  # frame samples per block of stft_power's gradient-free path (2 MB float32)

Bands = list[tuple[int, int, torch.Tensor]]


def band_split(basis: torch.Tensor, group: int = 16) -> Bands:
    """Split a filterbank into groups of ``group`` consecutive filters, each with the span of
    bins where any of them is non-zero: ``[(lo, hi, basis[g, lo:hi])]``. A mel filterbank's
    groups reach about 7x fewer products than the dense matrix (each bin feeds one or two
    filters).

    Shape: ``basis (n_filters, n_bins)`` -> blocks ``(<= group, hi - lo)``.
    """
    if not isinstance(basis, torch.Tensor) or basis.dim() != 2:
        shape = tuple(basis.shape) if isinstance(basis, torch.Tensor) else type(basis).__name__
        raise ValueError(f"band_split: basis must be (n_filters, n_bins), got {shape}")
    _checks.positive_int("group", group)
    out = []
    for g in range(0, basis.shape[0], group):
        rows = basis[g : g + group]
        nz = torch.nonzero(rows.abs().sum(0) > 0).flatten()
        lo, hi = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, 1)
        out.append((lo, hi, rows[:, lo:hi].contiguous()))
    return out


def apply_bands(spec: torch.Tensor, bands: Bands) -> torch.Tensor:
    """``basis @ spec`` for the basis that :func:`band_split` split into ``bands``.

    Shape: ``(..., n_bins, frames)`` -> ``(..., n_filters, frames)``.
    """
    check_bands(bands, spec.shape[-2])
    parts = [torch.matmul(b.to(spec.dtype), spec[..., lo:hi, :]) for lo, hi, b in bands]
    return torch.cat(parts, dim=-2)


def check_bands(bands: Bands, bins: int) -> None:
    """Every band ``(lo, hi, block)``: ``0 <= lo < hi <= bins`` and ``block (rows, hi - lo)``."""
    if not bands:
        raise ValueError("bands: no band given (use band_split(basis))")
    for i, (lo, hi, block) in enumerate(bands):
        if not 0 <= lo < hi <= bins or block.dim() != 2 or block.shape[-1] != hi - lo:
            raise ValueError(
                f"bands[{i}] spans bins {lo}:{hi} with a block of shape {tuple(block.shape)}; "
                f"the spectrogram has {bins} bins (n_fft // 2 + 1) and a block must be "
                f"(filters, hi - lo)"
            )


@full_precision
def stft_power(
    x: torch.Tensor,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str | torch.Tensor = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    normalized: bool = False,
    power: float = 1.0,
    eps: float = 0.0,
    bands: Bands | None = None,
) -> torch.Tensor:
    """``magnitude(stft(x), power, eps)``: the magnitude (``power=1``) or power spectrogram,
    or with ``bands`` its projection on a filterbank (``apply_bands``: a mel spectrogram).

    Without gradients it runs a cache-sized block of frames at a time (window, FFT, magnitude
    and projection while the block is in cache, into one preallocated output; short clips are
    grouped into one block); in float32 with ``power`` 1 or 2 the magnitude and the projection
    are one C++ pass a block (:mod:`ddsp.spectral._power_cpu`). There, for an even ``n_fft``,
    where torch's library exports MKL's FFT, one C++ pass over the batch reads the frames in
    place and FFTs them 32 at a time with MKL's plan kept (:mod:`ddsp.spectral._framed_cpu`);
    a named cosine-sum window (Hann, Hamming, Blackman, the rectangle) over the whole frame is
    applied after the FFT, as 3 or 5 taps across bins, any other window multiplied in before
    it. Without MKL a cosine-sum window goes the same way through cache-sized buffers of the
    padded signals and torch's FFT (:mod:`ddsp.spectral._cosine`). With ``bands`` the full
    spectrogram is never stored. On 1,770 clips of 80,000 samples at n_fft 2048 (a 2-core Xeon,
    ``experiments/spectral_speed.py``) the STFT magnitude, the mel and the MFCC take 0.85x /
    0.97x / 1.10x the time of the same frames' FFTs alone, windowed beforehand.
    Blocks of 2 MB of frames (256 at n_fft 2048) keep the passes after the FFT in cache (4 MB
    blocks measured 20-30 % slower on that machine), and a large output lies in huge pages
    recycled from earlier calls (:func:`ddsp.dsp.empty_huge`: no fresh pages for the kernel to
    zero each call). The values are the same to float rounding (6e-8 of the peak in float32;
    the magnitude's square root correctly rounded).

    Shape: ``(..., time)`` -> ``(..., n_fft // 2 + 1, frames)`` real, or with ``bands``
    ``(..., n_filters, frames)``.
    """
    win_length = n_fft if win_length is None else win_length
    hop_length = _checks.hop(hop_length, win_length)
    w = window if isinstance(window, torch.Tensor) else None
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad
        or (w is not None and w.requires_grad)
        or any(b.requires_grad for *_, b in bands or ())
    )
    if needs_grad or x.is_complex() or x.device.type != "cpu":
        spec = stft(x, n_fft, hop_length, win_length, window, center, pad_mode, normalized)
        out = magnitude(spec, power, eps)
        out = out if bands is None else apply_bands(out, bands)
        no_overflow(out, x, power)  # one sum over the output: 0.1-0.8 % of forward + backward
        return out
    # the NaN/Inf check reads the output instead of the input (free in the C++ kernels, a sum
    # over the output elsewhere): a non-finite sample reaches every bin of the frames that hold
    # it, and with centre padding and a hop of at most half the frame every sample is in a
    # frame. The input is searched only then, for the error naming it; finite input whose power
    # overflows gets its own error (no_overflow)
    kernels = _power_cpu.usable(x, power)
    late = center and hop_length <= n_fft // 2
    _checked(x, n_fft, hop_length, win_length, finite=not late)
    if bands is not None:
        check_bands(bands, n_fft // 2 + 1)
    w = _window(window, win_length, n_fft, x.dtype, x.device)
    scale = 1.0
    if normalized:
        scale = 1.0 / float(w.double().pow(2).sum().sqrt())
        w = w / w.pow(2).sum().sqrt()
    mode = PAD_ALIASES.get(pad_mode, pad_mode)
    taps = shape = done = None
    if kernels and n_fft % 2 == 0 and mode != "circular":
        taps = _cosine.taps(window, win_length, n_fft, scale)  # a cosine sum: after the FFT
    with torch.no_grad():
        if kernels and _framed_cpu.usable(x, n_fft, mode):  # one C++ pass, frames in place
            window_ = taps if taps is not None else w  # any other window: before the FFT
            done = _framed_cpu.spectrogram(x, n_fft, hop_length, center, mode, window_, power, eps, bands)  # fmt: skip
        elif taps is not None:  # no MKL: the group buffers and torch's FFT
            shape = _cosine.plan(x.shape[-1], n_fft, hop_length, center)
            if shape is not None:
                flat = x.reshape(-1, x.shape[-1])
                done = _cosine.grouped_power(flat, n_fft, hop_length, center, mode, taps, power, eps, bands, shape)  # fmt: skip
        if done is None:
            pieces = frame_pieces(x, n_fft, hop_length, center, pad_mode)
            done = _blocked_power(pieces, w, power, eps, bands, kernels)
    out, finite = done
    if not finite:  # the kernels flagged an output, or did not run: read it
        no_overflow(out, x, power)
    b, nf, n_out = out.shape
    return out.transpose(-1, -2).reshape(*x.shape[:-1], n_out, nf)


def no_overflow(out: torch.Tensor, x: torch.Tensor, power: float | None = None) -> None:
    """Raise ``ValueError`` where the spectrogram ``out`` of ``x`` is not finite: naming the
    input's first NaN or Inf (:func:`ddsp.dsp.finite_values`), else saying that its power
    overflowed the dtype (a signal peaking near ``sqrt(finfo.max) / n_fft``: 1e16 in float32 at
    n_fft 2048), which used to come back as ``inf`` without a word. One sum over ``out``; queued
    on accelerators; skipped where :func:`ddsp.dsp.reads_skipped`.

    Shape: any ``out``, the signal ``x (..., time)`` it came from.
    """
    if dsp.reads_skipped(out) or out.numel() == 0:
        return
    total = out.detach().sum()
    if not dsp.host_reads_free(total):
        dsp.device_assert(
            torch.isfinite(total), "NaN or Inf in signals, or the spectrogram overflowed"
        )
        return
    if bool(torch.isfinite(total)):
        return
    finite_values(x)  # a NaN or Inf input: named
    if bool(torch.isfinite(out.detach()).all()):  # finite values whose sum overflowed
        return
    peak = float(x.detach().abs().amax())
    raise ValueError(
        f"the spectrogram (power {power}) overflows {out.dtype} for signals peaking at "
        f"{peak:.3g}: scale them down, or compute in float64"
    )


def _blocked_power(
    pieces: list[tuple[int, torch.Tensor]],
    w: torch.Tensor,
    power: float,
    eps: float,
    bands: Bands | None,
    kernels: bool,
) -> tuple[torch.Tensor, bool]:
    """:func:`stft_power`'s gradient-free CPU path on the frames ``(B, F, n)`` that
    :func:`frame_pieces` gives: ``(B, F, n_out)``, and whether the C++ kernels found every output
    finite (False where they did not run, or where a filterbank without weights read nothing).

    Each block (a run of frames of one clip, or several whole short clips,
    :func:`_windowed_blocks`): window into a reused buffer, FFT into a fresh block (given
    ``out=``, torch's rfft computes elsewhere and copies: 10 % of a mel). Then, with
    ``kernels`` (float32 magnitudes and powers, :func:`ddsp.spectral._power_cpu.usable`), one
    C++ pass (the power, its root, the filterbank's products) from the spectrum into the output
    rows; otherwise the squares of the interleaved real and imaginary parts (one contiguous
    pass), then either ``|X|^2`` as the add of their halves (1.5x faster than
    ``re * re + im * im`` on the strided views) raised to the power, or, for a power
    spectrogram's bands, the products of the squares with each band's rows repeated twice
    (``re^2 w + im^2 w``: the add folded into the product), written into the output.
    """
    b, n = pieces[0][1].shape[0], pieces[0][1].shape[-1]
    nf = pieces[-1][0] + pieces[-1][1].shape[1]
    bins = n // 2 + 1
    dtype = w.dtype
    if kernels:  # float32 magnitude / power: one C++ pass a block
        runs = None if bands is None else _power_cpu.cached_filter_runs(bands, dtype)
        n_out = bins if runs is None else len(runs[0])
        out = empty_huge(b, nf, n_out, dtype=dtype, recycle=True)
        # a filterbank without weights reads no bin: its zeros say nothing of the input
        finite = runs is None or bool(runs[1].any())
        for win, dst in _windowed_blocks(pieces, w, out):
            ri = torch.view_as_real(rfft_frames(win))
            if runs is None:
                ok = _power_cpu.spectrum_power(ri, dst, power, eps)
            else:
                ok = _power_cpu.band_power(ri, dst, runs, power, eps)
            finite = finite and ok
        return out, finite
    # products on the [re^2, im^2] pairs for banded power bases (a mel filterbank split in
    # groups of 16 holds about 17 weights per bin: 2-4 % faster); a dense basis (64 weights
    # per bin and more) would double products that cost more than the add they replace
    weights = sum(block.numel() for *_, block in bands or ())
    interleaved = bands is not None and power == 2.0 and weights <= 24 * bins
    proj, n_out = [], 0  # (first filter, lo, hi, block^T), bins as pairs when interleaved
    for lo, hi, block in bands or ():
        bt = block.to(dtype).T
        if interleaved:
            lo, hi, bt = 2 * lo, 2 * hi, bt.repeat_interleave(2, dim=0)
        proj.append((n_out, lo, hi, bt))
        n_out += bt.shape[1]
    n_out = n_out or bins
    out = empty_huge(b, nf, n_out, dtype=dtype, recycle=True)  # 38 MB for 59 clips: warm
    rows = _block_rows(b, nf, n)
    sq = torch.empty(rows, bins, 2, dtype=dtype)
    pw = torch.empty(rows, bins, dtype=dtype) if bands is not None and not interleaved else None
    for win, dst in _windowed_blocks(pieces, w, out):
        k = win.shape[0]
        ri = torch.view_as_real(rfft_frames(win))
        torch.mul(ri, ri, out=sq[:k])
        if interleaved:
            p = sq[:k].view(k, 2 * bins)
        else:
            p = dst if pw is None else pw[:k]
            torch.add(sq[:k, :, 0], sq[:k, :, 1], out=p)  # |X|^2
            if power == 1.0:
                (p.clamp_min_(eps) if eps > 0 else p).sqrt_()
            elif power != 2.0:
                (p.clamp_min_(eps) if eps > 0 else p).pow_(power / 2)
        for first, lo, hi, bt in proj:
            torch.matmul(p[:, lo:hi], bt, out=dst[:, first : first + bt.shape[1]])
    return out, False  # (not known here: the input was checked up front)


def _block_rows(clips: int, frames: int, n: int) -> int:
    """Frames per block of :func:`_windowed_blocks`: ``_BLOCK`` samples' worth, or whole clips
    when a clip has fewer frames."""
    per = max(1, _BLOCK // n)
    return per if frames >= per else min(clips, per // frames) * frames


def _windowed_blocks(pieces: list[tuple[int, torch.Tensor]], w: torch.Tensor, out: torch.Tensor):
    """Blocks of the frames of :func:`frame_pieces` (a run of one clip's frames, or several
    whole short clips), windowed into one reused buffer, with the rows of ``out`` they fill:
    yields ``(windowed (k, n), out rows (k, n_out))``.

    Shape: pieces ``(B, F_i, n)``, ``w (n,)``, ``out (B, F, n_out)``.
    """
    b, nf, n = out.shape[0], out.shape[1], pieces[0][1].shape[-1]
    windowed = torch.empty(_block_rows(b, nf, n), n, dtype=w.dtype)
    per = max(1, _BLOCK // n)
    if nf >= per:
        blocks = [(i, i + 1, j, min(j + per, nf)) for i in range(b) for j in range(0, nf, per)]
    else:  # several whole clips per block
        c = per // nf
        blocks = [(i, min(i + c, b), 0, nf) for i in range(0, b, c)]
    for c0, c1, j0, j1 in blocks:
        k = (c1 - c0) * (j1 - j0)
        win = windowed[:k].view(c1 - c0, j1 - j0, n)
        for p0, frames_ in pieces:  # window the frames of each piece in the block
            lo, hi = max(j0, p0), min(j1, p0 + frames_.shape[1])
            if lo < hi:
                torch.mul(frames_[c0:c1, lo - p0 : hi - p0], w, out=win[:, lo - j0 : hi - j0])
        # the FFT's output is fresh: torch's rfft into out= computes elsewhere and copies
        yield windowed[:k], out[c0:c1, j0:j1].view(k, out.shape[-1])


def center_pad(x: torch.Tensor, pad: int, mode: str = "constant") -> torch.Tensor:
    """Pad ``pad`` samples on both sides of ``(batch, time)``, as ``numpy.pad`` (librosa):
    ``"constant"`` (zeros), ``"reflect"`` (also when ``pad`` exceeds the signal: the reflection
    repeats, as numpy's does; a one-sample signal is repeated), ``"replicate"``/``"edge"``,
    ``"circular"``."""
    mode = pad_mode_name(mode)
    if mode == "circular":  # any pad, wrapping as often as needed (as numpy's "wrap")
        n = x.shape[-1]
        return x[..., torch.arange(-pad, n + pad, device=x.device) % n]
    if mode != "reflect":
        return F.pad(x.unsqueeze(1), (pad, pad), mode=mode).squeeze(1)
    if x.shape[-1] == 1:
        return F.pad(x.unsqueeze(1), (pad, pad), mode="replicate").squeeze(1)
    left = right = pad
    while left or right:  # each pass reflects about the current ends, as numpy.pad does
        n = x.shape[-1]
        step_l, step_r = min(left, n - 1), min(right, n - 1)
        x = F.pad(x.unsqueeze(1), (step_l, step_r), mode="reflect").squeeze(1)
        left, right = left - step_l, right - step_r
    return x


@_checks.empty_batch(2)
@full_precision
def istft(
    spec: torch.Tensor,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str | torch.Tensor = "hann",
    center: bool = True,
    length: int | None = None,
    normalized: bool = False,
) -> torch.Tensor:
    """Inverse of :func:`stft` by weighted overlap-add with exact window-sum normalisation.

    ``x[n] = sum_t w[n - t hop] irfft(X_t)[n - t hop] / sum_t w[n - t hop]^2``; samples whose
    window sum is below ``1e-11`` of its peak are set to 0 instead of being divided.

    Args:
        spec: ``(..., n_fft // 2 + 1, frames)`` complex.
        length: output length (default: what the frames cover, minus the centre padding).

    Returns:
        ``(..., time)`` real.
    """
    win_length = n_fft if win_length is None else win_length
    hop_length = _checks.hop(hop_length, win_length)
    if spec.dim() < 2 or spec.shape[-2] != n_fft // 2 + 1:
        raise ValueError(
            f"spec must be (..., n_fft // 2 + 1 = {n_fft // 2 + 1}, frames) for n_fft={n_fft}, "
            f"got {tuple(spec.shape)}"
        )
    finite_values(torch.view_as_real(spec) if spec.is_complex() else spec, "spec")
    real_dtype = spec.real.dtype
    w = _window(window, win_length, n_fft, real_dtype, spec.device)
    if normalized:
        spec = spec * w.pow(2).sum().sqrt()
    batch = spec.shape[:-2]
    spec = spec.reshape(-1, *spec.shape[-2:])
    n_frames = spec.shape[-1]
    total = n_fft + hop_length * (n_frames - 1)
    wsum = overlap_add(w.square().expand(n_frames, n_fft), hop_length)
    start = n_fft // 2 if center else 0
    end = total - n_fft // 2 if center else total
    if length is not None:
        end = start + length
    if end <= start:  # one centred frame, or length 0: no sample (as librosa's and torch's)
        return torch.zeros(*batch, 0, dtype=real_dtype, device=spec.device)
    wsum = wsum[start:end]
    if wsum.shape[-1] < (end - start):  # requested length beyond the frames: zero-pad
        wsum = F.pad(wsum, (0, end - start - wsum.shape[-1]))
    ok = wsum > 1e-11 * wsum.max()
    w_grad = torch.is_grad_enabled() and w.requires_grad  # a trainable window: autograd's path
    if (
        spec.shape[-2] == n_fft // 2 + 1
        and w.dtype == torch.float32
        and not w_grad
        and _ola_cpu.usable(spec)
    ):
        y = _ola_cpu.istft_frames(spec, w, n_fft, hop_length, start, wsum, ok)  # the same bits
        return y.reshape(*batch, y.shape[-1])
    frames = torch.fft.irfft(spec.transpose(-1, -2), n=n_fft) * w
    y = overlap_add(frames, hop_length)[:, start:end]
    if y.shape[-1] < (end - start):
        y = F.pad(y, (0, end - start - y.shape[-1]))
    y = torch.where(ok, y / torch.where(ok, wsum, torch.ones_like(wsum)), torch.zeros_like(y))
    return y.reshape(*batch, y.shape[-1])


# Below this level relative to its frame's mean power (dB), the gradient of |X| ** power
# (power < 2) uses the floor's magnitude instead of |X|: there float32 FFT rounding (~120 dB
# below the frame's mean) reaches the direction X / |X| and is amplified by |X| ** (power - 2)
# and by any log that follows. At -50 dB every front-end's float32 gradient is within ~1e-4 of
# its float64 one on shipped speech (tests/test_conditioning.py); at -60 dB, 2.9e-4 (tf MFCC).
GRAD_FLOOR_DB = -50.0


def magnitude(
    spec: torch.Tensor,
    power: float = 1.0,
    eps: float = 0.0,
    grad_floor_db: float | None = None,
    floor_dims: tuple[int, ...] = (-2,),
) -> torch.Tensor:
    """``|X| ** power``, exact, with a gradient that is finite and well conditioned near ``X = 0``.

    Computes ``max(re**2 + im**2, eps) ** (power / 2)``: exact with the default ``eps=0``
    (``power=2`` never clamps); ``eps > 0`` floors the power first, as auraloss does in its
    losses (``sqrt(clamp(p, 1e-8))``, a floor of 1e-4 on magnitudes: keep it out of
    features).

    The gradient is ``power/2 |X|^(power-2) X``, except that for ``power < 2`` the factor
    ``|X|^(power-2)`` is taken at ``max(|X|, tau)``: ``tau^2`` lies ``grad_floor_db`` (default
    -50 dB) below the mean power over ``floor_dims``: by default the frequency axis, so per
    frame, where an STFT's rounding is relative to its frame; ``(-2, -1)`` for transforms whose
    rounding reaches across frames (the CQT's long low-octave kernels); everything for 1-D
    input. Below ``tau`` float32 FFT rounding in the direction ``X / |X|``
    would otherwise be amplified into the gradient (more so under a log); there the gradient
    is that of a magnitude smoothed to ``|X|^2 / tau`` and goes to 0 at ``X = 0`` (not NaN).
    Where ``|X|^2 <= eps`` (clamped) it is 0. One fused pass forward and one backward.

    Args:
        spec: complex tensor, ``(..., freq, frames)`` (any shape; see above for the floor).
        grad_floor_db: the gradient floor; ``None`` for the default, ``-inf`` for none.

    Returns:
        real tensor of the same shape.
    """
    floor = GRAD_FLOOR_DB if grad_floor_db is None else float(grad_floor_db)
    return _Magnitude.apply(spec, _checks.power(power), float(eps), floor, tuple(floor_dims))


class _RealFFT(torch.autograd.Function):
    """``torch.fft.rfft`` over the last dimension, with a half-size backward.

    For real input the gradient is ``Re(sum_k g_k exp(2 pi i k n / N))`` over the one-sided bins,
    which equals ``N * irfft(g')`` with the interior bins of ``g`` halved: a complex-to-real FFT
    of the one-sided size, where autograd's default runs a full-size complex FFT.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.n = x.shape[-1]
        return rfft_frames(x)

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        # all bins but DC and (for even n) Nyquist halved; "forward": no 1/n, i.e. n * irfft
        return irfft_frames(g, ctx.n, norm="forward", interior=0.5)


def windowed_rfft(frames: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """``torch.fft.rfft(frames * window)``, differentiable; for odd lengths on the CPU the
    windowing happens inside the paired FFT's packing and, backward, its unpacking
    (:func:`ddsp.spectral._rfft.rfft_frames`), with no windowed copy of the frames either way.

    Shape: ``(R, F, n)``, ``(n,)`` -> ``(R, F, n // 2 + 1)`` complex.
    """
    if windowed_pairs(frames, window):
        return _WindowedRealFFT.apply(frames, window)
    return _RealFFT.apply(frames * window)


class _WindowedRealFFT(torch.autograd.Function):
    """:class:`_RealFFT` of ``frames * window`` for a constant window (no gradient to it)."""

    @staticmethod
    def forward(ctx, frames: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        ctx.n = frames.shape[-1]
        ctx.save_for_backward(window)
        return rfft_frames(frames, window=window)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (window,) = ctx.saved_tensors
        return irfft_frames(g, ctx.n, norm="forward", interior=0.5, window=window), None


class _Magnitude(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spec: torch.Tensor, power: float, eps: float, floor_db: float, dims: tuple):
        re, im = spec.real, spec.imag
        p = torch.addcmul(re * re, im, im)  # 3-4x faster than summing view_as_real's last axis
        ctx.power, ctx.eps, ctx.floor_db = power, eps, floor_db
        if power == 2.0:
            ctx.save_for_backward(spec)
            return p
        if not ctx.needs_input_grad[0]:  # no backward: no gradient floor to find (a reduction)
            p = p.clamp_min_(eps) if eps > 0 else p
            return p.sqrt_() if power == 1.0 else p.pow_(power / 2)
        mean = p.mean(dim=dims, keepdim=True) if spec.dim() >= len(dims) + 1 else p.mean()
        tau2 = mean * 10.0 ** (floor_db / 10.0)  # the gradient floor, squared
        if power == 1.0:  # p is not needed afterwards: clamp and root in place
            out = (p.clamp_min_(eps) if eps > 0 else p).sqrt_()
            ctx.save_for_backward(spec, out, tau2)
        else:
            out = (p.clamp_min(eps) if eps > 0 else p).pow(power / 2)
            ctx.save_for_backward(spec, p, tau2)
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        power, eps = ctx.power, ctx.eps
        if power == 2.0:
            (spec,) = ctx.saved_tensors
            return 2.0 * g * spec, None, None, None, None
        spec, saved, tau2 = ctx.saved_tensors
        tiny = torch.finfo(saved.dtype).tiny
        if power == 1.0:  # saved = |X| (clamped at sqrt(eps)): d|X| / dX* = X / (2 |X|)
            mag = torch.maximum(saved, tau2.sqrt().clamp_min(tiny))
            live = saved > eps**0.5 if eps > 0 else saved > 0
            scale = torch.where(live, g / mag, 0.0)
        else:  # saved = |X|^2: d out / d X* = power / 2 |X|^(power - 2) X, |X| floored
            p = torch.maximum(saved, tau2.clamp_min(tiny))
            scale = torch.where(saved > eps, g * power * p.pow(power / 2 - 1.0), 0.0)
        return scale * spec, None, None, None, None


def phase(spec: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """``angle(spec)`` in radians; 0 with a zero (not NaN) gradient where ``|spec|**2 <= eps``.

    ``torch.angle`` has a NaN gradient at 0 (digital silence). Any shape -> same shape, real.
    """
    live = spec.real.square() + spec.imag.square() > eps
    re = torch.where(live, spec.real, torch.ones_like(spec.real))
    im = torch.where(live, spec.imag, torch.zeros_like(spec.imag))
    return torch.where(live, torch.atan2(im, re), torch.zeros_like(re))

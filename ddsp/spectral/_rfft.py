"""Real FFTs of many frames, odd lengths as pairs of frames in one complex FFT.

A real FFT of even length ``n`` runs as a complex FFT of length ``n / 2``; of odd length it
cannot, and the CPU libraries torch calls (MKL, pocketfft) then take about as long as a
complex FFT of the full length: measured here (one thread, 4 M samples of frames), ``rfft`` of
odd lengths 509 / 1023 / 1025 / 2047 / 2053 took 1.9-3.2x the time of ``fft`` of half as many
complex frames, even lengths 0.96-1.4x. Two real frames ``a`` and ``b`` packed as ``z = a + i
b`` give both spectra from one complex FFT: ``A[k] = (Z[k] + conj(Z[-k])) / 2`` and ``B[k] =
(Z[k] - conj(Z[-k])) / 2i``; the inverse packs two Hermitian spectra the same way. Exact up to
float rounding (the GOLF loss preset's FFT sizes, 509 / 1021 / 2053, are odd primes).

Used on the CPU for odd lengths (:func:`paired`); elsewhere the plain ``torch.fft`` calls.
"""

from __future__ import annotations

import torch

from . import _mkl_cpu, _pairs_cpu

__all__ = ["paired", "windowed_pairs", "rfft_frames", "irfft_frames"]


def paired(x: torch.Tensor, n: int) -> bool:
    """Whether frames of length ``n`` in ``x`` go through the paired complex FFT: odd ``n``,
    at least two frames, on the CPU."""
    return n % 2 == 1 and x.device.type == "cpu" and x.numel() >= 2 * max(n, 1)


def rfft_frames(
    x: torch.Tensor, out: torch.Tensor | None = None, window: torch.Tensor | None = None
) -> torch.Tensor:
    """``torch.fft.rfft(x * window)`` over the last dimension (into ``out`` when given; no
    window: ``torch.fft.rfft(x)``).

    Odd lengths run as pairs of frames in one complex FFT. In float32 the C++ packing
    (:func:`ddsp.spectral._pairs_cpu.pack`) reads each pair from ``x`` where it lies (a framing
    view ``(R, F, n)`` is read in place: no windowed copy of overlapping frames), windows them
    and takes their norms on the way.

    Shape: ``(..., n)`` real, ``window (n,)`` -> ``(..., n // 2 + 1)`` complex.
    """
    n = x.shape[-1]
    if not paired(x, n):
        x = x if window is None else x * window
        return torch.fft.rfft(x, out=out) if out is not None else torch.fft.rfft(x)
    h, m = n // 2 + 1, x.numel() // n
    half = m // 2
    if out is None:
        out = torch.empty(*x.shape[:-1], h, dtype=_complex(x.dtype))
    res = out.view(m, h)
    # each frame scaled to unit norm first: the rounding of Z is relative to |Z|, so a quiet
    # frame paired with a loud one would take on the loud one's rounding (2.5e-2 of the peak
    # in a float32 loss gradient, against 3e-4 unpaired); scaled, each keeps its own. A block
    # of pairs at a time: the packed frames and their spectra are temporaries, and whole-batch
    # ones (tens of MB) are fresh pages every call, faulted in one by one
    step = _pairs_per_block(n)
    if _pairs_cpu.usable(x):  # one C++ pass each side of the FFT
        frames = x if x.dim() == 3 and x.stride(-1) == 1 else x.reshape(1, m, n)
        f = frames.shape[1]
        win = torch.ones(n, dtype=x.dtype) if window is None else window.contiguous()
        size = torch.empty(m, dtype=x.dtype)
        scale = torch.empty(2 * half, dtype=x.dtype)
        for lo in range(0, half, step):
            hi = min(half, lo + step)
            z = _fft(_pairs_cpu.pack(frames, win, size, scale, lo, hi, half))
            _pairs_cpu.split(z, scale, res, lo, hi, half)

        def alone(rows: torch.Tensor) -> torch.Tensor:
            return frames[rows // f, rows % f] * win

    else:
        flat = (x if window is None else x * window).reshape(-1, n)
        size = torch.linalg.vector_norm(flat[: 2 * half], dim=-1)
        scale = _unit(size)[:, None]  # (2 half, 1)
        for lo in range(0, half, step):
            _rfft_pairs(flat, scale, res, lo, min(half, lo + step), half, n, h, out.dtype)

        def alone(rows: torch.Tensor) -> torch.Tensor:
            return flat[rows]

    # digital silence (and norms below the smallest normal number, whose scale would
    # overflow) and the odd frame out: unpaired, so exact zeros stay zeros
    quiet = torch.nonzero(size[: 2 * half] < torch.finfo(x.dtype).tiny).flatten()
    if m % 2:
        quiet = torch.cat([quiet, torch.tensor([m - 1])])
    if len(quiet):
        res[quiet] = torch.fft.rfft(alone(quiet))
    return out


def windowed_pairs(frames: torch.Tensor, window: torch.Tensor) -> bool:
    """Whether ``rfft_frames(frames, window=window)`` reads ``frames`` in place: paired
    (:func:`paired`), float32 ``(R, F, n)`` with unit stride along ``n`` (a framing view), a
    float32 window of ``n`` samples without gradient, and the C++ kernels usable."""
    n = frames.shape[-1]
    return (
        paired(frames, n)
        and frames.dim() == 3
        and frames.stride(-1) == 1
        and window.dtype == torch.float32
        and window.shape == (n,)
        and not window.requires_grad
        and _pairs_cpu.usable(frames)
    )


def _rfft_pairs(flat, scale, res, lo: int, hi: int, half: int, n: int, h: int, dtype) -> None:
    """Pairs ``lo .. hi`` of :func:`rfft_frames` in eager torch: frame ``i`` with frame
    ``half + i``."""
    sa, sb = scale[lo:hi], scale[half + lo : half + hi]
    z = torch.empty(hi - lo, n, dtype=dtype)
    zr = torch.view_as_real(z)
    torch.mul(flat[lo:hi], sa, out=zr[..., 0])
    torch.mul(flat[half + lo : half + hi], sb, out=zr[..., 1])
    z = torch.fft.fft(z)
    ra, rb = res[lo:hi], res[half + lo : half + hi]
    # A[k] = (Z[k] + conj Z[-k]) / 2, B[k] = (Z[k] - conj Z[-k]) / 2i; DC: Re Z[0], Im Z[0]
    ra[:, :1], rb[:, :1] = z[:, :1].real / sa, z[:, :1].imag / sb
    zk, back = z[:, 1:h], z[:, h:].flip(-1).conj_physical_()  # Z[-k] = Z[n - k], n odd
    torch.add(zk, back, out=ra[:, 1:]).mul_(0.5 / sa)
    torch.sub(zk, back, out=rb[:, 1:]).mul_(-0.5j / sb)


def _pairs_per_block(n: int) -> int:
    """Pairs of frames of length ``n`` per block: about 1 MB of packed complex frames."""
    return max(1, (1 << 17) // n)


def irfft_frames(
    g: torch.Tensor,
    n: int,
    norm: str = "backward",
    interior: float = 1.0,
    window: torch.Tensor | None = None,
) -> torch.Tensor:
    """``torch.fft.irfft(g', n, norm=norm)`` over the last dimension, ``g'`` being ``g`` with
    the bins between DC and Nyquist times ``interior > 0`` (the real FFT's backward halves them);
    the imaginary part of the DC bin is ignored, as there. With ``window (n,)``, the frames
    times it (the windowed STFT's backward), in the unpacking pass where it runs in C++.

    Shape: ``(..., n // 2 + 1)`` complex -> ``(..., n)`` real.
    """
    if not paired(g, n) or g.shape[-1] != n // 2 + 1:
        if interior != 1.0:
            g = g.clone()
            g[..., 1 : (n + 1) // 2] *= interior
        out = torch.fft.irfft(g, n=n, norm=norm)
        return out if window is None else out * window
    h = n // 2 + 1
    flat = g.reshape(-1, h)
    m = flat.shape[0]
    half = m // 2
    # unit-norm frames, as in rfft_frames (a constant scale: no gradient through it)
    pairs = torch.view_as_real(flat[: 2 * half].detach()).flatten(-2)  # complex norms: 20x slower
    size = torch.linalg.vector_norm(pairs, dim=-1)
    scale = _unit(size)[:, None]
    out = torch.empty(m, n, dtype=size.dtype)
    if torch.is_grad_enabled() and g.requires_grad:  # double backward: differentiable ops
        a, b = flat[:half] * scale[:half], flat[half : 2 * half] * scale[half:]
        dc = torch.complex(a[:, :1].real, b[:, :1].real)  # DC: imaginary parts dropped
        ib = b[:, 1:] * (1j * interior)
        top = ib + interior * a[:, 1:]
        w = torch.cat([dc, top, (interior * a[:, 1:] - ib).conj().flip(-1)], dim=-1)
        w = torch.view_as_real(torch.fft.ifft(w, norm=norm))
        out[:half], out[half : 2 * half] = w[..., 0] / scale[:half], w[..., 1] / scale[half:]
        windowed = False
    else:  # a block of pairs at a time, as rfft_frames: no whole-batch temporaries
        step = _pairs_per_block(n)
        windowed = window is not None and _pairs_cpu.usable(flat) and flat.is_contiguous()
        win = window.contiguous() if windowed else None
        for lo in range(0, half, step):
            hi = min(half, lo + step)
            _irfft_pairs(flat, scale, out, lo, hi, half, n, h, norm, interior, win)
    alone = torch.nonzero(size < torch.finfo(size.dtype).tiny).flatten()  # as in rfft_frames
    if m % 2:
        alone = torch.cat([alone, torch.tensor([m - 1])])
    if len(alone):
        rest = flat[alone].clone()
        rest[:, 1:] *= interior
        out[alone] = torch.fft.irfft(rest, n=n, norm=norm) * (window if windowed else 1.0)
    if window is not None and not windowed:
        out = out * window
    return out.view(*g.shape[:-1], n)


def _irfft_pairs(
    flat, scale, out, lo: int, hi: int, half: int, n: int, h: int, norm, interior, window=None
):
    """Pairs ``lo .. hi`` of :func:`irfft_frames` without autograd: spectrum ``i`` with
    spectrum ``half + i``, into the rows of ``out`` (times ``window``, given only with the C++
    kernels)."""
    if flat.is_contiguous() and _pairs_cpu.usable(flat):  # one C++ pass each side of the FFT
        w = _fft(_pairs_cpu.merge(flat, scale, lo, hi, half, n, interior), True, norm)
        _pairs_cpu.unmerge(w, scale, out, lo, hi, half, window)
        return
    sa, sb = scale[lo:hi], scale[half + lo : half + hi]
    a, b = flat[lo:hi] * sa, flat[half + lo : half + hi] * sb
    # W = A + i B: W[k] = A[k] + i B[k], W[n - k] = conj A[k] + i conj B[k] = conj(A - i B)[k]
    w = torch.empty(hi - lo, n, dtype=flat.dtype)
    w[:, :1] = torch.complex(a[:, :1].real, b[:, :1].real)  # DC: imaginary parts dropped
    ib = b[:, 1:] * (1j * interior)
    torch.add(ib, a[:, 1:], alpha=interior, out=w[:, 1:h])
    low = torch.sub(a[:, 1:], ib, alpha=1 / interior).mul_(interior)
    w[:, h:] = low.conj_physical_().flip(-1)
    w = torch.view_as_real(torch.fft.ifft(w, norm=norm))
    torch.div(w[..., 0], sa, out=out[lo:hi])
    torch.div(w[..., 1], sb, out=out[half + lo : half + hi])


def _fft(z: torch.Tensor, inverse: bool = False, norm: str | None = None) -> torch.Tensor:
    """``torch.fft.fft`` / ``ifft`` of the rows of the packed pairs, with MKL's plan kept
    where it can be (:mod:`ddsp.spectral._mkl_cpu`: the same values; torch plans anew every
    call, 41-153 us for the GOLF loss's 509 / 1021 / 2053 samples, against 0.2-2 ms for a
    block's transforms)."""
    if _mkl_cpu.planned(z):
        return _mkl_cpu.fft_rows(z, inverse, norm)
    return (torch.fft.ifft if inverse else torch.fft.fft)(z, norm=norm)


def _unit(size: torch.Tensor) -> torch.Tensor:
    """``1 / size``; 1 below the smallest normal number (those frames are redone unpaired).
    Shape: same."""
    return torch.where(size >= torch.finfo(size.dtype).tiny, size, 1.0).reciprocal()


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64

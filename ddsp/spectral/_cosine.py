"""The STFT power path for cosine-sum windows: frames transformed unwindowed, in place, and
windowed after the FFT.

A periodic cosine-sum window of ``N`` samples, ``w[t] = sum_m (-1)^m a_m cos(2 pi m t / N)``
(Hann: ``a = (0.5, 0.5)``; Hamming ``(0.54, 0.46)``; Blackman ``(0.42, 0.5, 0.08)``; the
rectangle ``(1,)``), is in frequency a filter of ``2M - 1`` taps: the spectrum of ``w x`` is
``a_0 X[k] + sum_m (-1)^m a_m / 2 (X[k - m] + X[k + m])``. So the frames need no windowed copy:
the FFT reads them where they lie, as a strided view of the signal (a ``(frames, N)`` view with
a stride of one hop is one batch dimension, which torch's FFT takes as it is), and the C++
power kernels (:mod:`ddsp.spectral._power_cpu`) apply the taps on the way to the magnitude.
The FFT's rounding is of the order of ``eps |x|`` in every bin either way, so the results
agree with the time-domain window's to that (the tests compare with float64).

Where torch's library exports MKL's FFT (:mod:`ddsp.spectral._mkl_cpu`), one C++ pass does the
rest (:mod:`ddsp.spectral._framed_cpu`): each clip's frames, a block at a time, FFT'd where they
lie in the signal (those reaching into the centre padding from a small buffer), windowed and
reduced by the power kernels while their spectra are in cache. On 59 clips of 80,000 samples
(n_fft 2048, hop 512; a 2-core Xeon, the ways alternating in one process) the magnitude took
0.70-0.86x the time of torch's FFT alone of the same frames windowed beforehand (whose input
is four times the signal, and whose every call plans the transform anew), against 1.19-1.37x
with the group buffers below; mel 0.81-0.90x against 1.33-1.70x.

Elsewhere the signals go through a small buffer that stays in cache: a group of whole padded
clips (or, for a long clip, a segment of its frames), each row ``P`` hops long, so that the
frames of every row of the group are one strided view of the buffer: one ``torch.fft.rfft``
call for the group, of ``P`` frames a row of which the last ``P - G`` (``G`` frames per row)
straddle two rows and are not kept (3 of 160 for 80,000 samples at n_fft 2048, hop 512). On
the same clips the magnitude took 1.37-1.42x the time of the FFTs alone, against 1.67-1.74x
with the time-domain window; a mel spectrogram 1.62-1.70x against 1.70-1.85x (the taps cost
the filterbank's pass more than the magnitude's). Buffers of 1 MB (two clips) took 1.1-1.2x as
long for the FFT as 512 kB ones: its output no longer stays in a 2 MB L2.
"""

from __future__ import annotations

import torch

from ..dsp import empty_huge
from . import _power_cpu

__all__ = ["COSINE_TERMS", "taps", "plan", "grouped_power", "ends"]

# a_m of each periodic cosine-sum window of get_window (torch's window functions' terms)
COSINE_TERMS: dict[str, tuple[float, ...]] = {
    "hann": (0.5, 0.5),
    "hamming": (0.54, 0.46),
    "blackman": (0.42, 0.5, 0.08),
    "rectangular": (1.0,),
    "boxcar": (1.0,),
    "ones": (1.0,),
}
_SAMPLES = 1 << 17  # signal samples per group buffer (512 kB float32): its FFT's output in cache
_MOST_STRADDLING = 0.25  # the largest share of straddling frames worth transforming


def taps(window: object, win_length: int, n_fft: int, scale: float = 1.0) -> list[float] | None:
    """The frequency taps ``[a_0, -a_1 / 2, a_2 / 2]`` (times ``scale``) of a named cosine-sum
    window that spans the whole frame (``win_length == n_fft``), or None for any other window
    (a tensor, Bartlett, a window shorter than the frame) and for frames too short for the
    kernels' symmetric extension (more than twice as many bins as taps: ``n_fft=2`` failed
    inside them)."""
    if not isinstance(window, str) or window not in COSINE_TERMS or win_length != n_fft:
        return None
    a = COSINE_TERMS[window]
    if n_fft // 2 + 1 <= 2 * len(a):
        return None
    return [scale * a[0]] + [scale * (-1) ** m * a[m] / 2 for m in range(1, len(a))]


def plan(t: int, n_fft: int, hop: int, center: bool) -> tuple[int, int, int] | None:
    """``(frames, frames per row G, hops per row P)`` of :func:`grouped_power` for signals of
    ``t`` samples, or None where no frame fits, or where more than a quarter of the transformed
    frames would straddle two rows (clips of a few frames)."""
    pad = n_fft // 2 if center else 0
    frames = 1 + (t + 2 * pad - n_fft) // hop
    g = min(frames, max(1, _SAMPLES // hop))
    p = g - 1 + -(-n_fft // hop)
    if frames < 1 or p - g > _MOST_STRADDLING * p:
        return None
    return frames, g, p


def grouped_power(
    x: torch.Tensor,
    n_fft: int,
    hop: int,
    center: bool,
    pad_mode: str,
    taps_: list[float],
    power: float,
    eps: float,
    bands: list[tuple[int, int, torch.Tensor]] | None,
    shape: tuple[int, int, int],
) -> tuple[torch.Tensor, bool]:
    """The magnitude / power spectrogram of float32 signals ``x`` for an even ``n_fft`` and the
    window of ``taps_`` (:func:`taps`), or its projection on the filterbank ``bands``
    (:func:`ddsp.spectral.functional.band_split`); the frames as
    :func:`ddsp.spectral.functional.frames` (``pad_mode`` other than ``"circular"``), ``shape``
    their :func:`plan`; through the group buffers and torch's FFT (where torch has no MKL:
    otherwise :func:`ddsp.spectral._framed_cpu.spectrogram` runs instead). Returns it, in recycled huge
    pages (:func:`ddsp.dsp.empty_huge`), and whether every output is finite (a filterbank
    without weights reads no bin: its zeros say nothing of the input).

    Shape: ``x (B, T)`` -> ``(B, frames, n_fft // 2 + 1 or n_filters)``.
    """
    b, (frames, g, p) = x.shape[0], shape
    runs = None if bands is None else _power_cpu.cached_filter_runs(bands, x.dtype)
    n_out = n_fft // 2 + 1 if runs is None else len(runs[0])
    out = empty_huge(b, frames, n_out, dtype=x.dtype, recycle=True)
    pad = n_fft // 2 if center else 0
    flat_out = out.view(b * frames, out.shape[-1])
    ends_ = ends(x, pad, pad_mode)
    row = p * hop
    q = 1 if g < frames else max(1, _SAMPLES // row)  # rows per group: clips, or one segment
    buf = torch.empty(q * row, dtype=x.dtype)
    finite, last = True, None
    for c0, c1, f0 in _groups(b, frames, g, q):
        k, n = c1 - c0, min(g, frames - f0)  # rows, their frames
        need = (n - 1) * hop + n_fft  # samples the frames of a row read
        # the zeros around the signal stay where the last group of the same layout left them
        zeros = ends_ is None and last == (f0, need)
        _fill(buf.view(q, row)[:k], x[c0:c1], ends_, c0, f0 * hop, need, pad, zeros)
        last = (f0, need)
        view = buf.as_strided(((k - 1) * p + n, n_fft), (hop, 1))
        ri = torch.view_as_real(torch.fft.rfft(view))
        segments = (p, [c * frames + f0 for c in range(c0, c1)], [n] * k)
        if runs is None:
            ok = _power_cpu.spectrum_power(ri, flat_out, power, eps, taps_, segments)
        else:
            ok = _power_cpu.band_power(ri, flat_out, runs, power, eps, taps_, segments)
        finite = finite and ok
    return out, finite and (runs is None or bool(runs[1].any()))


def _groups(b: int, frames: int, g: int, q: int):
    """``(first clip, end clip, first frame)`` of each group: ``q`` whole clips, or one
    segment of ``g`` frames of one clip."""
    if g >= frames:
        return [(c, min(b, c + q), 0) for c in range(0, b, q)]
    return [(c, c + 1, f) for c in range(b) for f in range(0, frames, g)]


def ends(x: torch.Tensor, pad: int, pad_mode: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The centre padding of every signal, ``(left (B, pad), right (B, pad))``, or None for
    zeros (``pad_mode="constant"``, or no padding)."""
    if pad == 0 or pad_mode == "constant":
        return None
    from ._stft import center_pad

    t = x.shape[-1]
    k = min(t, pad + 1)  # reflect reads pad samples past the end one, replicate the end one
    left = center_pad(x[:, :k], pad, pad_mode)[:, :pad]
    return left, center_pad(x[:, t - k :], pad, pad_mode)[:, -pad:]


def _fill(
    dst: torch.Tensor,
    x: torch.Tensor,
    ends: tuple[torch.Tensor, torch.Tensor] | None,
    c0: int,
    a: int,
    need: int,
    pad: int,
    zeros: bool = False,
) -> None:
    """Rows ``dst (k, row)`` <- samples ``a .. a + need`` of the centre-padded signals ``x (k,
    T)`` (clips ``c0 ..`` of the batch, whose padding ``ends`` gives), zeros after them
    (``zeros``: the rows already hold them, and zero padding, around where ``x`` goes)."""
    t = x.shape[-1]
    lo, hi = a - pad, a - pad + need  # the samples of x these are
    s0, s1 = max(lo, 0), min(hi, t)
    if s1 > s0:
        dst[:, s0 - lo : s1 - lo].copy_(x[:, s0:s1])
    if zeros:
        return
    if lo < 0:  # left padding: padded samples a .. min(pad, a + need)
        e = min(pad, a + need) - a
        if ends is None:
            dst[:, :e].zero_()
        else:
            dst[:, :e].copy_(ends[0][c0 : c0 + len(dst), a : a + e])
    if hi > t:  # right padding: padded samples max(a, pad + t) .. a + need
        s = max(a, pad + t)
        if ends is None:
            dst[:, s - a :].zero_()
            return
        dst[:, s - a : need].copy_(ends[1][c0 : c0 + len(dst), s - pad - t : a + need - pad - t])
    dst[:, need:].zero_()

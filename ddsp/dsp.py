"""DSP primitives shared by the front-ends, the filters and the synthesisers (a leaf: torch only).

One home for each: the FFT convolution (:func:`fft_convolve`, with :func:`next_fast_len`) and
the Kaiser-windowed sinc low-pass (:func:`kaiser_sinc_lowpass`) that the CQT's 2:1 decimator and
the glottal oscillator's decimation filter are built from, the overlap-add
(:func:`overlap_add`), and the NaN/Inf check of inputs (:func:`finite_values`, with
:func:`host_reads_free` and :func:`device_assert` for accelerators). ``ddsp.filters`` re-exports ``fft_convolve``. Framing is
``Tensor.unfold`` everywhere, after each caller's own padding (centred STFT frames, zero-padded
LPC and GOLF-ff segments); where the frames need a gradient (the STFT), :func:`frame`, whose
backward is :func:`overlap_add`.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import warnings

import torch

__all__ = [
    "next_fast_len",
    "fft_convolve",
    "kaiser_sinc_lowpass",
    "overlap_add",
    "frame",
    "compiled",
    "host_reads_free",
    "device_assert",
]

COMPILED: dict[str, object] = {}  # name -> torch.compile'd function; "broken" once it failed


def next_fast_len(n: int) -> int:
    """Smallest ``2**a * 3**b * 5**c >= n`` (sizes pocketfft and MKL handle fastest)."""
    n = int(n)  # a traced size (torch.jit.trace) is a tensor: the trace is per shape anyway
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def fft_convolve(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Full linear convolution along the last dimension via the real FFT.

    Args:
        x: ``(..., n)`` signal.
        h: ``(..., m)`` filter, broadcastable against ``x`` in the leading dimensions.

    Returns:
        ``(..., n + m - 1)``.
    """
    finite_values(x, "x")  # one NaN would spread over the whole output through the FFTs
    finite_values(h, "h")
    return _fft_convolve(x, h)


def _fft_convolve(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """:func:`fft_convolve` without its NaN / Inf checks, for callers that checked both."""
    n = x.shape[-1] + h.shape[-1] - 1
    size = next_fast_len(n)
    y = torch.fft.irfft(torch.fft.rfft(x, size) * torch.fft.rfft(h, size), size)
    return y[..., :n]


HUGE_MIN_BYTES = 4 << 20  # below this a fresh tensor's page faults cost little
RECYCLE_MAX_BYTES = 512 << 20  # idle mappings kept for empty_huge(..., recycle=True)
_RECYCLED: list = []  # mmap objects, most recently used last
_RECYCLE_LOCK = threading.Lock()


def empty_huge(
    *shape: int, dtype: torch.dtype = torch.float32, recycle: bool = False
) -> torch.Tensor:
    """A fresh, zero-filled CPU tensor in anonymous memory advised as transparent huge pages
    (Linux), for large outputs written once: ``torch.empty`` of tens of MB is faulted in 4 KiB
    pages on first write, which on a virtual machine here cost more than computing into it
    (38 MB: 9,273 faults, 30-36 ms to fill, against 586 faults and 8 ms advised; scratch
    measurement in the notes of issue 17). ``torch.empty`` below ``HUGE_MIN_BYTES``, where
    ``madvise`` is missing, or with ``DDSP_HUGEPAGES=0``. The tensor keeps the mapping alive.

    With ``recycle=True`` the values are unspecified (for an output the caller overwrites
    whole): the mapping of an earlier such tensor of the same size that nothing references any
    more is reused, already faulted in, instead of new pages the kernel must zero (a 38 MB
    spectrogram: 8-10 ms a call on a 2-core EPYC, a fifth of the whole STFT). Up to
    ``RECYCLE_MAX_BYTES`` of idle mappings are kept, the least recently used dropped first; as
    a caching allocator does, a process that made such tensors holds their memory while idle.

    Shape: ``shape`` -> ``shape``.
    """
    size = math.prod(shape) * dtype.itemsize
    if size < HUGE_MIN_BYTES or os.environ.get("DDSP_HUGEPAGES", "1") == "0":
        return torch.empty(*shape, dtype=dtype)
    import mmap

    if not hasattr(mmap, "MADV_HUGEPAGE"):
        return torch.empty(*shape, dtype=dtype)
    with _RECYCLE_LOCK:
        buf = _idle_mapping(size) if recycle else None
        if buf is None:
            buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            buf.madvise(mmap.MADV_HUGEPAGE)
            if recycle:
                _RECYCLED.append(buf)
        out = torch.frombuffer(buf, dtype=dtype).view(*shape)
        if recycle:
            _trim_recycled()
        return out


def _idle_mapping(size: int):
    """A recycled mapping of ``size`` bytes that no tensor holds, moved to the list's end; or
    None."""
    for i in range(len(_RECYCLED)):
        if len(_RECYCLED[i]) == size and _idle(i):
            _RECYCLED.append(_RECYCLED.pop(i))
            return _RECYCLED[-1]
    return None


def _idle(i: int) -> bool:
    """No tensor's storage references ``_RECYCLED[i]``: its only references are the list's and
    ``getrefcount``'s argument (each storage made by ``torch.frombuffer`` holds one more)."""
    return sys.getrefcount(_RECYCLED[i]) == 2


def _trim_recycled() -> None:
    """Drop the least recently used idle mappings beyond ``RECYCLE_MAX_BYTES`` in all."""
    total = sum(len(b) for b in _RECYCLED)
    i = 0
    while total > RECYCLE_MAX_BYTES and i < len(_RECYCLED):
        if _idle(i):  # unmapped once the list lets it go
            total -= len(_RECYCLED.pop(i))
        else:
            i += 1


def kaiser_sinc_lowpass(taps: int, cutoff: float, beta: float) -> torch.Tensor:
    """Linear-phase low-pass ``cutoff sinc(cutoff n) kaiser(n, beta)``, unit DC gain.

    Args:
        taps: length (odd for an integer delay).
        cutoff: relative to the Nyquist frequency (0 < cutoff <= 1).
        beta: Kaiser window shape (larger: more stop-band attenuation, wider transition).

    Returns:
        ``(taps,)`` float64.
    """
    if not 0 < cutoff <= 1:
        raise ValueError(f"cutoff must be in (0, 1] (relative to Nyquist), got {cutoff!r}")
    n = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    window = torch.kaiser_window(taps, periodic=False, beta=beta, dtype=torch.float64)
    h = cutoff * torch.sinc(cutoff * n) * window
    return h / h.sum()


def overlap_add(frames: torch.Tensor, hop_length: int) -> torch.Tensor:
    """Sum frames placed ``hop_length`` samples apart (the one overlap-add: the inverse STFT,
    GOLF-ff's frame-wise filter and the time-varying FIR all use it; and, as
    :func:`frame`'s backward, the STFT's gradient).

    Frames ``j, j + k, j + 2k, ...`` (``k = ceil(frame_length / hop_length)``) do not overlap, so
    each of the ``k`` groups is one strided in-place add: 4-7x faster than ``F.fold`` or
    autograd's ``unfold`` backward on 16 x 64,000 samples of frames (one thread). The
    gradient is the frames of the gradient (:func:`frame`).

    Shape: ``(..., n_frames, frame_length)`` -> ``(..., (n_frames - 1) * hop_length +
    frame_length)``.
    """
    _positive("hop_length", hop_length)
    if frames.dim() < 2:
        raise ValueError(
            f"overlap_add expects (..., n_frames, frame_length), got {tuple(frames.shape)}"
        )
    lead, (n, length) = frames.shape[:-2], frames.shape[-2:]
    total = (n - 1) * hop_length + length
    if reads_skipped(frames):  # tracing, export, torch.compile, vmap: plain aten ops (F.fold)
        y = torch.nn.functional.fold(
            frames.reshape(-1, n, length).transpose(1, 2),
            (1, total),
            (1, length),
            stride=(1, hop_length),
        )
        return y.reshape(*lead, total)
    return _OverlapAdd.apply(frames, hop_length, total)


def frame(x: torch.Tensor, frame_length: int, hop_length: int) -> torch.Tensor:
    """``x.unfold(-1, frame_length, hop_length)`` (a view), with :func:`overlap_add` as its
    backward instead of autograd's ``unfold`` backward (4x slower here).

    Shape: ``(..., time)`` -> ``(..., n_frames, frame_length)``.
    """
    _positive("frame_length", frame_length)
    _positive("hop_length", hop_length)
    if not (torch.is_grad_enabled() and x.requires_grad) or reads_skipped(x):
        return x.unfold(-1, frame_length, hop_length)
    return _Frame.apply(x, frame_length, hop_length)


def _positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _add_frames(frames: torch.Tensor, hop: int, total: int) -> torch.Tensor:
    """Overlap-add by ``ceil(length / hop)`` strided in-place adds (no autograd)."""
    n, length = frames.shape[-2:]
    out = frames.new_zeros(*frames.shape[:-2], total)
    k = -(-length // hop)
    for j in range(min(k, n)):
        group = frames[..., j::k, :]
        view = out[..., j * hop :].unfold(-1, length, k * hop)[..., : group.shape[-2], :]
        view.add_(group)
    return out


class _OverlapAdd(torch.autograd.Function):
    @staticmethod
    def forward(ctx, frames: torch.Tensor, hop: int, total: int) -> torch.Tensor:
        ctx.hop, ctx.length = hop, frames.shape[-1]
        return _add_frames(frames, hop, total)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        return frame(g, ctx.length, ctx.hop), None, None


class _Frame(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, length: int, hop: int) -> torch.Tensor:
        ctx.hop, ctx.total = hop, x.shape[-1]
        return x.unfold(-1, length, hop)  # a view (which autograd forbids modifying in place)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        n, length = g.shape[-2:]
        used = (n - 1) * ctx.hop + length  # the samples past the last frame get no gradient
        out = overlap_add(g, ctx.hop)
        if used < ctx.total:
            out = torch.nn.functional.pad(out, (0, ctx.total - used))
        return out, None, None


def compiled(name: str, eager, options: dict | None = None):
    """``torch.compile(eager, dynamic=True, options=options)`` (inductor's settings), cached
    under ``name``, for the elementwise chains that eager mode runs as a pass over memory per op
    (the all-pole backward's helpers, the spectral losses' terms). Eager when
    ``DDSP_COMPILE=0``, or once compiling has failed (no C++ compiler, an unsupported device:
    warned once)."""
    if os.environ.get("DDSP_COMPILE", "1") == "0" or COMPILED.get("broken"):
        return eager
    if name not in COMPILED:
        COMPILED[name] = torch.compile(eager, dynamic=True, options=keyed_by_vector_isa(options))
    fn = COMPILED[name]

    def run(*args):
        try:
            return fn(*args)
        except Exception as e:  # no C++ compiler, unsupported device, ...
            COMPILED["broken"] = True
            warnings.warn(
                f"ddsp: torch.compile unavailable ({type(e).__name__}: {e}); running eagerly",
                stacklevel=3,
            )
            return eager(*args)

    return run


def keyed_by_vector_isa(options: dict | None = None) -> dict:
    """``options`` with ``cpp.simdlen`` set to the bit width of the CPU vector ISA inductor
    picks here for them (0: none), which makes it pick the same ISA.

    Why: inductor's FX graph cache (torch 2.13) keys a graph by inductor's config but not by the
    CPU's vector ISA, so a graph generated for AVX-512 is reused under
    ``ATEN_CPU_CAPABILITY=avx2``, or from a cache directory shared with another machine, and
    its kernels built for the ISA at hand. Measured here (MR-STFT loss gradient, cache warmed
    without the variable): relative error 7e24 under ``avx2`` (lanes never written), a C++ error
    under ``default``. Naming the width puts the ISA into the key.
    """
    from torch._inductor import config, cpu_vec_isa

    out = dict(options or {})
    with config.patch({"cpp.simdlen": out.get("cpp.simdlen")}):
        isa = cpu_vec_isa.pick_vec_isa()
    out["cpp.simdlen"] = isa.bit_width() if isa else 0
    return out


def host_reads_free(t: torch.Tensor) -> bool:
    """Whether reading a value of ``t`` on the host is free (CPU tensors): the hot paths'
    NaN/Inf checks read there and raise their precise errors; elsewhere they call
    :func:`device_assert`, which does not stall the device."""
    return t.device.type == "cpu"


def device_assert(ok: torch.Tensor, message: str) -> None:
    """Queue the check that the 0-dim boolean ``ok`` holds on its device, without synchronising
    the host (:func:`torch._assert_async`; nothing on ``meta``). A failure surfaces at the next
    synchronisation as a device-side assertion, which ends the process's CUDA context: an error
    all the same, never a silent NaN, at no per-call stall. ``message`` is what a CPU run of the
    same call raises."""
    if ok.device.type != "meta":
        torch._assert_async(ok, message)


def plain_cpu(x: torch.Tensor) -> bool:
    """Whether a C++ kernel may take ``x``'s place in the eager ops: a plain CPU tensor (or
    parameter), outside tracing, export, ``torch.compile`` and vmap, and not a fake or other
    subclassed tensor (those keep the eager ops, which they understand). Shape: any."""
    if x.device.type != "cpu" or type(x) not in (torch.Tensor, torch.nn.Parameter):
        return False
    return not reads_skipped(x) and not getattr(torch.compiler, "is_exporting", lambda: False)()


def reads_skipped(x: torch.Tensor) -> bool:
    """Whether value checks must skip ``x``: its values cannot be read while tracing for export,
    inside ``torch.compile``'d graphs or under ``torch.vmap``. Shape: any."""
    return (
        torch.jit.is_tracing()
        or torch.compiler.is_compiling()
        or torch._C._functorch.is_batchedtensor(x)
    )


def values_within(
    x: torch.Tensor,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
    closed: bool = True,
    hint: str = "",
) -> None:
    """Raise ``ValueError`` naming the first value of ``x`` outside ``[low, high]`` (``(low,
    high)`` with ``closed=False``), NaN included, and ``hint`` after it. One ``aminmax`` over
    ``x``; ``amin`` for ``[low, inf]``; ``amin`` and a sum for ``[low, finfo.max]`` (finite and
    at least ``low``); the element search only on failure; queued on
    accelerators (:func:`device_assert`); skipped where :func:`reads_skipped`. Shape: any real.
    """
    if reads_skipped(x) or x.numel() == 0:
        return
    x = x.detach()
    if closed and high == math.inf:  # amin alone: 2.4x faster than aminmax (NaN still fails)
        ok = x.amin() >= low
    elif closed and high == torch.finfo(x.dtype).max:  # "finite and >= low": amin and a sum,
        ok = (x.amin() >= low) & torch.isfinite(x.sum())  # 1.7-2.1x faster than aminmax
    else:
        lo, hi = torch.aminmax(x)
        ok = (lo >= low) & (hi <= high) if closed else (lo > low) & (hi < high)
    interval = f"[{low:g}, {high:g}]" if closed else f"({low:g}, {high:g})"
    if not host_reads_free(x):
        device_assert(ok, f"{name} must be in {interval}")
        return
    if bool(ok):
        return
    inside = (x >= low) & (x <= high) if closed else (x > low) & (x < high)
    outside = torch.nonzero(~inside.reshape(-1))
    if len(outside) == 0:  # finite values whose sum overflowed
        return
    i = int(outside[0])
    raise ValueError(
        f"{name} must be in {interval}, got {float(x.reshape(-1)[i])} at flat index {i} of "
        f"shape {tuple(x.shape)}{hint}"
    )


def finite_values(x: torch.Tensor, name: str = "signals") -> None:
    """Raise ``ValueError`` naming the first NaN or Inf of ``x``.

    On the CPU one sum over ``x`` (16 x 64,000 float32 samples, one thread: 0.06 ms from cache,
    0.25 ms cold, 3 % of a mel spectrogram of them in ``experiments/check_cost.py``); the
    element search runs only when that sum is not finite (a NaN, an Inf, or finite values whose
    sum overflows, which pass). On accelerators the check is queued on the device
    (:func:`device_assert`: no host stall per call). Skipped where :func:`reads_skipped`.

    Shape: any (complex tensors through ``torch.view_as_real``).
    """
    if reads_skipped(x):
        return
    x = x.detach()
    if not host_reads_free(x):
        lo, hi = torch.aminmax(x)
        device_assert(torch.isfinite(lo) & torch.isfinite(hi), f"NaN or Inf in {name}")
        return
    if torch.isfinite(x.sum()):
        return
    bad = ~torch.isfinite(x)
    if bad.any():
        i = int(torch.nonzero(bad.reshape(-1))[0])
        raise ValueError(
            f"NaN or Inf in {name} (first at flat index {i} of shape {tuple(x.shape)}: "
            f"{float(x.reshape(-1)[i])})"
        )

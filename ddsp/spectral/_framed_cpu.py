"""The STFT power path for cosine-sum windows in one C++ pass over the signals (built with
:mod:`ddsp.spectral._power_cpu` into one extension, ops in ``torch.ops.ddsp_spectral``).

Where torch's library exports MKL's FFT (:mod:`ddsp.spectral._mkl_cpu`), :func:`framed_power`
takes the place of :mod:`ddsp.spectral._cosine`'s group buffers: each clip's frames, a block of
them at a time, are FFT'd unwindowed where they lie in the signal (the frames wholly inside
it; the few that reach into the centre padding from a small buffer of padded samples), into a
block of spectra that stays in cache, which the power kernels of
:mod:`ddsp.spectral._power_cpu` window in frequency and reduce to the output rows. One call for
the batch: the blocks run in parallel over torch's threads, each with its own kept MKL plans,
and no signal is copied. On 59 clips of 80,000 samples (a 2-core Xeon, one thread) the group
buffers' Python loop, copies and per-group FFT calls took 4 ms of 31.

Any other window (a tensor, Bartlett, a window shorter than the frame, centred in it) takes the
same pass with the window multiplied into each block's frames before one FFT call: on the same
clips (n_fft 2048, win_length 1200, hop 512) the magnitude and mel took half the time of the
time-domain path's Python blocks (19-21 against 39 ms, one thread, alternating).

:func:`framed_spectrum` is the same framing for the complex STFT without gradient
(:func:`ddsp.spectral.functional.stft`): each block of frames times the window, FFT'd straight
into the output's rows (recycled huge pages). On the same clips (n_fft 2048, hop 512, Hann) it
took 27 ms against 90 ms for the framed copy, its window product and torch's FFT (one thread;
17 against 64 ms on two), 1.0-1.2x torch's FFT alone of the frames windowed beforehand.
"""

from __future__ import annotations

import torch

from ..dsp import empty_huge, plain_cpu
from . import _cosine, _mkl_cpu, _power_cpu

__all__ = [
    "SOURCE",
    "BLOCK",
    "usable",
    "spectrogram",
    "spectra",
    "framed_matmul",
    "framed_matmul_power",
    "framed_power",
    "framed_spectrum",
]

BLOCK = 32  # frames a block: their spectra (256 kB at n_fft 2048) stay in L2

SOURCE = (
    _mkl_cpu.HEADER
    + r"""
#include <ATen/core/Tensor.h>
#include <ATen/Parallel.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/mm.h>
#include <torch/library.h>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

namespace ddsp_power {  // ddsp.spectral._power_cpu
bool block_power(const float* ri, int64_t R, int64_t n, float* out, int64_t os,
                 at::ArrayRef<double> taps, bool root, float eps, const int64_t* st,
                 const int64_t* ln, const int64_t* of, const float* w, int64_t M, float* pt,
                 float* p);
}  // namespace ddsp_power

namespace {
// samples [a, a + len) of one centre-padded signal x (T samples; its padding left / right,
// pad samples each, or zeros where null; zeros past the padding) into dst
void padded_samples(const float* x, int64_t T, const float* left, const float* right,
                    int64_t pad, int64_t a, int64_t len, float* dst) {
  int64_t i = 0;
  while (i < len) {
    const int64_t s = a + i;
    int64_t k;
    const float* from = nullptr;
    if (s < pad) {
      k = std::min(len - i, pad - s);
      if (left) from = left + s;
    } else if (s < pad + T) {
      k = std::min(len - i, pad + T - s);
      from = x + (s - pad);
    } else if (s < 2 * pad + T) {
      k = std::min(len - i, 2 * pad + T - s);
      if (right) from = right + (s - pad - T);
    } else {
      k = len - i;
    }
    if (from) std::memcpy(dst + i, from, k * sizeof(float));
    else std::memset(dst + i, 0, k * sizeof(float));
    i += k;
  }
}

// the framing of a batch of signals x (B, T): frame f of signal b is samples [f hop, f hop + n)
// of the signal centre-padded by pad samples (left / right: that padding, or zeros), times the
// window win before its FFT when one is given
struct Framing {
  const float *x = nullptr, *left = nullptr, *right = nullptr, *win = nullptr;
  int64_t B = 0, T = 0, n = 0, hop = 0, pad = 0, frames = 0, ia = 0, ib = 0;

  Framing(const at::Tensor& xt, const at::Tensor& lt, const at::Tensor& rt,
          const at::Tensor& window, int64_t n_, int64_t hop_, int64_t pad_, int64_t frames_)
      : n(n_), hop(hop_), pad(pad_), frames(frames_) {
    TORCH_CHECK(ddsp_mkl::available(), "ddsp_spectral: torch's library exports no MKL FFT here");
    TORCH_CHECK(xt.is_cpu() && xt.scalar_type() == at::kFloat && xt.dim() == 2 &&
                    xt.is_contiguous(),
                "ddsp_spectral: x must be a contiguous float32 (B, T) CPU tensor");
    B = xt.size(0);
    T = xt.size(1);
    TORCH_CHECK(n >= 2 && n % 2 == 0 && hop >= 1 && pad >= 0 && frames >= 1 &&
                    (frames - 1) * hop + n <= T + 2 * pad,
                "ddsp_spectral: ", frames, " frames of ", n, " samples (even), ", hop,
                " apart, leave the ", T + 2 * pad, " padded samples");
    if (lt.numel() > 0) {
      TORCH_CHECK(lt.scalar_type() == at::kFloat && rt.scalar_type() == at::kFloat &&
                      lt.is_contiguous() && rt.is_contiguous() && lt.dim() == 2 &&
                      rt.dim() == 2 && lt.size(0) == B && rt.size(0) == B &&
                      lt.size(1) == pad && rt.size(1) == pad,
                  "ddsp_spectral: left and right must be contiguous float32 (B, pad) or empty");
      left = lt.data_ptr<float>();
      right = rt.data_ptr<float>();
    }
    if (window.numel() > 0) {
      TORCH_CHECK(window.scalar_type() == at::kFloat && window.is_contiguous() &&
                      window.numel() == n,
                  "ddsp_spectral: window must be a contiguous float32 (", n, ",) tensor");
      win = window.data_ptr<float>();
    }
    x = xt.data_ptr<float>();
    // frames [ia, ib) lie wholly inside the signal: f hop >= pad and f hop - pad + n <= T
    ia = std::min(frames, (pad + hop - 1) / hop);
    const int64_t last = T + pad - n >= 0 ? (T + pad - n) / hop + 1 : 0;
    ib = std::max(ia, std::min(frames, last));
  }

  // the spectra (n / 2 + 1 complex bins each) of frames [f0, f1) of signal b into spec; buf
  // ((f1 - f0 - 1) hop + n samples) and, with a window, windowed ((f1 - f0) n) are scratch.
  // Returns MKL's status (0: done)
  long spectra(int64_t b, int64_t f0, int64_t f1, float* buf, float* windowed,
               float* spec) const {
    const float* xb = x + b * T;
    const int64_t bins = n / 2 + 1;
    // the block's frames before, inside and after [ia, ib)
    const int64_t cut[4] = {f0, std::min(f1, std::max(f0, ia)), std::min(f1, std::max(f0, ib)), f1};
    for (int part = 0; part < 3; ++part) {
      const int64_t r0 = cut[part], cnt = cut[part + 1] - r0;
      if (cnt <= 0) continue;
      const float* src = xb + (r0 * hop - pad);
      if (part != 1) {  // reaches into the padding: its samples into buf
        padded_samples(xb, T, left ? left + b * pad : nullptr, right ? right + b * pad : nullptr,
                       pad, r0 * hop, (cnt - 1) * hop + n, buf);
        src = buf;
      }
      if (win) {  // each frame times the window, into the block's windowed frames
        for (int64_t f = 0; f < cnt; ++f) {
          const float* a = src + f * hop;
          float* d = windowed + (r0 - f0 + f) * n;
          for (int64_t i = 0; i < n; ++i) d[i] = a[i] * win[i];
        }
        continue;
      }
      const long s = ddsp_mkl::forward(ddsp_mkl::plan(n, cnt, hop), src, spec + (r0 - f0) * bins * 2);
      if (s != 0) return s;
    }
    return win ? ddsp_mkl::forward(ddsp_mkl::plan(n, f1 - f0, n), windowed, spec) : 0;
  }

  // frames [f0, f1) of signal b, unwindowed, as rows of n samples into rows; buf ((f1 - f0 - 1)
  // hop + n samples) is scratch for the ones that reach into the padding
  void gather(int64_t b, int64_t f0, int64_t f1, float* buf, float* rows) const {
    const float* xb = x + b * T;
    const int64_t cut[4] = {f0, std::min(f1, std::max(f0, ia)), std::min(f1, std::max(f0, ib)), f1};
    for (int part = 0; part < 3; ++part) {
      const int64_t r0 = cut[part], cnt = cut[part + 1] - r0;
      if (cnt <= 0) continue;
      const float* src = xb + (r0 * hop - pad);
      if (part != 1) {
        padded_samples(xb, T, left ? left + b * pad : nullptr, right ? right + b * pad : nullptr,
                       pad, r0 * hop, (cnt - 1) * hop + n, buf);
        src = buf;
      }
      for (int64_t f = 0; f < cnt; ++f)
        std::memcpy(rows + (r0 - f0 + f) * n, src + f * hop, n * sizeof(float));
    }
  }
};

// out[b * frames + f] = the power (or filterbank projection) of frame f of signal b (Framing),
// windowed in frequency by taps or, given a window, times it before the FFT
bool framed_power(at::Tensor x, at::Tensor left, at::Tensor right, at::Tensor out, int64_t n,
                  int64_t hop, int64_t pad, int64_t frames, bool root, double eps,
                  at::ArrayRef<double> taps, at::Tensor window, at::Tensor start,
                  at::Tensor length, at::Tensor offset, at::Tensor w, bool bands,
                  int64_t block) {
  const Framing fr(x, left, right, window, n, hop, pad, frames);
  TORCH_CHECK(!fr.win || taps.empty(), "ddsp_spectral: a window or taps, not both");
  TORCH_CHECK(block >= 1, "ddsp_spectral: block must be >= 1, got ", block);
  const int64_t B = fr.B, bins = n / 2 + 1;
  const int64_t M = bands ? start.numel() : -1, cols = bands ? M : bins;
  TORCH_CHECK(out.scalar_type() == at::kFloat && out.dim() == 2 && out.size(0) == B * frames &&
                  out.size(1) == cols && out.stride(1) == 1,
              "ddsp_spectral: out must be float32 (B * frames, ", cols, ") with unit column stride");
  const int64_t *st = nullptr, *ln = nullptr, *of = nullptr;
  const float* wp = nullptr;
  if (bands) {
    TORCH_CHECK(start.scalar_type() == at::kLong && length.scalar_type() == at::kLong &&
                    offset.scalar_type() == at::kLong && w.scalar_type() == at::kFloat &&
                    start.is_contiguous() && length.is_contiguous() && offset.is_contiguous() &&
                    w.is_contiguous() && length.numel() == M && offset.numel() == M,
                "ddsp_spectral: runs (start, length, offset) contiguous int64 (M,), weights float32");
    st = start.data_ptr<int64_t>(); ln = length.data_ptr<int64_t>(); of = offset.data_ptr<int64_t>();
    wp = w.data_ptr<float>();
    for (int64_t m = 0; m < M; ++m)
      TORCH_CHECK(st[m] >= 0 && ln[m] >= 0 && st[m] + ln[m] <= bins && of[m] >= 0 &&
                      of[m] + ln[m] <= w.numel(),
                  "ddsp_spectral: filter ", m, "'s run leaves the bins or the weights");
  }
  float* os = out.data_ptr<float>();
  const int64_t ostride = out.stride(0), per = (frames + block - 1) / block;
  const float e = float(eps);
  std::atomic<bool> any_bad{false};
  std::atomic<long> failed{0};
  at::parallel_for(0, B * per, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> spec(block * bins * 2), buf((block - 1) * hop + n), pt(bins * 8),
        p(std::max(bins, M) + 1), windowed(fr.win ? block * n : 0);
    bool bad = false;
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t b = it / per, f0 = (it % per) * block, f1 = std::min(frames, f0 + block);
      const long s = fr.spectra(b, f0, f1, buf.data(), windowed.data(), spec.data());
      if (s != 0) failed = s;
      if (!ddsp_power::block_power(spec.data(), f1 - f0, bins, os + (b * frames + f0) * ostride,
                                   ostride, taps, root, e, st, ln, of, wp, M, pt.data(), p.data()))
        bad = true;
    }
    if (bad) any_bad = true;
  });
  TORCH_CHECK(failed == 0, "ddsp_spectral: MKL FFT failed (status ", long(failed), ")");
  return !any_bad;
}

// out[b * frames + f] = the spectrum of frame f of signal b times the window (Framing), each
// block of frames FFT'd straight into its rows of out (B * frames, n / 2 + 1) complex64
void framed_spectrum(at::Tensor x, at::Tensor left, at::Tensor right, at::Tensor window,
                     at::Tensor out, int64_t n, int64_t hop, int64_t pad, int64_t frames,
                     int64_t block) {
  const Framing fr(x, left, right, window, n, hop, pad, frames);
  TORCH_CHECK(fr.win, "ddsp_spectral: framed_spectrum needs a window");
  TORCH_CHECK(block >= 1, "ddsp_spectral: block must be >= 1, got ", block);
  const int64_t bins = n / 2 + 1;
  TORCH_CHECK(out.scalar_type() == at::kComplexFloat && out.is_contiguous() && out.dim() == 2 &&
                  out.size(0) == fr.B * frames && out.size(1) == bins,
              "ddsp_spectral: out must be a contiguous complex64 (B * frames, ", bins, ") tensor");
  float* os = reinterpret_cast<float*>(out.data_ptr());
  const int64_t per = (frames + block - 1) / block;
  std::atomic<long> failed{0};
  at::parallel_for(0, fr.B * per, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> buf((block - 1) * hop + n), windowed(block * n);
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t b = it / per, f0 = (it % per) * block, f1 = std::min(frames, f0 + block);
      const long s = fr.spectra(b, f0, f1, buf.data(), windowed.data(),
                                os + (b * frames + f0) * bins * 2);
      if (s != 0) failed = s;
    }
  });
  TORCH_CHECK(failed == 0, "ddsp_spectral: MKL FFT failed (status ", long(failed), ")");
}

// frame f of signal b (Framing, no window) @ k (n, 2 m), a block of each signal's frames
// gathered into a buffer that stays in cache at a time, instead of the framed copy of the
// whole batch and one matmul. power 0: the products into out (B, frames, 2 m) as they are;
// power 1 or 2: |z|^power of the complex products z[b, f, j] (k's columns real and imaginary
// parts interleaved) into out[b, row0 + j, f] for f < out's frames, bin-major (a CQT octave's
// magnitudes straight into their rows of the transform, without the complex output, its
// transpose, the octaves' concatenation and the magnitude's passes)
void framed_mm(at::Tensor x, at::Tensor left, at::Tensor right, at::Tensor k, at::Tensor out,
               int64_t n, int64_t hop, int64_t pad, int64_t frames, int64_t block,
               int64_t power, int64_t row0) {
  const Framing fr(x, left, right, at::Tensor(), n, hop, pad, frames);
  TORCH_CHECK(block >= 1 && (power == 0 || power == 1 || power == 2),
              "ddsp_spectral: block must be >= 1 and power 0, 1 or 2");
  TORCH_CHECK(k.scalar_type() == at::kFloat && k.is_contiguous() && k.dim() == 2 &&
                  k.size(0) == n && (power == 0 || k.size(1) % 2 == 0),
              "ddsp_spectral: k must be a contiguous float32 (", n, ", 2 m) tensor");
  const int64_t cols = k.size(1), m = cols / 2;
  TORCH_CHECK(out.scalar_type() == at::kFloat && out.is_contiguous() && out.dim() == 3 &&
                  out.size(0) == fr.B,
              "ddsp_spectral: out must be a contiguous float32 (B, ., .) tensor");
  if (power == 0) {
    TORCH_CHECK(out.size(1) == frames && out.size(2) == cols,
                "ddsp_spectral: out must be (B, ", frames, ", ", cols, ")");
  } else {
    TORCH_CHECK(row0 >= 0 && row0 + m <= out.size(1) && out.size(2) <= frames,
                "ddsp_spectral: out must be (B, rows, frames kept) with rows row0 .. row0 + m");
  }
  const int64_t rows_total = out.size(1), kept = power == 0 ? frames : out.size(2);
  float* os = out.data_ptr<float>();
  const int64_t per = (kept + block - 1) / block;
  const auto opts = out.options();
  at::parallel_for(0, fr.B * per, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> buf((block - 1) * hop + n), rows(block * n);
    std::vector<float> prod(power == 0 ? 0 : block * cols);
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t b = it / per, f0 = (it % per) * block, f1 = std::min(kept, f0 + block);
      const int64_t cnt = f1 - f0;
      fr.gather(b, f0, f1, buf.data(), rows.data());
      float* dst = power == 0 ? os + (b * frames + f0) * cols : prod.data();
      at::Tensor o = at::from_blob(dst, {cnt, cols}, opts);
      at::mm_out(o, at::from_blob(rows.data(), {cnt, n}, opts), k);
      if (power == 0) continue;
      for (int64_t j = 0; j < m; ++j) {
        float* row = os + (b * rows_total + row0 + j) * kept + f0;
        const float* src = prod.data() + 2 * j;
        for (int64_t f = 0; f < cnt; ++f) {
          const float re = src[f * cols], im = src[f * cols + 1];
          const float p = re * re + im * im;
          row[f] = power == 1 ? std::sqrt(p) : p;
        }
      }
    }
  });
}
}  // namespace

TORCH_LIBRARY_FRAGMENT(ddsp_spectral, m) {
  m.def("framed_mm(Tensor x, Tensor left, Tensor right, Tensor k, Tensor(a!) out, int n, "
        "int hop, int pad, int frames, int block, int power, int row0) -> ()", &framed_mm);
  m.def("framed_power(Tensor x, Tensor left, Tensor right, Tensor(a!) out, int n, int hop, "
        "int pad, int frames, bool root, float eps, float[] taps, Tensor window, Tensor start, "
        "Tensor length, Tensor offset, Tensor w, bool bands, int block) -> bool", &framed_power);
  m.def("framed_spectrum(Tensor x, Tensor left, Tensor right, Tensor window, Tensor(a!) out, "
        "int n, int hop, int pad, int frames, int block) -> ()", &framed_spectrum);
}
"""
)


def framed_power(
    x: torch.Tensor,
    ends: tuple[torch.Tensor, torch.Tensor] | None,
    out: torch.Tensor,
    n_fft: int,
    hop: int,
    pad: int,
    taps: list[float] | torch.Tensor,
    power: float,
    eps: float,
    runs: _power_cpu.Runs | None,
) -> bool:
    """``out`` <- the power (``power=2``) or magnitude (``power=1``, ``max(., eps)`` under the
    root) spectrogram of the float32 signals ``x``, centre-padded by ``pad`` samples each side
    (``ends``: that padding, as :func:`ddsp.spectral._cosine.ends` gives; None: zeros), the
    frames ``n_fft`` samples (even) ``hop`` apart, windowed by the cosine-sum window of ``taps``
    (:func:`ddsp.spectral._cosine.taps`) after the FFT, or, ``taps`` a tensor ``(n_fft,)``, by
    that window before it (any window: the frames times it into a block buffer, then one FFT
    call); or its projection on the filters ``runs``
    (:func:`ddsp.spectral._power_cpu.filter_runs`). Needs
    :func:`ddsp.spectral._mkl_cpu.available`. Returns whether every output is finite.

    Shape: ``x (B, T)`` contiguous, ``ends`` ``((B, pad), (B, pad))`` -> into
    ``out (B * frames, n_fft // 2 + 1 or n_filters)``.
    """
    none = torch.empty(0)
    window = taps.contiguous() if isinstance(taps, torch.Tensor) else none
    taps = [] if isinstance(taps, torch.Tensor) else list(taps)
    left, right = _padding(ends)
    frames = out.shape[0] // max(x.shape[0], 1)
    start, length, offset, w = runs if runs is not None else (none.long(),) * 3 + (none,)
    root = power == 1.0
    return _power_cpu.ops().framed_power(
        x.contiguous(), left, right, out, n_fft, hop, pad, frames,
        root, float(eps) if root else 0.0, taps, window, start, length, offset, w,
        runs is not None, BLOCK,
    )  # fmt: skip


def framed_spectrum(
    x: torch.Tensor,
    ends: tuple[torch.Tensor, torch.Tensor] | None,
    window: torch.Tensor,
    n_fft: int,
    hop: int,
    pad: int,
    frames: int,
) -> torch.Tensor:
    """The complex spectra of the frames of the float32 signals ``x`` (centre-padded and framed
    as in :func:`framed_power`) times ``window``, each block of frames FFT'd by MKL with its plan
    kept straight into the output. Needs :func:`ddsp.spectral._mkl_cpu.available`.

    Shape: ``x (B, T)`` contiguous, ``window (n_fft,)`` -> ``(B, frames, n_fft // 2 + 1)``
    complex64.
    """
    left, right = _padding(ends)
    out = empty_huge(x.shape[0] * frames, n_fft // 2 + 1, dtype=torch.complex64, recycle=True)
    if x.shape[0]:
        _power_cpu.ops().framed_spectrum(
            x.contiguous(), left, right, window.contiguous(), out,
            n_fft, hop, pad, frames, BLOCK,
        )  # fmt: skip
    return out.view(x.shape[0], frames, n_fft // 2 + 1)


def usable(x: torch.Tensor, n_fft: int, pad_mode: str) -> bool:
    """Whether :func:`spectrogram` and :func:`spectra` take these frames: float32 signals in a
    plain CPU tensor (no gradient is asked: the caller's to check), an even ``n_fft``, padding
    other than ``"circular"`` (torch's name), and MKL's FFT available."""
    return (
        x.dtype == torch.float32
        and n_fft % 2 == 0
        and pad_mode != "circular"
        and plain_cpu(x)
        and _mkl_cpu.available()
    )


def _framing(x: torch.Tensor, n_fft: int, hop: int, center: bool, pad_mode: str):
    """``(signals (B, T), their padding's ends, pad, frames)``, or None where no whole frame
    fits (the eager path then says why)."""
    flat = x.reshape(-1, x.shape[-1])
    pad = n_fft // 2 if center else 0
    frames = 1 + (flat.shape[-1] + 2 * pad - n_fft) // hop
    if frames < 1:
        return None
    return flat, _cosine.ends(flat, pad, pad_mode), pad, frames


def spectrogram(
    x: torch.Tensor,
    n_fft: int,
    hop: int,
    center: bool,
    pad_mode: str,
    window: list[float] | torch.Tensor,
    power: float,
    eps: float,
    bands: list[tuple[int, int, torch.Tensor]] | None,
) -> tuple[torch.Tensor, bool] | None:
    """:func:`ddsp.spectral.functional.stft_power`'s gradient-free path where :func:`usable`:
    the frames as :func:`ddsp.spectral.functional.frames` (``pad_mode`` resolved to torch's
    name), windowed by a cosine-sum window's taps (:func:`ddsp.spectral._cosine.taps`) after
    the FFT or by a window tensor ``(n_fft,)`` before it, projected on ``bands`` if given.
    Returns the output, in recycled huge pages, and whether every output is finite (a
    filterbank without weights reads no bin: its zeros say nothing of the input); None where
    no whole frame fits.

    Shape: ``x (..., T)`` -> ``(prod(...), frames, n_fft // 2 + 1 or n_filters)``.
    """
    framing = _framing(x, n_fft, hop, center, pad_mode)
    if framing is None:
        return None
    flat, ends, pad, frames = framing
    runs = None if bands is None else _power_cpu.cached_filter_runs(bands, flat.dtype)
    n_out = n_fft // 2 + 1 if runs is None else len(runs[0])
    out = empty_huge(flat.shape[0], frames, n_out, dtype=flat.dtype, recycle=True)
    rows = out.view(-1, n_out)
    finite = flat.shape[0] == 0 or framed_power(flat, ends, rows, n_fft, hop, pad, window, power, eps, runs)  # fmt: skip
    return out, finite and (runs is None or bool(runs[1].any()))


def spectra(
    x: torch.Tensor, n_fft: int, hop: int, center: bool, pad_mode: str, window: torch.Tensor
) -> torch.Tensor | None:
    """:func:`ddsp.spectral.functional.stft`'s gradient-free path where :func:`usable`: the
    complex spectra of the frames (as :func:`spectrogram` frames them) times ``window``; None where
    no whole frame fits.

    Shape: ``x (..., T)``, ``window (n_fft,)`` -> ``(prod(...), frames, n_fft // 2 + 1)``.
    """
    framing = _framing(x, n_fft, hop, center, pad_mode)
    if framing is None:
        return None
    flat, ends, pad, frames = framing
    return framed_spectrum(flat, ends, window.detach(), n_fft, hop, pad, frames)


MATMUL_BLOCK = 256  # frames a block of framed_matmul (256 kB of rows at 256 samples)


def framed_matmul(
    x: torch.Tensor, n_fft: int, hop: int, center: bool, pad_mode: str, k: torch.Tensor
) -> torch.Tensor | None:
    """``frames(x, n_fft, hop, center, pad_mode) @ k`` without the framed copy of the batch:
    each block of a signal's frames is gathered into a buffer that stays in cache and
    multiplied into the output's rows (the CQT's octaves, whose frames overlap 1-64 times).
    Needs :func:`usable`; None where no whole frame fits. The same matmul on the same rows
    (blocks of up to ``MATMUL_BLOCK`` frames) as the eager product.

    Shape: ``x (..., T)``, ``k (n_fft, m)`` -> ``(prod(...), frames, m)``.
    """
    framing = _framing(x, n_fft, hop, center, pad_mode)
    if framing is None:
        return None
    out = torch.empty(framing[0].shape[0], framing[3], k.shape[-1], dtype=framing[0].dtype)
    _framed_mm(framing, n_fft, hop, k, out, 0, 0)
    return out


def _framed_mm(framing, n_fft: int, hop: int, k: torch.Tensor, out, power: int, row0: int) -> None:
    """The C++ ``framed_mm`` on a :func:`_framing`'s signals and padding."""
    flat, ends, pad, frames = framing
    left, right = _padding(ends)
    if flat.shape[0] and out.numel():
        _power_cpu.ops().framed_mm(
            flat.contiguous(), left, right, k.contiguous(), out, n_fft, hop, pad, frames,
            MATMUL_BLOCK, power, row0,
        )  # fmt: skip


def _padding(ends: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The C++ ops' ``left, right``: the padding's ends, contiguous, or two empty tensors for
    zeros."""
    if ends is None:
        return torch.empty(0), torch.empty(0)
    return ends[0].contiguous(), ends[1].contiguous()


def framed_matmul_power(
    x: torch.Tensor,
    n_fft: int,
    hop: int,
    pad_mode: str,
    k: torch.Tensor,
    out: torch.Tensor,
    row0: int,
    power: float,
) -> bool:
    """``out[:, row0 + j, f] = |z[:, f, j]| ** power`` (power 1 or 2) of the complex products
    ``z = frames(x, n_fft, hop, True, pad_mode) @ k`` (real and imaginary parts interleaved in
    ``k``'s columns), for the first ``out.shape[-1]`` frames, written bin-major into ``out``: a
    CQT octave's magnitudes into their rows of the transform. Needs :func:`usable`; False (and
    nothing written) where no whole frame fits.

    Shape: ``x (B, T)``, ``k (n_fft, 2 m)``, ``out (B, rows, frames_kept)``.
    """
    framing = _framing(x, n_fft, hop, True, pad_mode)
    if framing is None or framing[3] < out.shape[-1]:
        return False
    _framed_mm(framing, n_fft, hop, k, out, int(power), row0)
    return True

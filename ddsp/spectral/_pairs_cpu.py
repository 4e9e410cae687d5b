"""The packing and unpacking around the paired FFTs of :mod:`ddsp.spectral._rfft`, in C++ (built
with :mod:`ddsp.spectral._power_cpu` into one extension, ops in ``torch.ops.ddsp_spectral``).

Odd-length real FFTs run as complex FFTs of two frames at once (``z = a + i b``). In eager
torch the packing took two strided products and the unpacking a flip, a conjugate, a sum, a
difference and two products: together as long as the FFT itself at GOLF's sizes (509, 1021,
2053; 14 -> 32 ms per 8,064 frames of 509 here). Each kernel below is one pass performing the
eager expressions' float operations (the same products, sums and quotients per element), so
the results equal the eager path's to rounding, and are checked against it and against
``torch.fft.rfft`` in the tests. float32 only (complex64 spectra); float64 keeps the eager ops.

- :func:`pack`: ``z[i] = a_i w s_a + i b_i w s_b`` (frames ``lo + i`` and ``half + lo + i``
  read where they lie, a framing view included, times the window ``w``, each scaled to unit
  norm ``s = 1 / ||a w||``, the norms taken on the way): with the windowed unpacking below, the
  STFT's window costs no pass of its own either way (GOLF loss preset, 16 x 64,000: steps 3-9 %
  faster, one-process A/B);
- :func:`split`: ``A[k] = (Z[k] + conj Z[n - k]) / (2 s_a)``, ``B[k] = (Z[k] - conj Z[n - k])
  / (2 i s_b)`` into the output rows, DC ``Re Z[0] / s_a``, ``Im Z[0] / s_b``;
- :func:`merge` and :func:`unmerge`: the inverse FFT's pair, ``W = s_a g_a + i s_b g_b`` as a
  Hermitian-extended spectrum (interior bins times ``interior``), then ``Re w / s_a`` and
  ``Im w / s_b`` into the two output rows (times a window, for the windowed STFT's backward).
"""

from __future__ import annotations

import torch

from ..dsp import plain_cpu

__all__ = ["SOURCE", "pack", "split", "merge", "unmerge"]

SOURCE = r"""
#include <ATen/core/Tensor.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>
#include <cmath>
#include <complex>
#include <limits>

static void check_pairs(const at::Tensor& t, at::ScalarType type, const char* what) {
  TORCH_CHECK(t.is_cpu() && t.scalar_type() == type && t.dim() == 2 && t.is_contiguous(),
              "ddsp_spectral pairs: ", what, " must be a contiguous 2-D CPU tensor of ", type);
}

// The frames of a strided view x (R, F, n) (unit stride along n), times the window win (n):
// frame j is x[j / F, j % F]. For pairs lo .. hi - 1, size[j] = || x_j win || (accumulated in
// double) and scale[j] = 1 / size[j] (1 below the smallest normal float), rows j = lo + i and
// half + lo + i; returns z (hi - lo, n) complex, z[i, t] = (x_a[t] win[t] s_a, x_b[t] win[t] s_b)
at::Tensor pair_pack(at::Tensor x, at::Tensor win, at::Tensor size, at::Tensor scale,
                     int64_t lo, int64_t hi, int64_t half) {
  TORCH_CHECK(x.is_cpu() && x.scalar_type() == at::kFloat && x.dim() == 3 && x.stride(2) == 1,
              "ddsp_spectral pairs: x must be a (R, F, n) float32 CPU view with unit stride in n");
  check_pairs(win.view({1, -1}), at::kFloat, "win");
  TORCH_CHECK(size.is_contiguous() && scale.is_contiguous() && size.scalar_type() == at::kFloat &&
                  scale.scalar_type() == at::kFloat,
              "ddsp_spectral pairs: size and scale must be contiguous float32");
  const int64_t F = x.size(1), n = x.size(2), P = hi - lo, s0 = x.stride(0), s1 = x.stride(1);
  TORCH_CHECK(win.numel() == n && 0 <= lo && lo <= hi && hi <= half &&
                  2 * half <= x.size(0) * F && size.numel() >= 2 * half &&
                  scale.numel() >= 2 * half,
              "ddsp_spectral pairs: bad windowed pack shapes");
  auto z = at::empty({P, n}, x.options().dtype(at::kComplexFloat));
  const float* xp = x.data_ptr<float>(); const float* wp = win.data_ptr<float>();
  float* zp = reinterpret_cast<float*>(z.data_ptr());
  float* sizep = size.data_ptr<float>(); float* scp = scale.data_ptr<float>();
  auto frame = [&](int64_t j) { return xp + (j / F) * s0 + (j % F) * s1; };
  auto unit = [&](int64_t j, const float* a) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // eight chains: one would wait on each add
    int64_t t = 0;
    for (; t + 8 <= n; t += 8) {
      for (int k = 0; k < 8; ++k) { const float v = a[t + k] * wp[t + k]; acc[k] += double(v) * v; }
    }
    for (; t < n; ++t) { const float v = a[t] * wp[t]; acc[0] += double(v) * v; }
    const double sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    const float norm = float(std::sqrt(sum));
    sizep[j] = norm;
    scp[j] = norm >= std::numeric_limits<float>::min() ? 1.f / norm : 1.f;
    return scp[j];
  };
  at::parallel_for(0, P, 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* a = frame(lo + i); const float* b = frame(half + lo + i);
      const float sa = unit(lo + i, a), sb = unit(half + lo + i, b);
      float* o = zp + i * n * 2;
      for (int64_t t = 0; t < n; ++t) {
        o[2 * t] = (a[t] * wp[t]) * sa; o[2 * t + 1] = (b[t] * wp[t]) * sb;
      }
    }
  });
  return z;
}

// rows lo + i and half + lo + i of res (m, h) from the pair's spectrum z (hi - lo, n), n odd
void pair_split(at::Tensor z, at::Tensor s, at::Tensor res, int64_t lo, int64_t hi,
                int64_t half) {
  check_pairs(z, at::kComplexFloat, "z");
  check_pairs(res, at::kComplexFloat, "res");
  s = s.contiguous();
  const int64_t n = z.size(1), h = res.size(1), P = hi - lo;
  TORCH_CHECK(n % 2 == 1 && h == n / 2 + 1 && z.size(0) == P && 2 * half <= res.size(0),
              "ddsp_spectral pairs: split shapes");
  const float* zp = reinterpret_cast<const float*>(z.data_ptr());
  float* rp = reinterpret_cast<float*>(res.data_ptr());
  const float* sp = s.data_ptr<float>();
  at::parallel_for(0, P, 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* zi = zp + i * n * 2;
      const float sa = sp[lo + i], sb = sp[half + lo + i];
      float* ra = rp + (lo + i) * h * 2; float* rb = rp + (half + lo + i) * h * 2;
      ra[0] = zi[0] / sa; ra[1] = 0.f;
      rb[0] = zi[1] / sb; rb[1] = 0.f;
      const float ca = 0.5f / sa, t = -0.5f / sb;
      for (int64_t k = 1; k < h; ++k) {
        const float zr = zi[2 * k], zim = zi[2 * k + 1];
        const float wr = zi[2 * (n - k)], wi = -zi[2 * (n - k) + 1];  // conj Z[n - k]
        ra[2 * k] = (zr + wr) * ca; ra[2 * k + 1] = (zim + wi) * ca;
        const float p = zr - wr, q = zim - wi;  // times (0 + t i)
        rb[2 * k] = -(q * t); rb[2 * k + 1] = p * t;
      }
    }
  });
}

// w (hi - lo, n) complex from spectra rows lo + i, half + lo + i of g (m, h): a = g_a s_a,
// b = g_b s_b, w[0] = (Re a0, Re b0), w[k] = i I b[k] + I a[k], w[n - k] = conj((a[k] -
// i I b[k] / I) I), k = 1 .. h - 1
at::Tensor pair_merge(at::Tensor g, at::Tensor s, int64_t lo, int64_t hi, int64_t half,
                      int64_t n, double interior) {
  check_pairs(g, at::kComplexFloat, "g");
  s = s.contiguous();
  const int64_t h = g.size(1), P = hi - lo;
  TORCH_CHECK(n % 2 == 1 && h == n / 2 + 1 && 2 * half <= g.size(0) && 0 <= lo && lo <= hi &&
                  hi <= half,
              "ddsp_spectral pairs: merge shapes");
  auto w = at::empty({P, n}, g.options());
  const float* gp = reinterpret_cast<const float*>(g.data_ptr());
  float* wp = reinterpret_cast<float*>(w.data_ptr());
  const float* sp = s.data_ptr<float>();
  const float I = float(interior), invI = float(1.0 / interior);
  at::parallel_for(0, P, 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* ga = gp + (lo + i) * h * 2; const float* gb = gp + (half + lo + i) * h * 2;
      const float sa = sp[lo + i], sb = sp[half + lo + i];
      float* o = wp + i * n * 2;
      o[0] = ga[0] * sa; o[1] = gb[0] * sb;
      for (int64_t k = 1; k < h; ++k) {
        const float ar = ga[2 * k] * sa, ai = ga[2 * k + 1] * sa;
        const float br = gb[2 * k] * sb, bi = gb[2 * k + 1] * sb;
        const float ibr = -(bi * I), ibi = br * I;  // b * (0 + I i)
        o[2 * k] = ibr + I * ar; o[2 * k + 1] = ibi + I * ai;
        const float lr = (ar - ibr * invI) * I, li = (ai - ibi * invI) * I;
        o[2 * (n - k)] = lr; o[2 * (n - k) + 1] = -li;
      }
    }
  });
  return w;
}

// out rows lo + i = Re w[i] / s_a and half + lo + i = Im w[i] / s_b; w (hi - lo, n), out (m, n)
// with a window win (n) (an empty tensor: none), the rows times win[t] after the division
void pair_unmerge(at::Tensor w, at::Tensor s, at::Tensor out, int64_t lo, int64_t hi,
                  int64_t half, at::Tensor win) {
  check_pairs(w, at::kComplexFloat, "w");
  check_pairs(out, at::kFloat, "out");
  s = s.contiguous();
  const int64_t n = w.size(1), P = hi - lo;
  TORCH_CHECK(out.size(1) == n && w.size(0) == P && 2 * half <= out.size(0),
              "ddsp_spectral pairs: unmerge shapes");
  const bool windowed = win.numel() > 0;
  if (windowed) {
    check_pairs(win.view({1, -1}), at::kFloat, "win");
    TORCH_CHECK(win.numel() == n, "ddsp_spectral pairs: window length");
  }
  const float* wp = reinterpret_cast<const float*>(w.data_ptr());
  float* op = out.data_ptr<float>(); const float* sp = s.data_ptr<float>();
  const float* winp = windowed ? win.data_ptr<float>() : nullptr;
  at::parallel_for(0, P, 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* wi = wp + i * n * 2;
      const float sa = sp[lo + i], sb = sp[half + lo + i];
      float* a = op + (lo + i) * n; float* b = op + (half + lo + i) * n;
      if (windowed) {
        for (int64_t t = 0; t < n; ++t) {
          a[t] = (wi[2 * t] / sa) * winp[t]; b[t] = (wi[2 * t + 1] / sb) * winp[t];
        }
      } else {
        for (int64_t t = 0; t < n; ++t) { a[t] = wi[2 * t] / sa; b[t] = wi[2 * t + 1] / sb; }
      }
    }
  });
}

TORCH_LIBRARY_FRAGMENT(ddsp_spectral, m) {
  m.def("pair_split(Tensor z, Tensor s, Tensor(a!) res, int lo, int hi, int half) -> ()",
        &pair_split);
  m.def("pair_merge(Tensor g, Tensor s, int lo, int hi, int half, int n, float interior) -> "
        "Tensor", &pair_merge);
  m.def("pair_unmerge(Tensor w, Tensor s, Tensor(a!) out, int lo, int hi, int half, "
        "Tensor win) -> ()", &pair_unmerge);
  m.def("pair_pack(Tensor x, Tensor win, Tensor(a!) size, Tensor(b!) scale, int lo, int hi, "
        "int half) -> Tensor", &pair_pack);
}
"""


def _ops():
    from ._power_cpu import ops

    return ops()


def usable(x: torch.Tensor) -> bool:
    """float32 real frames or complex64 spectra, a plain CPU tensor outside tracing, and the
    extension built (:func:`ddsp.dsp.plain_cpu`)."""
    return x.dtype in (torch.float32, torch.complex64) and plain_cpu(x) and _ops() is not None


def split(z: torch.Tensor, scale: torch.Tensor, res: torch.Tensor, lo: int, hi: int, half: int):
    """Shape: ``z (hi - lo, n)`` complex64 -> rows of ``res (m, n // 2 + 1)``."""
    _ops().pair_split(z, scale.reshape(-1), res, lo, hi, half)


def merge(g, scale, lo: int, hi: int, half: int, n: int, interior: float) -> torch.Tensor:
    """Shape: ``g (m, n // 2 + 1)`` complex64 -> ``(hi - lo, n)`` complex64."""
    return _ops().pair_merge(g, scale.reshape(-1), lo, hi, half, n, float(interior))


def unmerge(
    w: torch.Tensor,
    scale: torch.Tensor,
    out: torch.Tensor,
    lo: int,
    hi: int,
    half: int,
    window: torch.Tensor | None = None,
) -> None:
    """Shape: ``w (hi - lo, n)`` complex64 -> rows of ``out (m, n)`` float32, times ``window
    (n,)`` when given."""
    win = _NONE if window is None else window
    _ops().pair_unmerge(w, scale.reshape(-1), out, lo, hi, half, win)


def pack(
    x: torch.Tensor,
    window: torch.Tensor,
    size: torch.Tensor,
    scale: torch.Tensor,
    lo: int,
    hi: int,
    half: int,
) -> torch.Tensor:
    """Pairs ``lo .. hi`` of windowed frames, each scaled to unit norm, packed as complex
    frames ``z[i] = a_i w s_a + i b_i w s_b`` (frames ``lo + i`` and ``half + lo + i``), read
    from a strided view, the norms computed on the way.

    Shape: ``x (R, F, n)`` float32 with unit stride along ``n`` (frame ``j`` is ``x[j // F,
    j % F]``), ``window (n,)`` -> ``(hi - lo, n)`` complex64; writes ``size[j] = ||x_j
    window||`` and ``scale[j] = 1 / size[j]`` (1 below the smallest normal float) for the
    pairs' frames ``j`` (``size, scale (>= 2 half,)`` float32).
    """
    return _ops().pair_pack(x, window, size, scale, lo, hi, half)


_NONE = torch.empty(0)

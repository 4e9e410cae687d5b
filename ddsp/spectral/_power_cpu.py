"""The magnitude / power of a block of spectra, and its projection on a filterbank, in one C++
pass (built by :mod:`ddsp._cpp`, op namespace ``torch.ops.ddsp_spectral``).

:func:`ddsp.spectral.functional.stft_power`'s gradient-free CPU path FFTs a cache-sized block of
frames at a time; what follows the FFT took as long as half the FFT in eager torch (the squares
of the real and imaginary parts, their sum, a square root: three passes; a mel filterbank as
band matmuls whose calls cost more than their products). Here, from the interleaved spectrum
``ri (R, bins, 2)`` (``torch.view_as_real`` of the FFT):

- :func:`spectrum_power`: ``re^2 + im^2`` (``power=2``) or its square root after
  ``max(., eps)`` (``power=1``), written into the output rows;
- :func:`spectrum_times`: a complex spectrum times a real one (the STFT losses' gradient, where
  torch first converts the real factor to complex: two passes and a spectrum-sized temporary);
- :func:`band_power`: the same, projected on a filterbank given as one contiguous run of weights
  per filter (its non-zero span, :func:`filter_runs`): AVX2 takes 8 frames at a time, their
  powers transposed into a ``(bins, 8)`` buffer that stays in L1, so that each weight is one
  product and one sum for 8 frames (a mel filterbank reaches about 2 weights per bin, against
  about 17 for the band matmuls).

Both take the spectra's rows where a row map puts them (``segments``: the group buffers of
:mod:`ddsp.spectral._cosine` hold frames that are not kept), and can window them first in
frequency (``taps``: a cosine-sum window as 3 or 5 taps across bins, read past DC and Nyquist by
the spectrum's symmetry), in the same pass.

The same row loops serve :mod:`ddsp.spectral._framed_cpu`'s C++ pass, block by block
(``ddsp_power::block_power``, exported to that translation unit).

The AVX2 loops (float32, chosen at run time) perform the scalar loops' operations in the same
order, so both give the same bits; the results equal the eager ops' to rounding (the power
exactly: the same products and sum; the root correctly rounded, which torch's float32 sqrt is
not always; a projection sums its products in another order).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import torch

from .. import _cpp
from ..dsp import plain_cpu

__all__ = [
    "ops",
    "usable",
    "spectrum_power",
    "spectrum_times",
    "band_power",
    "Segments",
    "filter_runs",
    "cached_filter_runs",
]

SOURCE = (
    _cpp.PRELUDE
    + r"""
#include <atomic>
#include <cstdint>
#include <cstring>

// whether every value of p[0..n) is finite: an OR of "exponent all ones" (Inf, NaN) tests,
// which the compiler vectorises (integer operations reassociate freely)
static bool all_finite(const float* p, int64_t n) {
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, p + i, 4);
    bad |= uint32_t((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

#ifdef DDSP_AVX2
// lanes of x that are Inf or NaN (x - x is NaN there, 0 elsewhere)
__attribute__((target("avx2"))) static inline __m256 nonfinite8(__m256 x) {
  return _mm256_cmp_ps(_mm256_sub_ps(x, x), _mm256_setzero_ps(), _CMP_NEQ_UQ);
}
#endif

// the power (root = false) or max(power, eps)^(1/2) of one bin, as the eager ops compute it
static inline float power_of(float re, float im, bool root, float eps) {
  const float p = re * re + im * im;
  if (!root) return p;
  return std::sqrt(p < eps ? eps : p);
}

// a window applied in frequency (ddsp.spectral._cosine) to spectra of n bins of an even-length
// real FFT: bin k becomes c[0] x[k] + sum_{t = 1 .. T} c[t] (x[k - t] + x[k + t]), summed in
// that order, the spectrum of the frame times the periodic cosine-sum window of those taps;
// T = -1: no window
struct Win {
  float c[3] = {1.f, 0.f, 0.f};
  int64_t T = -1, n = 0;
};

// bin k (-n < k < 2n - 2) of spectrum x, by its symmetry past DC (x[-k] = conj x[k]) and
// Nyquist (x[n - 1 + m] = conj x[n - 1 - m])
static inline void bin_at(const float* x, int64_t k, int64_t n, float* re, float* im) {
  const int64_t m = k < 0 ? -k : (k >= n ? 2 * (n - 1) - k : k);
  *re = x[2 * m];
  *im = (k == m) ? x[2 * m + 1] : -x[2 * m + 1];
}

// bin k of spectrum x windowed by w
static inline void windowed_bin(const float* x, int64_t k, const Win& w, float* re, float* im) {
  if (w.T < 0) {
    *re = x[2 * k];
    *im = x[2 * k + 1];
    return;
  }
  float r, i;
  bin_at(x, k, w.n, &r, &i);
  float yr = w.c[0] * r, yi = w.c[0] * i;
  for (int64_t t = 1; t <= w.T; ++t) {
    float ar, ai, br, bi;
    bin_at(x, k - t, w.n, &ar, &ai);
    bin_at(x, k + t, w.n, &br, &bi);
    yr = yr + w.c[t] * (ar + br);
    yi = yi + w.c[t] * (ai + bi);
  }
  *re = yr;
  *im = yi;
}

#ifdef DDSP_AVX2
// the taps of a Win broadcast, for the AVX2 loops (compiled once per tap count T, so that the
// taps stay in registers and the sums unroll)
struct Taps8 {
  __m256 c[3];
};

__attribute__((target("avx2"))) static inline Taps8 taps8(const Win& w) {
  Taps8 v;
  for (int t = 0; t < 3; ++t) v.c[t] = _mm256_set1_ps(w.c[t]);
  return v;
}

// bins b - T .. b + 7 + T of spectrum x (n bins) into e, by symmetry past the ends
// (bin_at): returns where bin b lies in e, for the blocks where windowed16 would read past DC or
// Nyquist
template <int T>
static inline const float* edge_bins(const float* x, int64_t b, int64_t n, float* e) {
  for (int64_t k = -T; k < 8 + T; ++k) bin_at(x, b + k, n, e + 2 * (k + T), e + 2 * (k + T) + 1);
  return e + 2 * T;
}

// whether block b's window reads past an end of the spectrum's n bins
template <int T>
static inline bool edge_block(int64_t b, int64_t n) {
  return T > 0 && (b < T || b + 8 + T > n);
}

// bins [b, b + 8) windowed by T taps (windowed_bin's operations) from c = where bin b lies (with
// T bins either side), as two registers of interleaved (re, im): bins b .. b + 3, b + 4 .. b + 7
template <int T>
__attribute__((target("avx2"))) static inline void windowed16(const float* c, const Taps8& v,
                                                              __m256* lo, __m256* hi) {
  if constexpr (T < 0) {
    *lo = _mm256_loadu_ps(c);
    *hi = _mm256_loadu_ps(c + 8);
  } else {
    __m256 l = _mm256_mul_ps(v.c[0], _mm256_loadu_ps(c));
    __m256 h = _mm256_mul_ps(v.c[0], _mm256_loadu_ps(c + 8));
    for (int t = 1; t <= T; ++t) {
      const float *m = c - 2 * t, *p = c + 2 * t;
      l = _mm256_add_ps(l, _mm256_mul_ps(v.c[t], _mm256_add_ps(_mm256_loadu_ps(m), _mm256_loadu_ps(p))));
      h = _mm256_add_ps(h, _mm256_mul_ps(v.c[t], _mm256_add_ps(_mm256_loadu_ps(m + 8), _mm256_loadu_ps(p + 8))));
    }
    *lo = l;
    *hi = h;
  }
}

// the powers of the 8 bins at c (windowed16), as power_of: the squares' pairwise sums
// (re^2 + im^2 in that order) put back in bin order
template <int T>
__attribute__((target("avx2"))) static inline __m256 power8(const float* c, const Taps8& v,
                                                            bool root, __m256 eps) {
  __m256 a, b;
  windowed16<T>(c, v, &a, &b);
  a = _mm256_mul_ps(a, a);
  b = _mm256_mul_ps(b, b);
  const __m256 s = _mm256_hadd_ps(a, b);  // bins 0 1 4 5 | 2 3 6 7
  __m256 p = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
  if (root) p = _mm256_sqrt_ps(_mm256_max_ps(eps, p));  // max(eps, NaN) is NaN, as p < eps
  return p;
}

// one row of spectrum_power for bins [0, n - n % 8); returns the count done, and sets *bad
// where an output is not finite
template <int T>
__attribute__((target("avx2"))) static int64_t power_row_t(const float* ri, float* out, int64_t n,
                                                           const Taps8 v, bool root, float eps,
                                                           bool* bad) {
  const __m256 e = _mm256_set1_ps(eps);
  __m256 flag = _mm256_setzero_ps();
  alignas(32) float ext[2 * (8 + 2 * 2)];
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float* c = edge_block<T>(i, n) ? edge_bins<T>(ri, i, n, ext) : ri + 2 * i;
    const __m256 p = power8<T>(c, v, root, e);
    flag = _mm256_or_ps(flag, nonfinite8(p));
    _mm256_storeu_ps(out + i, p);
  }
  if (_mm256_movemask_ps(flag)) *bad = true;
  return i;
}

__attribute__((target("avx2"))) static int64_t power_row_avx2(const float* ri, float* out,
                                                              int64_t n, const Win& w, bool root,
                                                              float eps, bool* bad) {
  const Taps8 v = taps8(w);
  switch (w.T) {
    case 0: return power_row_t<0>(ri, out, n, v, root, eps, bad);
    case 1: return power_row_t<1>(ri, out, n, v, root, eps, bad);
    case 2: return power_row_t<2>(ri, out, n, v, root, eps, bad);
    default: return power_row_t<-1>(ri, out, n, v, root, eps, bad);
  }
}

// r[0..7] <- its transpose (r[i][j] <-> r[j][i])
__attribute__((target("avx2"))) static inline void transpose8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20); r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20); r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31); r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31); r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// 8 rows of band_power (spectra rows[i], outputs outs[i]): powers into pt (n, 8), then each
// filter's run
template <int T>
__attribute__((target("avx2"))) static void bands8_t(
    const float* const* rows, int64_t n, const Win& win, float* const* outs,
    const int64_t* start, const int64_t* length, const int64_t* offset, const float* w,
    int64_t M, bool root, float eps, float* pt, bool* bad) {
  const __m256 e = _mm256_set1_ps(eps);
  const Taps8 v = taps8(win);
  __m256 flag = _mm256_setzero_ps();
  int64_t b = 0;
  alignas(32) float ext[8][2 * (8 + 2 * 2)];
  for (; b + 8 <= n; b += 8) {
    __m256 r[8];
    if (edge_block<T>(b, n)) {
      for (int i = 0; i < 8; ++i) r[i] = power8<T>(edge_bins<T>(rows[i], b, n, ext[i]), v, root, e);
    } else {
      for (int i = 0; i < 8; ++i) r[i] = power8<T>(rows[i] + 2 * b, v, root, e);
    }
    transpose8(r);
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(pt + (b + j) * 8, r[j]);
  }
  for (; b < n; ++b)
    for (int i = 0; i < 8; ++i) {
      float re, im;
      windowed_bin(rows[i], b, win, &re, &im);
      pt[b * 8 + i] = power_of(re, im, root, eps);
    }
  alignas(32) float acc8[8];
  for (int64_t m = 0; m < M; ++m) {
    const float* p = pt + start[m] * 8;
    const float* wm = w + offset[m];
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < length[m]; ++j)
      acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(wm[j]), _mm256_loadu_ps(p + j * 8)));
    flag = _mm256_or_ps(flag, nonfinite8(acc));
    _mm256_store_ps(acc8, acc);
    for (int i = 0; i < 8; ++i) outs[i][m] = acc8[i];
  }
  if (_mm256_movemask_ps(flag)) *bad = true;
}

__attribute__((target("avx2"))) static void bands8_avx2(
    const float* const* rows, int64_t n, const Win& win, float* const* outs,
    const int64_t* start, const int64_t* length, const int64_t* offset, const float* w,
    int64_t M, bool root, float eps, float* pt, bool* bad) {
  switch (win.T) {
    case 0: return bands8_t<0>(rows, n, win, outs, start, length, offset, w, M, root, eps, pt, bad);
    case 1: return bands8_t<1>(rows, n, win, outs, start, length, offset, w, M, root, eps, pt, bad);
    case 2: return bands8_t<2>(rows, n, win, outs, start, length, offset, w, M, root, eps, pt, bad);
    default: return bands8_t<-1>(rows, n, win, outs, start, length, offset, w, M, root, eps, pt, bad);
  }
}
#endif

static void check(const at::Tensor& ri, const at::Tensor& out, int64_t cols) {
  TORCH_CHECK(ri.is_cpu() && ri.scalar_type() == at::kFloat && ri.dim() == 3 && ri.size(2) == 2 &&
                  ri.is_contiguous(),
              "ddsp_spectral: ri must be a contiguous float32 (R, bins, 2) CPU tensor");
  TORCH_CHECK(out.scalar_type() == at::kFloat && out.dim() == 2 && out.size(1) == cols &&
                  out.stride(1) == 1,
              "ddsp_spectral: out must be float32 (rows, cols) with unit column stride");
}

// where spectrum row r goes: out row r (no start given), or, the rows being segments of
// `period` rows of which the first count[j] are kept, out row start[j] + k for row
// r = j * period + k with k < count[j], and nowhere (-1) for the rest (the frames that
// straddle two segments of a group buffer, ddsp.spectral._cosine)
struct RowMap {
  int64_t period = 1;
  std::vector<int64_t> start, count;
  int64_t operator()(int64_t r) const {
    if (start.empty()) return r;
    const int64_t j = r / period, k = r % period;
    return k < count[j] ? start[j] + k : -1;
  }
};

static RowMap row_map(int64_t R, int64_t rows_out, int64_t period, at::IntArrayRef start,
                      at::IntArrayRef count) {
  RowMap map;
  if (start.empty()) {
    TORCH_CHECK(count.empty() && rows_out == R, "ddsp_spectral: out must have ri's ", R,
                " rows, has ", rows_out);
    return map;
  }
  const int64_t J = int64_t(start.size());
  TORCH_CHECK(period > 0 && int64_t(count.size()) == J && R <= J * period,
              "ddsp_spectral: segments (period ", period, ", ", J, " starts, ", count.size(),
              " counts) do not cover the ", R, " rows");
  for (int64_t j = 0; j < J; ++j)
    TORCH_CHECK(count[j] >= 0 && count[j] <= period && start[j] >= 0 &&
                    start[j] + count[j] <= rows_out,
                "ddsp_spectral: segment ", j, " (start ", start[j], ", count ", count[j],
                ") leaves out's ", rows_out, " rows or its period ", period);
  map.period = period;
  map.start.assign(start.begin(), start.end());
  map.count.assign(count.begin(), count.end());
  return map;
}

// the taps as a Win, checked: at most 3 (a cosine-sum window of up to 3 terms), on spectra of
// more than 2T bins (the symmetric extension reads bins 1 .. T and n - 1 - T .. n - 2)
static Win window_taps(at::ArrayRef<double> taps, int64_t n) {
  TORCH_CHECK(taps.size() <= 3 && (taps.empty() || n > 2 * int64_t(taps.size())),
              "ddsp_spectral: ", taps.size(), " window taps on ", n, " bins (at most 3, and "
              "more than twice as many bins)");
  Win w;
  w.T = int64_t(taps.size()) - 1;
  w.n = n;
  for (size_t t = 0; t < taps.size(); ++t) w.c[t] = float(taps[t]);
  return w;
}

// one spectrum s (n bins) into its output row o: power_of(y[b]), y being s windowed by win;
// sets *bad where an output is not finite
static void power_row(const float* s, float* o, int64_t n, const Win& win, bool root, float e,
                      bool vec, bool* bad) {
  int64_t i = 0;
#ifdef DDSP_AVX2
  if (vec) i = power_row_avx2(s, o, n, win, root, e, bad);
#endif
  const int64_t i0 = i;
  for (; i < n; ++i) {
    float re, im;
    windowed_bin(s, i, win, &re, &im);
    o[i] = power_of(re, im, root, e);
  }
  if (!all_finite(o + i0, n - i0)) *bad = true;
}

// out[map(r), b] = power_of(y[r, b]) for spectra ri (R, n, 2), out (rows, n) (rows may be
// strided), y being ri or, with taps, ri windowed in frequency (Win). Returns whether every
// output is finite (a NaN or Inf of the frames reaches every bin of their spectra)
bool spectrum_power(at::Tensor ri, at::Tensor out, bool root, double eps, at::ArrayRef<double> taps,
                    int64_t period, at::IntArrayRef start, at::IntArrayRef count) {
  check(ri, out, ri.size(1));
  const int64_t R = ri.size(0), n = ri.size(1), os = out.stride(0);
  const RowMap map = row_map(R, out.size(0), period, start, count);
  const Win win = window_taps(taps, n);
  const float* src = ri.data_ptr<float>(); float* dst = out.data_ptr<float>();
  const bool vec = simd();
  const float e = float(eps);
  std::atomic<bool> any_bad{false};
  at::parallel_for(0, R, 8, [&](int64_t r0, int64_t r1) {
    bool bad = false;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t d = map(r);
      if (d >= 0) power_row(src + r * n * 2, dst + d * os, n, win, root, e, vec, &bad);
    }
    if (bad) any_bad = true;
  });
  return !any_bad;
}

// up to 8 spectra rows[i] (n bins) projected into outs[i] (M filters), as band_power; pt
// (n * 8) and p (n) are scratch
static void bands_rows(const float* const* rows, float* const* outs, int64_t cnt, int64_t n,
                       const Win& win, const int64_t* st, const int64_t* ln, const int64_t* of,
                       const float* wp, int64_t M, bool root, float e, bool vec, float* pt,
                       float* p, bool* bad) {
#ifdef DDSP_AVX2
  if (vec && cnt == 8) {
    bands8_avx2(rows, n, win, outs, st, ln, of, wp, M, root, e, pt, bad);
    return;
  }
#endif
  for (int64_t i = 0; i < cnt; ++i) {
    const float* s = rows[i];
    for (int64_t b = 0; b < n; ++b) {
      float re, im;
      windowed_bin(s, b, win, &re, &im);
      p[b] = power_of(re, im, root, e);
    }
    for (int64_t m = 0; m < M; ++m) {
      float acc = 0.f;
      for (int64_t j = 0; j < ln[m]; ++j) acc = acc + wp[of[m] + j] * p[st[m] + j];
      outs[i][m] = acc;
    }
    if (!all_finite(outs[i], M)) *bad = true;
  }
}

// out[map(r), m] = sum_{j < length[m]} w[offset[m] + j] * power_of(y[r, start[m] + j]), summed
// over j ascending from 0; ri (R, n, 2), out (rows, M), y as in spectrum_power. Returns whether
// every output is finite.
bool band_power(at::Tensor ri, at::Tensor out, at::Tensor start, at::Tensor length,
                at::Tensor offset, at::Tensor w, bool root, double eps, at::ArrayRef<double> taps,
                int64_t period, at::IntArrayRef seg_start, at::IntArrayRef seg_count) {
  const int64_t M = start.numel();
  check(ri, out, M);
  TORCH_CHECK(start.scalar_type() == at::kLong && length.scalar_type() == at::kLong &&
                  offset.scalar_type() == at::kLong && length.numel() == M &&
                  offset.numel() == M && w.scalar_type() == at::kFloat,
              "ddsp_spectral: runs (start, length, offset) int64 (M,), weights float32");
  start = start.contiguous(); length = length.contiguous(); offset = offset.contiguous();
  w = w.contiguous();
  const int64_t R = ri.size(0), n = ri.size(1), os = out.stride(0);
  const int64_t *st = start.data_ptr<int64_t>(), *ln = length.data_ptr<int64_t>(),
                *of = offset.data_ptr<int64_t>();
  for (int64_t m = 0; m < M; ++m)
    TORCH_CHECK(st[m] >= 0 && ln[m] >= 0 && st[m] + ln[m] <= n && of[m] >= 0 &&
                    of[m] + ln[m] <= w.numel(),
                "ddsp_spectral: filter ", m, "'s run leaves the bins or the weights");
  const RowMap map = row_map(R, out.size(0), period, seg_start, seg_count);
  const Win win = window_taps(taps, n);
  std::vector<int64_t> from, to;  // the rows kept, and where they go
  for (int64_t r = 0; r < R; ++r)
    if (map(r) >= 0) { from.push_back(r); to.push_back(map(r)); }
  const int64_t K = int64_t(from.size());
  const float* src = ri.data_ptr<float>(); float* dst = out.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const bool vec = simd();
  const float e = float(eps);
  const int64_t groups = (K + 7) / 8;
  std::atomic<bool> any_bad{false};
  at::parallel_for(0, groups, 1, [&](int64_t g0, int64_t g1) {
    std::vector<float> pt(n * 8), p(n);
    bool bad = false;
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t k0 = g * 8, k1 = std::min(K, k0 + 8);
      const float* rows[8];
      float* outs[8];
      for (int64_t k = k0; k < k1; ++k) {
        rows[k - k0] = src + from[k] * n * 2;
        outs[k - k0] = dst + to[k] * os;
      }
      bands_rows(rows, outs, k1 - k0, n, win, st, ln, of, wp, M, root, e, vec, pt.data(),
                 p.data(), &bad);
    }
    if (bad) any_bad = true;
  });
  return !any_bad;
}

// out[r, b] = ri[r, b] * d[r, b] for spectra ri, out (R, n, 2) and real factors d (R, n), all
// contiguous: a complex spectrum times a real one in one pass (torch first converts d to complex)
void spectrum_times(at::Tensor ri, at::Tensor d, at::Tensor out) {
  TORCH_CHECK(ri.is_cpu() && ri.scalar_type() == at::kFloat && ri.dim() == 3 && ri.size(2) == 2 &&
                  ri.is_contiguous() && d.scalar_type() == at::kFloat && d.is_contiguous() &&
                  out.scalar_type() == at::kFloat && out.is_contiguous() &&
                  d.numel() * 2 == ri.numel() && out.numel() == ri.numel(),
              "ddsp_spectral: spectrum_times takes contiguous float32 ri (R, n, 2), d (R, n), out");
  const int64_t n = d.numel();
  const float* s = ri.data_ptr<float>(); const float* f = d.data_ptr<float>();
  float* o = out.data_ptr<float>();
  at::parallel_for(0, n, 1 << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) { o[2 * i] = s[2 * i] * f[i]; o[2 * i + 1] = s[2 * i + 1] * f[i]; }
  });
}

// for ddsp.spectral._framed_cpu (another translation unit): the R spectra ri (R, n, 2) into
// the rows out + r * os, as spectrum_power (M < 0) or, on the filters' runs (st, ln, of, w),
// band_power; pt (n * 8) and p (max(n, M)) are scratch. Returns whether every output is finite
namespace ddsp_power {
bool block_power(const float* ri, int64_t R, int64_t n, float* out, int64_t os,
                 at::ArrayRef<double> taps, bool root, float eps, const int64_t* st,
                 const int64_t* ln, const int64_t* of, const float* w, int64_t M, float* pt,
                 float* p) {
  const Win win = window_taps(taps, n);
  const bool vec = simd();
  bool bad = false;
  if (M < 0) {
    for (int64_t r = 0; r < R; ++r)
      power_row(ri + r * n * 2, out + r * os, n, win, root, eps, vec, &bad);
    return !bad;
  }
  for (int64_t r0 = 0; r0 < R; r0 += 8) {
    const int64_t cnt = std::min<int64_t>(8, R - r0);
    const float* rows[8];
    float* outs[8];
    for (int64_t i = 0; i < 8; ++i) {
      // a last group of fewer than 8 repeats its last row into p, so that the AVX2 loop takes it
      rows[i] = ri + (r0 + std::min(i, cnt - 1)) * n * 2;
      outs[i] = i < cnt ? out + (r0 + i) * os : p;
    }
    bands_rows(rows, outs, vec ? 8 : cnt, n, win, st, ln, of, w, M, root, eps, vec, pt, p, &bad);
  }
  return !bad;
}
}  // namespace ddsp_power

TORCH_LIBRARY(ddsp_spectral, m) {
  m.def("spectrum_times(Tensor ri, Tensor d, Tensor(a!) out) -> ()", &spectrum_times);
  m.def("spectrum_power(Tensor ri, Tensor(a!) out, bool root, float eps, float[] taps, "
        "int period, int[] start, int[] count) -> bool", &spectrum_power);
  m.def("band_power(Tensor ri, Tensor(a!) out, Tensor start, Tensor length, Tensor offset, "
        "Tensor w, bool root, float eps, float[] taps, int period, int[] seg_start, "
        "int[] seg_count) -> bool", &band_power);
  m.def("simd() -> bool", &simd);
}
"""
)

_STATE: dict[str, object] = {}


def ops():
    """``torch.ops.ddsp_spectral`` (these kernels, :mod:`ddsp.spectral._pairs_cpu`'s,
    :mod:`ddsp.spectral._decimate_cpu`'s, :mod:`ddsp.spectral._mkl_cpu`'s,
    :mod:`ddsp.spectral._framed_cpu`'s, :mod:`ddsp.spectral._griffinlim_cpu`'s and
    :mod:`ddsp.spectral._ola_cpu`'s, one extension), or None (no compiler, ``DDSP_CPP=0``)."""
    if "ops" not in _STATE:
        from . import _decimate_cpu, _framed_cpu, _griffinlim_cpu, _mkl_cpu, _ola_cpu, _pairs_cpu

        sources = [SOURCE, _pairs_cpu.SOURCE, _decimate_cpu.SOURCE, _mkl_cpu.SOURCE, _framed_cpu.SOURCE, _griffinlim_cpu.SOURCE, _ola_cpu.SOURCE]  # fmt: skip
        built = _cpp.load(
            "ddsp_spectral_cpu",
            sources,
            "the spectral power, FFT pairing, decimation, planned-FFT, Griffin-Lim and inverse STFT kernels",
            "the eager torch ops",
        )
        _STATE["ops"] = torch.ops.ddsp_spectral if built else None
    return _STATE["ops"]


def usable(x: torch.Tensor, power: float) -> bool:
    """The kernels cover float32 magnitudes (``power=1``) and powers (``power=2``) of plain CPU
    tensors (:func:`ddsp.dsp.plain_cpu`)."""
    return x.dtype == torch.float32 and power in (1.0, 2.0) and plain_cpu(x) and ops() is not None


Segments = tuple[int, list[int], list[int]]


def spectrum_power(
    ri: torch.Tensor,
    out: torch.Tensor,
    power: float,
    eps: float,
    taps: Sequence[float] = (),
    segments: Segments | None = None,
) -> bool:
    """``out = magnitude(spectrum, power, eps)`` for ``power`` 1 or 2 (``eps`` with 1 only,
    as :func:`ddsp.spectral.functional.magnitude`).

    ``taps`` (up to 3, even-length FFTs only): the spectra are first windowed in frequency,
    ``X[k] taps[0] + sum_t taps[t] (X[k - t] + X[k + t])``, the spectrum of the frame times the
    periodic cosine-sum window with those taps (:mod:`ddsp.spectral._cosine`). ``segments``
    ``(period, start, count)``: spectrum row ``j * period + k`` goes to output row
    ``start[j] + k`` for ``k < count[j]``, and the other rows nowhere.

    Shape: ``ri (R, bins, 2)`` (``view_as_real`` of the spectra) -> into ``out (R, bins)``
    (with ``segments``, ``(rows, bins)``). Returns whether every output is finite.
    """
    period, start, count = segments or (1, [], [])
    root = power == 1.0
    return ops().spectrum_power(
        ri, out, root, float(eps) if root else 0.0, list(taps), period, start, count
    )


def spectrum_times(spec: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``spec * factor``, a complex spectrum times a real one, in one pass.

    Shape: contiguous ``spec (..., bins)`` complex64, ``factor`` float32 of the same shape ->
    a new contiguous complex64 tensor of that shape.
    """
    out = torch.empty_like(spec, memory_format=torch.contiguous_format)
    ops().spectrum_times(
        torch.view_as_real(spec).reshape(-1, spec.shape[-1], 2),
        factor.reshape(-1, spec.shape[-1]),
        torch.view_as_real(out),
    )
    return out


Runs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def filter_runs(bands: list[tuple[int, int, torch.Tensor]], dtype: torch.dtype) -> Runs:
    """Each filter of a band-split basis (:func:`ddsp.spectral.functional.band_split`) as its
    run of weights from its first to its last non-zero bin: ``(start, length, offset,
    weights)``, filter ``m`` being ``weights[offset[m] : offset[m] + length[m]]`` at bins
    ``start[m] ...`` (an all-zero filter has length 0).

    Shape: blocks ``(rows, hi - lo)`` -> ``(M,)`` x 3 int64, ``(W,)`` weights in ``dtype``.
    """
    starts, lengths, weights = [], [], []
    for lo, _, block in bands:
        nz = block != 0
        span = block.shape[-1]
        any_ = nz.any(-1)
        first = nz.to(torch.uint8).argmax(-1)
        last = span - 1 - nz.flip(-1).to(torch.uint8).argmax(-1)
        length = torch.where(any_, last - first + 1, 0)
        row = torch.repeat_interleave(torch.arange(block.shape[0]), length)
        begin = torch.cumsum(length, 0) - length
        col = first[row] + torch.arange(len(row)) - begin[row]
        starts.append(lo + first)
        lengths.append(length)
        weights.append(block[row, col].to(dtype))
    length = torch.cat(lengths)
    return torch.cat(starts), length, torch.cumsum(length, 0) - length, torch.cat(weights)


_RUNS: dict[tuple, tuple[list, list[int], Runs]] = {}  # filter_runs of recent filterbanks


def cached_filter_runs(bands: list[tuple[int, int, torch.Tensor]], dtype: torch.dtype) -> Runs:
    """:func:`filter_runs`, remembered for the same block tensors while they live unmodified
    (weak references and version counters; a mel module's fixed bands pay 2.7 ms once, not
    every call). Blocks without a version counter (inference tensors) are not remembered."""
    try:
        versions = [block._version for *_, block in bands]
    except RuntimeError:  # inference tensors track no version
        return filter_runs(bands, dtype)
    key = (dtype, tuple((lo, hi, id(block)) for lo, hi, block in bands))
    hit = _RUNS.get(key)
    if hit is not None and hit[1] == versions:
        if all(ref() is block for ref, (*_, block) in zip(hit[0], bands, strict=True)):
            return hit[2]
    runs = filter_runs(bands, dtype)
    if len(_RUNS) >= 16:
        _RUNS.pop(next(iter(_RUNS)))
    _RUNS[key] = ([weakref.ref(block) for *_, block in bands], versions, runs)
    return runs


def band_power(
    ri: torch.Tensor,
    out: torch.Tensor,
    runs: Runs,
    power: float,
    eps: float,
    taps: Sequence[float] = (),
    segments: Segments | None = None,
) -> bool:
    """``out = magnitude(spectrum, power, eps)`` projected on the filters of ``runs``
    (:func:`filter_runs`); ``taps`` and ``segments`` as in :func:`spectrum_power`.

    Shape: ``ri (R, bins, 2)`` -> into ``out (R, M)`` (with ``segments``, ``(rows, M)``).
    Returns whether every output is finite.
    """
    start, length, offset, w = runs
    period, first, count = segments or (1, [], [])
    root = power == 1.0
    eps = float(eps) if root else 0.0
    return ops().band_power(
        ri, out, start, length, offset, w, root, eps, list(taps), period, first, count
    )

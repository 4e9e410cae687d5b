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

The AVX2 loops (float32, chosen at run time) perform the scalar loops' operations in the same
order, so both give the same bits; the results equal the eager ops' to rounding (the power
exactly: the same products and sum; the root correctly rounded, which torch's float32 sqrt is
not always; a projection sums its products in another order).
"""

from __future__ import annotations

import weakref

import torch

from .. import _cpp
from ..dsp import plain_cpu

__all__ = [
    "ops",
    "usable",
    "spectrum_power",
    "spectrum_times",
    "band_power",
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

#ifdef DDSP_AVX2
// the powers of bins [b, b + 8) of one spectrum (interleaved re, im), as power_of: the squares'
// pairwise sums (re^2 + im^2 in that order) put back in bin order
__attribute__((target("avx2"))) static inline __m256 power8(const float* ri, bool root,
                                                            __m256 eps) {
  __m256 a = _mm256_loadu_ps(ri), b = _mm256_loadu_ps(ri + 8);
  a = _mm256_mul_ps(a, a);
  b = _mm256_mul_ps(b, b);
  const __m256 s = _mm256_hadd_ps(a, b);  // bins 0 1 4 5 | 2 3 6 7
  __m256 p = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
  if (root) p = _mm256_sqrt_ps(_mm256_max_ps(eps, p));  // max(eps, NaN) is NaN, as p < eps
  return p;
}

// one row of spectrum_power for bins [0, n - n % 8); returns the count done, and sets *bad
// where an output is not finite
__attribute__((target("avx2"))) static int64_t power_row_avx2(const float* ri, float* out,
                                                              int64_t n, bool root, float eps,
                                                              bool* bad) {
  const __m256 e = _mm256_set1_ps(eps);
  __m256 flag = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 p = power8(ri + 2 * i, root, e);
    flag = _mm256_or_ps(flag, nonfinite8(p));
    _mm256_storeu_ps(out + i, p);
  }
  if (_mm256_movemask_ps(flag)) *bad = true;
  return i;
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

// rows [r, r + 8) of band_power: powers into pt (n, 8), then each filter's run
__attribute__((target("avx2"))) static void bands8_avx2(
    const float* ri, int64_t n, float* out, int64_t ostride, const int64_t* start,
    const int64_t* length, const int64_t* offset, const float* w, int64_t M, bool root,
    float eps, float* pt, bool* bad) {
  const __m256 e = _mm256_set1_ps(eps);
  __m256 flag = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 8 <= n; b += 8) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = power8(ri + (i * n + b) * 2, root, e);
    transpose8(r);
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(pt + (b + j) * 8, r[j]);
  }
  for (; b < n; ++b)
    for (int i = 0; i < 8; ++i) {
      const float* s = ri + (i * n + b) * 2;
      pt[b * 8 + i] = power_of(s[0], s[1], root, eps);
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
    for (int i = 0; i < 8; ++i) out[i * ostride + m] = acc8[i];
  }
  if (_mm256_movemask_ps(flag)) *bad = true;
}
#endif

static void check(const at::Tensor& ri, const at::Tensor& out, int64_t cols) {
  TORCH_CHECK(ri.is_cpu() && ri.scalar_type() == at::kFloat && ri.dim() == 3 && ri.size(2) == 2 &&
                  ri.is_contiguous(),
              "ddsp_spectral: ri must be a contiguous float32 (R, bins, 2) CPU tensor");
  TORCH_CHECK(out.scalar_type() == at::kFloat && out.dim() == 2 && out.size(0) == ri.size(0) &&
                  out.size(1) == cols && out.stride(1) == 1,
              "ddsp_spectral: out must be float32 (R, cols) with unit column stride");
}

// out[r, b] = power_of(ri[r, b]) for ri (R, n, 2), out (R, n) (rows may be strided). Returns
// whether every output is finite (a NaN or Inf of the frames reaches every bin of their spectra)
bool spectrum_power(at::Tensor ri, at::Tensor out, bool root, double eps) {
  check(ri, out, ri.size(1));
  const int64_t R = ri.size(0), n = ri.size(1), os = out.stride(0);
  const float* src = ri.data_ptr<float>(); float* dst = out.data_ptr<float>();
  const bool vec = simd();
  const float e = float(eps);
  std::atomic<bool> any_bad{false};
  at::parallel_for(0, R, 8, [&](int64_t r0, int64_t r1) {
    bool bad = false;
    for (int64_t r = r0; r < r1; ++r) {
      const float* s = src + r * n * 2; float* o = dst + r * os;
      int64_t i = 0;
#ifdef DDSP_AVX2
      if (vec) i = power_row_avx2(s, o, n, root, e, &bad);
#endif
      const int64_t i0 = i;
      for (; i < n; ++i) o[i] = power_of(s[2 * i], s[2 * i + 1], root, e);
      if (!all_finite(o + i0, n - i0)) bad = true;
    }
    if (bad) any_bad = true;
  });
  return !any_bad;
}

// out[r, m] = sum_{j < length[m]} w[offset[m] + j] * power_of(ri[r, start[m] + j]), summed
// over j ascending from 0; ri (R, n, 2), out (R, M). Returns whether every output is finite.
bool band_power(at::Tensor ri, at::Tensor out, at::Tensor start, at::Tensor length,
                at::Tensor offset, at::Tensor w, bool root, double eps) {
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
  const float* src = ri.data_ptr<float>(); float* dst = out.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const bool vec = simd();
  const float e = float(eps);
  const int64_t groups = (R + 7) / 8;
  std::atomic<bool> any_bad{false};
  at::parallel_for(0, groups, 1, [&](int64_t g0, int64_t g1) {
    std::vector<float> pt(n * 8), p(n);
    bool bad = false;
    for (int64_t g = g0; g < g1; ++g) {
      int64_t r = g * 8;
#ifdef DDSP_AVX2
      if (vec && r + 8 <= R) {
        bands8_avx2(src + r * n * 2, n, dst + r * os, os, st, ln, of, wp, M, root, e, pt.data(),
                    &bad);
        continue;
      }
#endif
      for (; r < std::min(R, g * 8 + 8); ++r) {
        const float* s = src + r * n * 2;
        for (int64_t b = 0; b < n; ++b) p[b] = power_of(s[2 * b], s[2 * b + 1], root, e);
        for (int64_t m = 0; m < M; ++m) {
          float acc = 0.f;
          for (int64_t j = 0; j < ln[m]; ++j) acc = acc + wp[of[m] + j] * p[st[m] + j];
          dst[r * os + m] = acc;
        }
        if (!all_finite(dst + r * os, M)) bad = true;
      }
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

TORCH_LIBRARY(ddsp_spectral, m) {
  m.def("spectrum_times(Tensor ri, Tensor d, Tensor(a!) out) -> ()", &spectrum_times);
  m.def("spectrum_power(Tensor ri, Tensor(a!) out, bool root, float eps) -> bool",
        &spectrum_power);
  m.def("band_power(Tensor ri, Tensor(a!) out, Tensor start, Tensor length, Tensor offset, "
        "Tensor w, bool root, float eps) -> bool", &band_power);
  m.def("simd() -> bool", &simd);
}
"""
)

_STATE: dict[str, object] = {}


def ops():
    """``torch.ops.ddsp_spectral`` (these kernels, :mod:`ddsp.spectral._pairs_cpu`'s and
    :mod:`ddsp.spectral._decimate_cpu`'s, one extension), or None (no compiler, ``DDSP_CPP=0``)."""
    if "ops" not in _STATE:
        from . import _decimate_cpu, _pairs_cpu

        built = _cpp.load(
            "ddsp_spectral_cpu",
            [SOURCE, _pairs_cpu.SOURCE, _decimate_cpu.SOURCE],
            "the spectral power, FFT pairing and decimation kernels",
            "the eager torch ops",
        )
        _STATE["ops"] = torch.ops.ddsp_spectral if built else None
    return _STATE["ops"]


def usable(x: torch.Tensor, power: float) -> bool:
    """The kernels cover float32 magnitudes (``power=1``) and powers (``power=2``) of plain CPU
    tensors (:func:`ddsp.dsp.plain_cpu`)."""
    return x.dtype == torch.float32 and power in (1.0, 2.0) and plain_cpu(x) and ops() is not None


def spectrum_power(ri: torch.Tensor, out: torch.Tensor, power: float, eps: float) -> bool:
    """``out = magnitude(spectrum, power, eps)`` for ``power`` 1 or 2 (``eps`` with 1 only,
    as :func:`ddsp.spectral.functional.magnitude`).

    Shape: ``ri (R, bins, 2)`` (``view_as_real`` of the spectra) -> into ``out (R, bins)``.
    Returns whether every output is finite.
    """
    return ops().spectrum_power(ri, out, power == 1.0, float(eps) if power == 1.0 else 0.0)


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


def band_power(ri: torch.Tensor, out: torch.Tensor, runs: Runs, power: float, eps: float) -> bool:
    """``out = magnitude(spectrum, power, eps)`` projected on the filters of ``runs``
    (:func:`filter_runs`).

    Shape: ``ri (R, bins, 2)`` -> into ``out (R, M)``. Returns whether every output is finite.
    """
    start, length, offset, w = runs
    root = power == 1.0
    return ops().band_power(ri, out, start, length, offset, w, root, float(eps) if root else 0.0)

"""Inference kernels of the GOLF decoder's stages, in C++ (built with the fused all-pole backward
by :mod:`ddsp.filters._fused_cpu`, one extension, compiled on first use).

Rendering without gradients in eager torch spent most of its time creating, page-faulting and
re-reading per-sample temporaries (coefficients interpolated to every sample, an oversampled
phase, table indices, frequency grids of every frame), not computing. Each kernel here makes one
pass and writes only its output:

- :func:`sos_cascade`: biquads' ``(a1, a2)`` interpolated linearly from frame to sample inside
  the recursion (as :func:`ddsp.filters.interpolate.upsample`), all sections per sample;
- :func:`wavetable_decimated`: phase from f0, two-table bilinear wavetable read at the oversampled
  rate and the decimating low-pass, in blocks that stay in cache;
- :func:`causal_fir`: a short LTI FIR (``y[n] = sum_k h[k] x[n - k]``);
- :func:`biquad_log_rms_gain`: the unit-power normalisation of a biquad cascade, as the product
  of the sections' power responses in float64 (one ``log`` per frame instead of one per
  section and frequency).

They compute what the eager ops compute, to rounding (the tests compare them in float32 and
float64). The oscillator's table read and decimation and the FIR's taps have AVX2 forms for
float32, chosen at run time (the build itself targets the baseline x86-64 ISA, so one binary runs
on every machine); they give the scalar loops' bits (the tests check it), 3x faster here.
``DDSP_SIMD=0`` keeps the scalar loops. Callers use them only for CPU tensors that need no
gradient, and keep the eager ops otherwise; :func:`ops` is None without a compiler or with
``DDSP_CPP=0``. One training kernel lives here, beside the oscillator it reuses:
:func:`wavetable_position_backward`, the oscillator's gradient in its table position (GOLF-ss
training runs :func:`wavetable_decimated` forward with it as the backward).
"""

from __future__ import annotations

import math

import torch

from .. import _cpp
from ..dsp import plain_cpu

__all__ = [
    "ops",
    "usable",
    "usable_with_gradient",
    "sos_cascade",
    "wavetable_decimated",
    "wavetable_position_backward",
    "causal_fir",
    "biquad_log_rms_gain",
]

SOURCE = (
    _cpp.PRELUDE
    + r"""
#include <ATen/ops/zeros.h>
// o[i] += h * s[i]: the inner loop of the decimating and room FIRs (vector code at -O3). Built
// for AVX2 + FMA as well (GCC's target_clones), it measured no faster here: the loop is bound by
// loading and storing o, not by arithmetic.
static void axpy(float* __restrict__ o, float h, const float* __restrict__ s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] += h * s[i];
}
static void axpy(double* __restrict__ o, double h, const double* __restrict__ s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] += h * s[i];
}

// floor for finite values (no libm call: the build targets the baseline ISA, without SSE4.1's
// round instructions)
template <typename T>
static inline int64_t floor_(T x) {
  const int64_t i = int64_t(x);
  return i - (T(i) > x);
}
template <typename T>
static inline int32_t floor32(T x) {  // |x| < 2^31
  const int32_t i = int32_t(x);
  return i - (T(i) > x);
}

// One row of the biquad cascade: x (T), sos (F, S, 2) per frame, z (S, 2) = [y[-1], y[-2]] per
// section -> y (T), zf (S, 2), and with Save every section's output at every sample, ys (T, S).
// Sample t uses frame k = t / hop interpolated towards frame k + 1 (held at the last frame):
// c = sos[k] + (sos[k + 1] - sos[k]) * (j / hop), j = t % hop, as upsample() does.
template <typename T_, bool Save>
static void cascade_row(const T_* __restrict__ xb, const T_* __restrict__ cb, const T_* z,
                        T_* __restrict__ yb, T_* zf, T_* __restrict__ ys, int64_t F, int64_t S,
                        int64_t hop, const T_* w) {
  std::vector<T_> y1(S), y2(S), c1(S), d1(S), c2(S), d2(S);
  for (int64_t s = 0; s < S; ++s) { y1[s] = z[2 * s]; y2[s] = z[2 * s + 1]; }
  for (int64_t k = 0; k < F; ++k) {
    const T_* now = cb + k * S * 2; const T_* nxt = cb + std::min(k + 1, F - 1) * S * 2;
    for (int64_t s = 0; s < S; ++s) {
      c1[s] = now[2 * s]; d1[s] = nxt[2 * s] - now[2 * s];
      c2[s] = now[2 * s + 1]; d2[s] = nxt[2 * s + 1] - now[2 * s + 1];
    }
    for (int64_t j = 0; j < hop; ++j) {
      const int64_t t = k * hop + j;
      T_ v = xb[t];
      const T_ wj = w[j];
      for (int64_t s = 0; s < S; ++s) {
        const T_ a1 = c1[s] + d1[s] * wj, a2 = c2[s] + d2[s] * wj;
        const T_ out = v - a1 * y1[s] - a2 * y2[s];
        y2[s] = y1[s]; y1[s] = out; v = out;
        if constexpr (Save) ys[t * S + s] = out;
      }
      yb[t] = v;
    }
  }
  for (int64_t s = 0; s < S; ++s) { zf[2 * s] = y1[s]; zf[2 * s + 1] = y2[s]; }
}

// x (B, T), sos (B, F, S, 2) per frame, zi (B, S, 2) -> y (B, T), zf (B, S, 2), and with save
// (GOLF-ss training, ddsp.filters.cascade_grad) ys (B, T, S), every section's output.
static std::tuple<at::Tensor, at::Tensor, at::Tensor> cascade(at::Tensor x, at::Tensor sos,
                                                              at::Tensor zi, int64_t hop, bool save) {
  TORCH_CHECK(x.is_cpu() && x.dim() == 2 && sos.dim() == 4 && sos.size(3) == 2,
              "sos_cascade: x (B, T), sos (B, F, S, 2)");
  x = x.contiguous(); sos = sos.contiguous(); zi = zi.contiguous();
  const int64_t B = x.size(0), T = x.size(1), F = sos.size(1), S = sos.size(2);
  TORCH_CHECK(hop > 0 && F * hop == T && sos.size(0) == B, "sos_cascade: frames x hop != time");
  auto y = at::empty({B, T}, x.options());
  auto zf = at::empty({B, S, 2}, x.options());
  auto ys = save ? at::empty({B, T, S}, x.options()) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sos_cascade", [&] {
    using T_ = scalar_t;
    const T_* xp = x.data_ptr<T_>(); const T_* cp = sos.data_ptr<T_>(); const T_* zp = zi.data_ptr<T_>();
    T_* yp = y.data_ptr<T_>(); T_* fp = zf.data_ptr<T_>();
    T_* sp = save ? ys.data_ptr<T_>() : nullptr;
    std::vector<T_> w(hop);
    for (int64_t j = 0; j < hop; ++j) w[j] = T_(j) / T_(hop);
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const T_* xb = xp + b * T; const T_* cb = cp + b * F * S * 2; const T_* z = zp + b * S * 2;
        if (save)
          cascade_row<T_, true>(xb, cb, z, yp + b * T, fp + b * S * 2, sp + b * T * S, F, S, hop, w.data());
        else
          cascade_row<T_, false>(xb, cb, z, yp + b * T, fp + b * S * 2, nullptr, F, S, hop, w.data());
      }
    });
  });
  return {y, zf, ys};
}

std::tuple<at::Tensor, at::Tensor> sos_cascade(at::Tensor x, at::Tensor sos, at::Tensor zi,
                                               int64_t hop) {
  auto out = cascade(x, sos, zi, hop, false);
  return {std::get<0>(out), std::get<1>(out)};
}

std::tuple<at::Tensor, at::Tensor> sos_cascade_saving(at::Tensor x, at::Tensor sos, int64_t hop) {
  TORCH_CHECK(x.dim() == 2 && sos.dim() == 4, "sos_cascade_saving: x (B, T), sos (B, F, S, 2)");
  auto out = cascade(x, sos, at::zeros({x.size(0), sos.size(2), 2}, x.options()), hop, true);
  return {std::get<0>(out), std::get<2>(out)};
}

// AVX2 forms of the oscillator's two hot loops (its table reads, its decimating low-pass) and of
// the FIR's taps, for float32: the scalar loops' float operations in the same order, so both give
// the same bits (see ddsp._cpp).
#ifdef DDSP_AVX2
// floor of 8 floats as int32 (|x| < 2^31), as floor32 below: truncate, then -1 where that rounded up
__attribute__((target("avx2"))) static inline __m256i floor8(__m256 x) {
  const __m256i i = _mm256_cvttps_epi32(x);
  return _mm256_add_epi32(i, _mm256_castps_si256(_mm256_cmp_ps(_mm256_cvtepi32_ps(i), x, _CMP_GT_OQ)));
}

// The oscillator's table read (Oscillator::generate's second and third loops) for samples
// [0, n - n % 8). Returns the count done.
__attribute__((target("avx2"))) static int64_t read_tables_avx2(
    const double* ph, double start, const float* w, float p_now, float p_step,
    const float* table, int64_t K, int64_t N, float* dst, int64_t n, float* diff) {
  const __m256d st = _mm256_set1_pd(start);
  const __m256 vn = _mm256_set1_ps(float(N)), vk = _mm256_set1_ps(float(K - 1));
  const __m256 pn = _mm256_set1_ps(p_now), ps = _mm256_set1_ps(p_step);
  const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
  const __m256i ni = _mm256_set1_epi32(int32_t(N)), nm1 = _mm256_set1_epi32(int32_t(N - 1));
  const __m256i km2 = _mm256_set1_epi32(int32_t(K - 2));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256d xa = _mm256_add_pd(_mm256_loadu_pd(ph + i), st);
    __m256d xb = _mm256_add_pd(_mm256_loadu_pd(ph + i + 4), st);
    xa = _mm256_sub_pd(xa, _mm256_floor_pd(xa));
    xb = _mm256_sub_pd(xb, _mm256_floor_pd(xb));
    const __m256 idx = _mm256_mul_ps(_mm256_set_m128(_mm256_cvtpd_ps(xb), _mm256_cvtpd_ps(xa)), vn);
    const __m256 q = _mm256_mul_ps(_mm256_add_ps(pn, _mm256_mul_ps(ps, _mm256_loadu_ps(w + i))), vk);
    const __m256i i0 = _mm256_min_epi32(_mm256_max_epi32(floor8(idx), zero), nm1);
    const __m256 fr = _mm256_sub_ps(idx, _mm256_cvtepi32_ps(i0));
    const __m256i k0 = _mm256_min_epi32(_mm256_max_epi32(floor8(q), zero), km2);
    __m256i i1 = _mm256_add_epi32(i0, one);
    i1 = _mm256_andnot_si256(_mm256_cmpeq_epi32(i1, ni), i1);  // the period wraps
    const __m256i r0 = _mm256_mullo_epi32(k0, ni), r1 = _mm256_add_epi32(r0, ni);
    const __m256 a = _mm256_i32gather_ps(table, _mm256_add_epi32(r0, i0), 4);
    const __m256 b = _mm256_i32gather_ps(table, _mm256_add_epi32(r0, i1), 4);
    const __m256 c = _mm256_i32gather_ps(table, _mm256_add_epi32(r1, i0), 4);
    const __m256 d = _mm256_i32gather_ps(table, _mm256_add_epi32(r1, i1), 4);
    const __m256 lo = _mm256_add_ps(a, _mm256_mul_ps(fr, _mm256_sub_ps(b, a)));
    const __m256 hi = _mm256_add_ps(c, _mm256_mul_ps(fr, _mm256_sub_ps(d, c)));
    const __m256 t = _mm256_sub_ps(q, _mm256_cvtepi32_ps(k0));
    _mm256_storeu_ps(dst + i, _mm256_add_ps(lo, _mm256_mul_ps(t, _mm256_sub_ps(hi, lo))));
    if (diff != nullptr) _mm256_storeu_ps(diff + i, _mm256_sub_ps(hi, lo));
  }
  return i;
}

// o[i] = sum_{k < L} h[k] src[(k % os) * len + (k / os) * step + i] for i in [0, nb - nb % 8),
// summed over k ascending from 0 as the scalar axpy loops sum; 64 outputs (eight registers) at a
// time. The decimating low-pass reads its polyphase rows (os phases of len, step 1), the causal
// FIR its input backwards (os 1, step -1). Returns the count done.
__attribute__((target("avx2"))) static int64_t taps_avx2(float* o, const float* src, int64_t len,
                                                         int64_t step, const float* h, int64_t L,
                                                         int64_t os, int64_t nb) {
  int64_t i = 0;
  for (; i + 64 <= nb; i += 64) {
    __m256 acc[8];
    for (int v = 0; v < 8; ++v) acc[v] = _mm256_setzero_ps();
    for (int64_t k = 0; k < L; ++k) {
      const float* p = src + (k % os) * len + (k / os) * step + i;
      const __m256 hk = _mm256_set1_ps(h[k]);
      for (int v = 0; v < 8; ++v)
        acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(hk, _mm256_loadu_ps(p + 8 * v)));
    }
    for (int v = 0; v < 8; ++v) _mm256_storeu_ps(o + i + 8 * v, acc[v]);
  }
  for (; i + 8 <= nb; i += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t k = 0; k < L; ++k) {
      const __m256 x = _mm256_loadu_ps(src + (k % os) * len + (k / os) * step + i);
      acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(h[k]), x));
    }
    _mm256_storeu_ps(o + i, acc);
  }
  return i;
}
#endif

// taps_avx2 where there is one (float32), else nothing done
static int64_t taps_fast(float* o, const float* src, int64_t len, int64_t step, const float* h,
                         int64_t L, int64_t os, int64_t nb) {
#ifdef DDSP_AVX2
  return taps_avx2(o, src, len, step, h, L, os, nb);
#else
  return 0;
#endif
}
static int64_t taps_fast(double*, const double*, int64_t, int64_t, const double*, int64_t,
                         int64_t, int64_t) {
  return 0;
}

// The oscillator's running state and inputs for one batch row.
template <typename T_>
struct Oscillator {
  const T_ *f0, *pos, *table, *w;  // per-frame f0 and table position; tables (K, N); weights
  int64_t F, K, N, hop_os, M;
  double scale, start;
  bool vec;  // the AVX2 table read (float32 only)
  double acc = 0.0;  // running phase sum (periods), as torch.cumsum in float64
  int64_t k = 0, j = 0, m = 0;  // frame, sample within it, samples generated
  std::vector<double> ph_buf;  // per-segment scratch (hop_os long)
  std::vector<T_> idx_buf, pos_buf;

  // the next `count` oversampled samples (zeros past the end) into dst; with `diff`, also the
  // derivative of each sample in the table position q (hi - lo: the two tables' reads)
  void generate(T_* __restrict__ dst, int64_t count, T_* __restrict__ diff = nullptr) {
    if (int64_t(ph_buf.size()) < hop_os) {
      ph_buf.resize(hop_os); idx_buf.resize(hop_os); pos_buf.resize(hop_os);
    }
    while (count > 0) {
      if (m >= M) {
        std::fill(dst, dst + count, T_(0));
        if (diff != nullptr) std::fill(diff, diff + count, T_(0));
        return;
      }
      const int64_t kn = std::min(k + 1, F - 1), n = std::min(count, hop_os - j);
      const T_ f_now = f0[k], f_step = f0[kn] - f0[k];
      const T_ p_now = std::min(std::max(pos[k], T_(0)), T_(1));
      const T_ p_step = std::min(std::max(pos[kn], T_(0)), T_(1)) - p_now;
      // three passes: the phase (a serial float64 sum); the table coordinates; the reads and
      // interpolations, which depend on nothing in flight
      double a = acc;
      const double inv = 1.0 / scale;
      for (int64_t i = 0; i < n; ++i) {
        a += double(f_now + f_step * w[j + i]) * inv;
        ph_buf[i] = a;
      }
      int64_t done = 0;
#ifdef DDSP_AVX2
      if constexpr (std::is_same_v<T_, float>)
        if (vec) done = read_tables_avx2(ph_buf.data(), start, w + j, p_now, p_step, table, K, N, dst, n, diff);
#endif
      for (int64_t i = done; i < n; ++i) {
        const double ph = ph_buf[i] + start;
        idx_buf[i] = T_(ph - double(floor_(ph))) * T_(N);
        pos_buf[i] = (p_now + p_step * w[j + i]) * T_(K - 1);
      }
      for (int64_t i = done; i < n; ++i) {
        const T_ idx = idx_buf[i], q = pos_buf[i];
        const int32_t i0 = std::min<int32_t>(std::max<int32_t>(floor32(idx), 0), int32_t(N - 1));
        const T_ fr = idx - T_(i0);
        const int32_t k0 = std::min<int32_t>(std::max<int32_t>(floor32(q), 0), int32_t(K - 2));
        const int32_t i1 = i0 + 1 == N ? 0 : i0 + 1;  // the period wraps
        const T_* r0 = table + int64_t(k0) * N;
        const T_* r1 = r0 + N;
        const T_ lo = r0[i0] + fr * (r0[i1] - r0[i0]), hi = r1[i0] + fr * (r1[i1] - r1[i0]);
        dst[i] = lo + (q - T_(k0)) * (hi - lo);
        if (diff != nullptr) diff[i] = hi - lo;
      }
      acc = a; dst += n; count -= n; m += n; j += n;
      if (diff != nullptr) diff += n;
      if (j == hop_os) { j = 0; ++k; }
    }
  }
};

// f0, position (B, F) per frame; tables (K, N); h (L,) odd symmetric low-pass; phase0 (B,)
// float64 periods. Oversampled sample m (hop * os per frame): f0 and position interpolated as
// upsample() does, phase[m] = phase0 + sum_{i <= m} f0[i] / (sr * os) in float64, the tables read
// bilinearly (wrapping in phase), then y[n] = sum_k h[k] ypad[n * os + k] with ypad zero-padded by
// (L - 1) / 2 on both sides (a delay-compensated, decimating low-pass). Returns (B, F * hop).
at::Tensor wavetable_decimated(at::Tensor f0, at::Tensor position, at::Tensor tables,
                               at::Tensor h, int64_t sr, int64_t hop, int64_t os,
                               at::Tensor phase0) {
  TORCH_CHECK(f0.is_cpu() && f0.dim() == 2 && position.sizes() == f0.sizes() && tables.dim() == 2,
              "wavetable_decimated: f0, position (B, F), tables (K, N)");
  TORCH_CHECK(tables.size(0) >= 2 && tables.size(1) >= 1 && h.dim() == 1 && h.size(0) % 2 == 1 &&
                  os >= 1 && hop >= 1,
              "wavetable_decimated: bad tables / taps / factors");
  f0 = f0.contiguous(); position = position.contiguous(); tables = tables.contiguous();
  h = h.contiguous(); phase0 = phase0.to(at::kDouble).contiguous();
  const int64_t B = f0.size(0), F = f0.size(1), K = tables.size(0), N = tables.size(1);
  const int64_t L = os > 1 ? h.size(0) : 1, delay = (L - 1) / 2, hop_os = hop * os;
  const int64_t T = F * hop;
  auto out = at::empty({B, T}, f0.options());
  AT_DISPATCH_FLOATING_TYPES(f0.scalar_type(), "wavetable_decimated", [&] {
    using T_ = scalar_t;
    const T_* fp = f0.data_ptr<T_>(); const T_* pp = position.data_ptr<T_>();
    const T_* tp = tables.data_ptr<T_>(); const T_* hp = h.data_ptr<T_>();
    const double* p0 = phase0.data_ptr<double>(); T_* op = out.data_ptr<T_>();
    std::vector<T_> w(hop_os);
    for (int64_t j = 0; j < hop_os; ++j) w[j] = T_(j) / T_(hop_os);
    const int64_t NB = 256;  // outputs per block
    const bool vec = simd() && K * N < (int64_t(1) << 31);  // int32 gather offsets
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      std::vector<T_> buf((NB - 1) * os + L), poly(os * (NB + L / os + 2));
      for (int64_t b = b0; b < b1; ++b) {
        Oscillator<T_> osc{fp + b * F, pp + b * F, tp, w.data(), F, K, N, hop_os,
                           T * os, double(sr * os), p0[b], vec};
        T_* ob = op + b * T;
        if (os == 1) {
          osc.generate(ob, T);
          continue;
        }
        // buf holds ypad[n0 * os + i]; ypad[p] = y[p - delay] (zero outside)
        std::fill(buf.begin(), buf.begin() + delay, T_(0));
        int64_t filled = delay;
        for (int64_t n0 = 0; n0 < T; n0 += NB) {
          const int64_t nb = std::min(NB, T - n0), need = (nb - 1) * os + L;
          if (n0 > 0) {  // keep the overlap with the previous block
            std::copy(buf.begin() + NB * os, buf.begin() + filled, buf.begin());
            filled -= NB * os;
          }
          osc.generate(buf.data() + filled, need - filled);
          filled = need;
          // polyphase: poly[r][i] = buf[i * os + r], then out[i] = sum_{q, r} h[q os + r] poly[r][i + q]
          const int64_t len = (need + os - 1) / os, Q = (L + os - 1) / os;
          for (int64_t r = 0; r < os; ++r)
            for (int64_t i = 0; i < len; ++i) {
              const int64_t src = i * os + r;
              poly[r * len + i] = src < need ? buf[src] : T_(0);
            }
          T_* __restrict__ o = ob + n0;
          const int64_t done = vec ? taps_fast(o, poly.data(), len, 1, hp, L, os, nb) : 0;
          std::fill(o + done, o + nb, T_(0));
          for (int64_t q = 0; q < Q; ++q)
            for (int64_t r = 0; r < os; ++r) {
              const int64_t k = q * os + r;
              if (k >= L) break;
              axpy(o + done, hp[k], poly.data() + r * len + q + done, nb - done);
            }
        }
      }
    });
  });
  return out;
}

// y[..., n] = sum_{k < L} h[k] x[..., n - k] (x zero before its start); x (R, T), h (L,)
at::Tensor causal_fir(at::Tensor x, at::Tensor h) {
  TORCH_CHECK(x.is_cpu() && x.dim() == 2 && h.dim() == 1, "causal_fir: x (R, T), h (L,)");
  x = x.contiguous(); h = h.contiguous();
  const int64_t R = x.size(0), T = x.size(1), L = h.size(0);
  auto y = at::empty({R, T}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "causal_fir", [&] {
    using T_ = scalar_t;
    const T_* xp = x.data_ptr<T_>(); const T_* hp = h.data_ptr<T_>(); T_* yp = y.data_ptr<T_>();
    const int64_t NB = 1024;
    const bool vec = simd();
    at::parallel_for(0, R, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T_* xr = xp + r * T; T_* yr = yp + r * T;
        if (std::is_same_v<T_, float> && vec && T >= L) {
          // the first L - 1 outputs and the last few one by one (the taps in the scalar order),
          // the rest 64 at a time in registers
          auto one = [&](int64_t n) {
            T_ s = 0;
            for (int64_t k = 0; k <= std::min(n, L - 1); ++k) s += hp[k] * xr[n - k];
            yr[n] = s;
          };
          for (int64_t n = 0; n < L - 1; ++n) one(n);
          for (int64_t n = L - 1 + taps_fast(yr + L - 1, xr + L - 1, 0, -1, hp, L, 1, T - L + 1);
               n < T; ++n)
            one(n);
          continue;
        }
        for (int64_t n0 = 0; n0 < T; n0 += NB) {
          const int64_t n1 = std::min(T, n0 + NB);
          for (int64_t n = n0; n < n1; ++n) yr[n] = T_(0);
          for (int64_t k = 0; k < L; ++k) {
            const int64_t start = std::max(n0, k);
            if (start < n1) axpy(yr + start, hp[k], xr + start - k, n1 - start);
          }
        }
      }
    });
  });
  return y;
}

// log RMS over n_freqs frequencies in [0, pi] of 1 / prod_s |1 + a1 e^-jw + a2 e^-2jw|; sos (M, S, 2)
// -> (M,). In float64: mean_f 1 / prod_s P_s(w_f), one log per row. A row whose product leaves
// float64's range takes the eager op's per-section logs instead (only reachable with dozens of
// sections, or poles so near the unit circle that P_s itself is lost to cancellation).
at::Tensor biquad_log_rms_gain(at::Tensor sos, int64_t n_freqs) {
  TORCH_CHECK(sos.is_cpu() && sos.dim() == 3 && sos.size(2) == 2 && n_freqs >= 2,
              "biquad_log_rms_gain: sos (M, S, 2)");
  sos = sos.contiguous();
  const int64_t M = sos.size(0), S = sos.size(1);
  auto out = at::empty({M}, sos.options());
  std::vector<double> c1(n_freqs), c2(n_freqs);
  const double pi = 3.14159265358979323846;
  for (int64_t f = 0; f < n_freqs; ++f) {
    const double wf = pi * double(f) / double(n_freqs - 1);
    c1[f] = std::cos(wf); c2[f] = std::cos(2 * wf);
  }
  AT_DISPATCH_FLOATING_TYPES(sos.scalar_type(), "biquad_log_rms_gain", [&] {
    const scalar_t* sp = sos.data_ptr<scalar_t>(); scalar_t* op = out.data_ptr<scalar_t>();
    at::parallel_for(0, M, 16, [&](int64_t m0, int64_t m1) {
      std::vector<double> prod(n_freqs), k0(S), k1(S), k2(S);
      for (int64_t m = m0; m < m1; ++m) {
        const scalar_t* s = sp + m * S * 2;
        for (int64_t j = 0; j < S; ++j) {
          const double a1 = s[2 * j], a2 = s[2 * j + 1];
          k0[j] = 1 + a1 * a1 + a2 * a2; k1[j] = 2 * a1 * (1 + a2); k2[j] = 2 * a2;
        }
        // sections outer, frequencies inner: independent products (vector code), no chain
        std::fill(prod.begin(), prod.end(), 1.0);
        for (int64_t j = 0; j < S; ++j) {
          const double a = k0[j], b = k1[j], c = k2[j];
          for (int64_t f = 0; f < n_freqs; ++f) prod[f] *= a + b * c1[f] + c * c2[f];
        }
        double total = 0;
        for (int64_t f = 0; f < n_freqs; ++f) total += 1 / prod[f];
        if (std::isfinite(total) && total > 0) {
          op[m] = scalar_t(0.5 * std::log(total / double(n_freqs)));
          continue;
        }
        // log-sum-exp of -sum_s log P_s (the product left float64's range)
        double top = -INFINITY;
        for (int64_t f = 0; f < n_freqs; ++f) {
          double lp = 0;
          for (int64_t j = 0; j < S; ++j) lp -= std::log(k0[j] + k1[j] * c1[f] + k2[j] * c2[f]);
          prod[f] = lp; top = std::max(top, lp);
        }
        double sum = 0;
        for (int64_t f = 0; f < n_freqs; ++f) sum += std::exp(prod[f] - top);
        op[m] = scalar_t(0.5 * (top + std::log(sum / double(n_freqs))));
      }
    });
  });
  return out;
}

// The gradient of wavetable_decimated with respect to position (training; f0 and the tables take
// none): the decimating low-pass transposed (each output's gradient spread over the taps it
// read), times each oversampled sample's derivative in the table position (hi - lo, times K - 1),
// folded to the frames with upsample()'s interpolation weights in float64, and zero where
// position lies outside [0, 1] (torch.clamp's gradient). gy (B, F * hop) -> (B, F).
at::Tensor wavetable_position_backward(at::Tensor gy, at::Tensor f0, at::Tensor position,
                                       at::Tensor tables, at::Tensor h, int64_t sr, int64_t hop,
                                       int64_t os, at::Tensor phase0) {
  TORCH_CHECK(gy.is_cpu() && gy.dim() == 2 && f0.dim() == 2 && position.sizes() == f0.sizes() &&
                  gy.size(0) == f0.size(0) && gy.size(1) == f0.size(1) * hop &&
                  tables.dim() == 2 && tables.size(0) >= 2 && tables.size(1) >= 1 && os >= 1 &&
                  hop >= 1,
              "wavetable_position_backward: gy (B, F * hop), f0, position (B, F), tables (K >= 2, "
              "N >= 1)");
  gy = gy.contiguous(); f0 = f0.contiguous(); position = position.contiguous();
  tables = tables.contiguous(); h = h.contiguous(); phase0 = phase0.to(at::kDouble).contiguous();
  const int64_t B = f0.size(0), F = f0.size(1), K = tables.size(0), N = tables.size(1);
  const int64_t L = os > 1 ? h.size(0) : 1, delay = (L - 1) / 2, hop_os = hop * os;
  const int64_t T = F * hop, TO = T * os;
  auto out = at::empty({B, F}, f0.options());
  AT_DISPATCH_FLOATING_TYPES(f0.scalar_type(), "wavetable_position_backward", [&] {
    using T_ = scalar_t;
    const T_* gp = gy.data_ptr<T_>(); const T_* fp = f0.data_ptr<T_>();
    const T_* pp = position.data_ptr<T_>(); const T_* tp = tables.data_ptr<T_>();
    const T_* hp = h.data_ptr<T_>(); const double* p0 = phase0.data_ptr<double>();
    T_* op = out.data_ptr<T_>();
    std::vector<T_> w(hop_os);
    for (int64_t j = 0; j < hop_os; ++j) w[j] = T_(j) / T_(hop_os);
    const bool vec = simd() && K * N < (int64_t(1) << 31);  // int32 gather offsets
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      std::vector<T_> g(TO), y(TO), diff(TO);
      std::vector<double> acc(F);
      for (int64_t b = b0; b < b1; ++b) {
        const T_* gb = gp + b * T;
        if (os == 1) {
          std::copy(gb, gb + T, g.begin());
        } else {  // g[i] = sum_n gy[n] h[i + delay - n os]
          std::fill(g.begin(), g.end(), T_(0));
          for (int64_t n = 0; n < T; ++n) {
            const int64_t start = n * os - delay;
            const int64_t k0 = std::max<int64_t>(0, -start), k1 = std::min<int64_t>(L, TO - start);
            if (k1 > k0) axpy(g.data() + start + k0, gb[n], hp + k0, k1 - k0);
          }
        }
        Oscillator<T_> osc{fp + b * F, pp + b * F, tp, w.data(), F, K, N, hop_os,
                           TO, double(sr * os), p0[b], vec};
        osc.generate(y.data(), TO, diff.data());
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t k = 0; k < F; ++k) {
          const int64_t kn = std::min(k + 1, F - 1);
          double sum = 0, weighted = 0;  // sum of dL/dq and of dL/dq * j / hop_os
          for (int64_t j = 0; j < hop_os; ++j) {
            const int64_t i = k * hop_os + j;
            const double gq = double(g[i]) * double(diff[i]);
            sum += gq; weighted += gq * (double(j) / double(hop_os));
          }
          acc[k] += (sum - weighted) * double(K - 1);
          acc[kn] += weighted * double(K - 1);
        }
        const T_* pb = pp + b * F; T_* ob = op + b * F;
        for (int64_t k = 0; k < F; ++k)
          ob[k] = (pb[k] >= T_(0) && pb[k] <= T_(1)) ? T_(acc[k]) : T_(0);
      }
    });
  });
  return out;
}

TORCH_LIBRARY(ddsp_render, m) {
  m.def("sos_cascade(Tensor x, Tensor sos, Tensor zi, int hop) -> (Tensor, Tensor)", &sos_cascade);
  m.def("sos_cascade_saving(Tensor x, Tensor sos, int hop) -> (Tensor, Tensor)", &sos_cascade_saving);
  m.def("wavetable_decimated(Tensor f0, Tensor position, Tensor tables, Tensor h, int sr, int hop, "
        "int os, Tensor phase0) -> Tensor", &wavetable_decimated);
  m.def("wavetable_position_backward(Tensor gy, Tensor f0, Tensor position, Tensor tables, "
        "Tensor h, int sr, int hop, int os, Tensor phase0) -> Tensor", &wavetable_position_backward);
  m.def("causal_fir(Tensor x, Tensor h) -> Tensor", &causal_fir);
  m.def("simd() -> bool", &simd);
  m.def("biquad_log_rms_gain(Tensor sos, int n_freqs) -> Tensor", &biquad_log_rms_gain);
}
"""
)


def ops():
    """The compiled namespace ``torch.ops.ddsp_render``, or None (no compiler, ``DDSP_CPP=0``)."""
    from . import _fused_cpu

    return None if _fused_cpu.load() is None else torch.ops.ddsp_render


def usable(*tensors: torch.Tensor | None) -> bool:
    """True when the kernels may stand in for the eager ops: every tensor on the CPU in float32
    or float64, none needing a gradient (or grad mode off), and the extension built."""
    given = [t for t in tensors if t is not None]
    if any(t.dtype not in (torch.float32, torch.float64) or not plain_cpu(t) for t in given):
        return False
    if torch.is_grad_enabled() and any(t.requires_grad for t in given):
        return False
    return ops() is not None


def usable_with_gradient(*tensors: torch.Tensor | None) -> bool:
    """:func:`usable` with gradients allowed, for the training kernels built on these (GOLF-ss's
    cascade, unit-power gain and oscillator): the given tensors of one dtype, plain CPU float32
    or float64, and the extension built."""
    given = [t for t in tensors if t is not None]
    if len({t.dtype for t in given}) > 1:
        return False
    with torch.no_grad():
        return usable(*given)


def sos_cascade(
    x: torch.Tensor, sos: torch.Tensor, zi: torch.Tensor | None, hop_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame biquads interpolated to every sample and filtered in one pass.

    Shape: ``x (B, T)``, ``sos (B, frames, S, 2)`` with ``frames * hop_length == T``,
    ``zi (B, S, 2)`` -> ``y (B, T)``, ``zf (B, S, 2)``.
    """
    if zi is None:
        zi = x.new_zeros(x.shape[0], sos.shape[-2], 2)
    return ops().sos_cascade(x, sos.to(x.dtype), zi.to(x.dtype), hop_length)


def _oscillator_args(f0, position, tables, taps, sample_rate, hop_length, oversample, phase):
    """The oscillator kernels' arguments: every tensor in f0's dtype, the starting phase per row
    in float64 periods (zero without ``phase``)."""
    dt = f0.dtype
    phase0 = (
        torch.zeros(f0.shape[0], dtype=torch.float64)
        if phase is None
        else phase.double().expand(f0.shape[0])
    )
    args = (position.to(dt), tables.to(dt), taps.to(dt), sample_rate, hop_length, oversample)
    return (f0, *args, phase0)


def wavetable_decimated(
    f0: torch.Tensor,
    position: torch.Tensor,
    tables: torch.Tensor,
    taps: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    oversample: int,
    initial_phase: torch.Tensor | None,
) -> torch.Tensor:
    """The glottal oscillator's no-gradient path (see :func:`ddsp.synth.glottal_oscillator`).

    Shape: ``f0, position (B, frames)``, ``tables (K, N)``, ``taps (L,)``,
    ``initial_phase (B,)`` -> ``(B, frames * hop_length)``.
    """
    return ops().wavetable_decimated(
        *_oscillator_args(
            f0, position, tables, taps, sample_rate, hop_length, oversample, initial_phase
        )
    )


def wavetable_position_backward(
    grad: torch.Tensor,
    f0: torch.Tensor,
    position: torch.Tensor,
    tables: torch.Tensor,
    taps: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    oversample: int,
    initial_phase: torch.Tensor | None,
) -> torch.Tensor:
    """The gradient of :func:`wavetable_decimated` with respect to ``position`` (f0 and the
    tables take none). Shape: ``grad (B, frames * hop_length)``, the rest as there ->
    ``(B, frames)``."""
    args = _oscillator_args(
        f0, position, tables, taps, sample_rate, hop_length, oversample, initial_phase
    )
    return ops().wavetable_position_backward(grad.to(f0.dtype), *args)


def causal_fir(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``y[..., n] = sum_k h[k] x[..., n - k]``. Shape: ``x (..., T)``, ``h (L,)`` -> ``(..., T)``."""
    flat = x.reshape(-1, x.shape[-1])
    return ops().causal_fir(flat, h.to(x.dtype)).reshape(x.shape)


def biquad_log_rms_gain(sos: torch.Tensor, n_freqs: int) -> torch.Tensor:
    """See :func:`ddsp.filters.response.biquad_log_rms_gain`. Shape: ``(..., S, 2)`` -> ``(...)``."""
    lead = sos.shape[:-2]
    flat = sos.reshape(math.prod(lead), *sos.shape[-2:])
    return ops().biquad_log_rms_gain(flat, n_freqs).reshape(lead)

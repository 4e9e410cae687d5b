"""A fused CPU backward for the all-pole filter, compiled on first use (``torch.utils.cpp_extension``) under a name
that hashes what the binary depends on (:func:`build_name`).

torchlpc's kernel needs the time-shifted, time-reversed coefficients ``A[t + 1 + j, j]`` as a
contiguous ``(B, T, N)`` tensor, so a backward built on it makes at least four passes over that
much memory (skew copy, filter, ``dL/dA`` product, flip). This kernel makes two: it runs the
adjoint recursion reading ``A`` in skewed order where it lies, and writes ``dL/dA[t, :]`` in the
same loop, while ``dL/dx[t]`` is in a register:

    g[t]       = dL/dy[t] - sum_j A[t + 1 + j, j] g[t + 1 + j]      (t = T-1 ... 0)
    dL/dA[t,j] = -g[t] y[t - 1 - j]                                  (y[-1-k] = zi[k])
    dL/dzi[k]  = -sum_{j >= k} A[j - k, j] g[j - k]

The forward stays torchlpc's compiled filter. The same extension holds the decoder's inference
kernels (:mod:`ddsp.filters._render_cpu`, op namespace ``torch.ops.ddsp_render``). Built by
:mod:`ddsp._cpp` (a C++ compiler, about 20 s once per environment); without one, or with
``DDSP_CPP=0``, :func:`load` returns None and the caller keeps its torchlpc-based backward.
"""

from __future__ import annotations

import os

from .. import _cpp
from . import _render_cpu

_SOURCE = r"""
// The few ATen headers it needs, not <torch/extension.h> (torch's whole C++ API and pybind11):
// the build takes a fifth of the time. Bound as a dispatcher op (torch.ops.ddsp_allpole).
#include <ATen/core/Tensor.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros_like.h>
#include <torch/library.h>
#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>
#include <cstdlib>
#include <string>
#ifdef __linux__
#include <sys/mman.h>
#endif

// dL/dA is as large as A and written once. A fresh large allocation is page-faulted in 4 KiB
// pages on first touch, which cost more than the arithmetic (33 of 49 ms at 16 x 64,000 x 20);
// 2 MiB-aligned memory advised as huge pages cuts that to a few ms where the kernel allows it.
at::Tensor empty_huge(const at::Tensor& like) {
  const size_t bytes = like.numel() * like.element_size();
#ifdef __linux__
  const size_t huge = size_t(2) << 20;
  static const bool enabled = [] {
    const char* e = std::getenv("DDSP_HUGEPAGES");
    return e == nullptr || std::string(e) != "0";
  }();
  if (enabled && bytes >= 2 * huge) {
    void* p = nullptr;
    if (posix_memalign(&p, huge, (bytes + huge - 1) / huge * huge) == 0) {
      madvise(p, (bytes + huge - 1) / huge * huge, MADV_HUGEPAGE);
      return at::from_blob(p, like.sizes(), [](void* q) { std::free(q); }, like.options());
    }
  }
#endif
  return at::empty_like(like);
}

// One batch row. The adjoint recursion is run in "scatter" form: once g[t] is known, its
// contribution -A[t, j] g[t] is added to the pending sums of samples t-1-j, j = 0..N-1. That reads
// row t of A contiguously (a vectorisable axpy) instead of the diagonal A[t+1+j, j], and the same
// row of dL/dA is written in the same step. `row(t)` gives the coefficient row used at sample t
// (t itself, or its frame t / hop for held coefficients; dL/dA rows then accumulate per frame).
//   racc[T - 1 - i] holds the pending sum for sample i (i >= -N: i < 0 are dL/dzi);
//   yr[T - t + j] = y[t - 1 - j] (past outputs reversed, zi[k] = y[-1-k] after them).
template <typename scalar_t, typename Row>
void backward_one(const scalar_t* __restrict__ gy, const scalar_t* __restrict__ a,
                  const scalar_t* __restrict__ y, const scalar_t* __restrict__ zi,
                  scalar_t* __restrict__ gx, scalar_t* __restrict__ ga, scalar_t* __restrict__ gzi,
                  int64_t T, int64_t N, Row row, bool accumulate) {
  std::vector<scalar_t> racc(T + N, scalar_t(0)), yr(T + N);
  for (int64_t m = 0; m < T; ++m) yr[m] = y[T - 1 - m];
  for (int64_t k = 0; k < N; ++k) yr[T + k] = zi[k];
  scalar_t* __restrict__ ra = racc.data();
  const scalar_t* __restrict__ yv = yr.data();
  for (int64_t t = T - 1; t >= 0; --t) {
    const scalar_t g = gy[t] + ra[T - 1 - t];
    gx[t] = g;
    const int64_t r = row(t);
    const scalar_t* __restrict__ ar = a + r * N;
    scalar_t* __restrict__ acc = ra + (T - t);  // acc[j] <-> sample t - 1 - j
    for (int64_t j = 0; j < N; ++j) acc[j] -= ar[j] * g;
    if (ga != nullptr) {
      scalar_t* __restrict__ gr = ga + r * N;
      const scalar_t* __restrict__ yp = yv + (T - t);  // yp[j] = y[t - 1 - j]
      if (accumulate) {
        for (int64_t j = 0; j < N; ++j) gr[j] -= g * yp[j];
      } else {
        for (int64_t j = 0; j < N; ++j) gr[j] = -g * yp[j];
      }
    }
  }
  if (gzi != nullptr) {
    for (int64_t k = 0; k < N; ++k) gzi[k] = ra[T + k];
  }
}

// hop == 0: A holds one row per sample; hop > 0: one row per frame of hop samples (held).
std::tuple<at::Tensor, at::Tensor, at::Tensor> allpole_backward(
    at::Tensor gy, at::Tensor a, at::Tensor y, at::Tensor zi, int64_t hop, bool need_a,
    bool need_zi) {
  TORCH_CHECK(gy.is_cpu(), "allpole_backward: CPU only");
  gy = gy.contiguous(); a = a.contiguous(); y = y.contiguous(); zi = zi.contiguous();
  const int64_t B = a.size(0), R = a.size(1), N = a.size(2), T = gy.size(1);
  TORCH_CHECK(hop > 0 ? R * hop == T : R == T, "allpole_backward: rows of a do not cover time");
  auto gx = at::empty_like(gy);
  // per-frame gradients accumulate (zeros); per-sample rows are written once (no zero pass)
  auto ga = need_a ? (hop > 0 ? at::zeros_like(a) : empty_huge(a)) : at::Tensor();
  auto gzi = need_zi ? at::empty_like(zi) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "allpole_backward", [&] {
    const scalar_t* gyp = gy.data_ptr<scalar_t>();
    const scalar_t* ap = a.data_ptr<scalar_t>();
    const scalar_t* yp = y.data_ptr<scalar_t>();
    const scalar_t* zp = zi.data_ptr<scalar_t>();
    scalar_t* gxp = gx.data_ptr<scalar_t>();
    scalar_t* gap = need_a ? ga.data_ptr<scalar_t>() : nullptr;
    scalar_t* gzp = need_zi ? gzi.data_ptr<scalar_t>() : nullptr;
    at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        auto run = [&](auto row) {
          backward_one<scalar_t>(gyp + b * T, ap + b * R * N, yp + b * T, zp + b * N,
                                 gxp + b * T, gap ? gap + b * R * N : nullptr,
                                 gzp ? gzp + b * N : nullptr, T, N, row, hop > 0);
        };
        if (hop > 0) {
          run([hop](int64_t t) { return t / hop; });
        } else {
          run([](int64_t t) { return t; });
        }
      }
    });
  });
  return {gx, ga, gzi};
}

// The backward of the GOLF-ss vocal tract (ddsp.filters.cascade_grad; its forward is the render
// kernels' sos_cascade_saving, which keeps every section's output ys), one pass backwards in time
// through all sections (last section first):
//   g_s[t]        = g_{s+1}[t] - a1_s[t + 1] g_s[t + 1] - a2_s[t + 2] g_s[t + 2]   (g_S = dL/dy)
//   dL/da1_s[t]   = -g_s[t] y_s[t - 1],  dL/da2_s[t] = -g_s[t] y_s[t - 2]          (y_s[<0] = 0)
//   dL/dx[t]      = g_0[t]
// and each per-sample coefficient gradient goes straight to the two frames it was interpolated
// from (weights 1 - j / hop and j / hop), summed in double: (B, T) -> gx (B, T), gsos (B, F, S, 2).
std::tuple<at::Tensor, at::Tensor> sos_cascade_backward(at::Tensor gy, at::Tensor sos,
                                                        at::Tensor ys, int64_t hop) {
  TORCH_CHECK(gy.is_cpu() && gy.dim() == 2 && sos.dim() == 4 && ys.dim() == 3,
              "sos_cascade_backward: gy (B, T), sos (B, F, S, 2), ys (B, T, S)");
  gy = gy.contiguous(); sos = sos.contiguous(); ys = ys.contiguous();
  const int64_t B = gy.size(0), T = gy.size(1), F = sos.size(1), S = sos.size(2);
  TORCH_CHECK(hop > 0 && F * hop == T && ys.size(1) == T && ys.size(2) == S,
              "sos_cascade_backward: shapes do not match");
  auto gx = at::empty_like(gy);
  auto gsos = at::empty_like(sos);
  AT_DISPATCH_FLOATING_TYPES(gy.scalar_type(), "sos_cascade_backward", [&] {
    using T_ = scalar_t;
    const T_* gp = gy.data_ptr<T_>(); const T_* cp = sos.data_ptr<T_>();
    const T_* sp = ys.data_ptr<T_>();
    T_* gxp = gx.data_ptr<T_>(); T_* gsp = gsos.data_ptr<T_>();
    std::vector<T_> w(hop);
    for (int64_t j = 0; j < hop; ++j) w[j] = T_(j) / T_(hop);
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      std::vector<T_> g1(S), g2(S), a1n(S), a2n(S), a2nn(S), c1(S), d1(S), c2(S), d2(S), gs(S);
      std::vector<T_> zero(S, T_(0));
      // per section and frame: sums of dL/da and of dL/da * j / hop (the next frame's share)
      std::vector<double> acc(F * S * 2), s1(S), w1(S), s2(S), w2(S);
      for (int64_t b = b0; b < b1; ++b) {
        const T_* gb = gp + b * T; const T_* cb = cp + b * F * S * 2; const T_* sb = sp + b * T * S;
        T_* gxb = gxp + b * T;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (auto* v : {&g1, &g2, &a1n, &a2n, &a2nn}) std::fill(v->begin(), v->end(), T_(0));
        for (int64_t k = F - 1; k >= 0; --k) {
          const int64_t kn = std::min(k + 1, F - 1);
          const T_* now = cb + k * S * 2; const T_* nxt = cb + kn * S * 2;
          for (int64_t s = 0; s < S; ++s) {
            c1[s] = now[2 * s]; d1[s] = nxt[2 * s] - now[2 * s];
            c2[s] = now[2 * s + 1]; d2[s] = nxt[2 * s + 1] - now[2 * s + 1];
            s1[s] = w1[s] = s2[s] = w2[s] = 0.0;
          }
          for (int64_t j = hop - 1; j >= 0; --j) {
            const int64_t t = k * hop + j;
            const T_ wj = w[j];
            const double wd = double(j) / double(hop);
            const T_* p1 = t >= 1 ? sb + (t - 1) * S : zero.data();  // y_s[t - 1]
            const T_* p2 = t >= 2 ? sb + (t - 2) * S : zero.data();  // y_s[t - 2]
            T_ g = gb[t];
            for (int64_t s = S - 1; s >= 0; --s) {  // the chain through the sections
              g = g - a1n[s] * g1[s] - a2nn[s] * g2[s];
              gs[s] = g;
            }
            gxb[t] = g;
            for (int64_t s = 0; s < S; ++s) {  // independent across sections
              g2[s] = g1[s]; g1[s] = gs[s];
              const double ga1 = -double(gs[s]) * double(p1[s]);
              const double ga2 = -double(gs[s]) * double(p2[s]);
              s1[s] += ga1; w1[s] += ga1 * wd; s2[s] += ga2; w2[s] += ga2 * wd;
              a2nn[s] = a2n[s];
              a1n[s] = c1[s] + d1[s] * wj; a2n[s] = c2[s] + d2[s] * wj;
            }
          }
          for (int64_t s = 0; s < S; ++s) {
            acc[(k * S + s) * 2] += s1[s] - w1[s]; acc[(kn * S + s) * 2] += w1[s];
            acc[(k * S + s) * 2 + 1] += s2[s] - w2[s]; acc[(kn * S + s) * 2 + 1] += w2[s];
          }
        }
        T_* gsb = gsp + b * F * S * 2;
        for (int64_t i = 0; i < F * S * 2; ++i) gsb[i] = T_(acc[i]);
      }
    });
  });
  return {gx, gsos};
}

// The gradient of biquad_log_rms_gain (the render kernels' forward): with P_s(w) the power of
// section s's denominator, h(w) = 1 / prod_s P_s(w) and u(w) = h(w) / sum_w h(w),
//   d/dP_s(w) [1/2 log mean_w h] = -u(w) / (2 P_s(w)),
// summed over the frequencies against P_s's coefficients (1, cos w, cos 2w) and taken to a1, a2:
// sos (M, S, 2), g (M,) -> (M, S, 2), in float64. A row whose product leaves float64's range
// weights the frequencies by the log-domain softmax instead, as the forward does.
at::Tensor biquad_log_rms_gain_backward(at::Tensor sos, at::Tensor g, int64_t n_freqs) {
  TORCH_CHECK(sos.is_cpu() && sos.dim() == 3 && sos.size(2) == 2 && n_freqs >= 2 &&
                  g.dim() == 1 && g.size(0) == sos.size(0),
              "biquad_log_rms_gain_backward: sos (M, S, 2), g (M,)");
  sos = sos.contiguous(); g = g.contiguous();
  const int64_t M = sos.size(0), S = sos.size(1), N = n_freqs;
  auto out = at::empty_like(sos);
  std::vector<double> c1(N), c2(N);
  const double pi = 3.14159265358979323846;
  for (int64_t f = 0; f < N; ++f) {
    const double wf = pi * double(f) / double(N - 1);
    c1[f] = std::cos(wf); c2[f] = std::cos(2 * wf);
  }
  AT_DISPATCH_FLOATING_TYPES(sos.scalar_type(), "biquad_log_rms_gain_backward", [&] {
    const scalar_t* sp = sos.data_ptr<scalar_t>(); const scalar_t* gp = g.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    at::parallel_for(0, M, 16, [&](int64_t m0, int64_t m1) {
      std::vector<double> power(S * N), u(N), k0(S), k1(S), k2(S);
      for (int64_t m = m0; m < m1; ++m) {
        const scalar_t* s = sp + m * S * 2;
        for (int64_t j = 0; j < S; ++j) {
          const double a1 = s[2 * j], a2 = s[2 * j + 1];
          k0[j] = 1 + a1 * a1 + a2 * a2; k1[j] = 2 * a1 * (1 + a2); k2[j] = 2 * a2;
        }
        std::fill(u.begin(), u.end(), 1.0);
        for (int64_t j = 0; j < S; ++j) {
          double* pj = power.data() + j * N;
          const double a = k0[j], b = k1[j], c = k2[j];
          for (int64_t f = 0; f < N; ++f) { pj[f] = a + b * c1[f] + c * c2[f]; u[f] *= pj[f]; }
        }
        double total = 0;
        for (int64_t f = 0; f < N; ++f) { u[f] = 1 / u[f]; total += u[f]; }
        if (!(std::isfinite(total) && total > 0)) {  // the log-domain softmax of -sum_s log P_s
          double top = -INFINITY;
          for (int64_t f = 0; f < N; ++f) {
            double lp = 0;
            for (int64_t j = 0; j < S; ++j) lp -= std::log(power[j * N + f]);
            u[f] = lp; top = std::max(top, lp);
          }
          total = 0;
          for (int64_t f = 0; f < N; ++f) { u[f] = std::exp(u[f] - top); total += u[f]; }
        }
        const double scale = -0.5 * double(gp[m]) / total;
        for (int64_t j = 0; j < S; ++j) {
          const double* pj = power.data() + j * N;
          double s0 = 0, s1 = 0, s2 = 0;
          for (int64_t f = 0; f < N; ++f) {
            const double q = u[f] / pj[f];
            s0 += q; s1 += q * c1[f]; s2 += q * c2[f];
          }
          const double g0 = scale * s0, g1 = scale * s1, g2 = scale * s2;
          const double a1 = s[2 * j], a2 = s[2 * j + 1];
          op[m * S * 2 + 2 * j] = scalar_t(2 * a1 * g0 + 2 * (1 + a2) * g1);
          op[m * S * 2 + 2 * j + 1] = scalar_t(2 * a2 * g0 + 2 * a1 * g1 + 2 * g2);
        }
      }
    });
  });
  return out;
}

TORCH_LIBRARY(ddsp_allpole, m) {
  m.def("allpole_backward(Tensor gy, Tensor a, Tensor y, Tensor zi, int hop, bool need_a, "
        "bool need_zi) -> (Tensor, Tensor, Tensor)",
        &allpole_backward);
  m.def("sos_cascade_backward(Tensor gy, Tensor sos, Tensor ys, int hop) -> (Tensor, Tensor)",
        &sos_cascade_backward);
  m.def("biquad_log_rms_gain_backward(Tensor sos, Tensor g, int n_freqs) -> Tensor",
        &biquad_log_rms_gain_backward);
}
"""


def _sources() -> list[str]:
    return [_SOURCE, _render_cpu.SOURCE]


def build_name() -> str:
    """This extension's name in torch's build cache (:func:`ddsp._cpp.build_name`)."""
    return _cpp.build_name(_PREFIX, _sources())


_PREFIX = "ddsp_allpole_cpu"
_WHAT = "the fused all-pole backward and the decoder's render kernels"
_STATE: dict[str, object] = {}


def load():
    """The compiled op namespace (``.allpole_backward(gy, a, y, zi, hop, need_a, need_zi)`` ->
    ``(gx, ga, gzi)``; the render kernels in ``torch.ops.ddsp_render``), or None (no compiler,
    ``DDSP_CPP=0``; warned once)."""
    if os.environ.get("DDSP_CPP", "1") == "0":
        return None
    if "module" not in _STATE:
        import torch

        built = _cpp.load(_PREFIX, _sources(), _WHAT, "the torchlpc-based backward")
        _STATE["module"] = torch.ops.ddsp_allpole if built else None
    return _STATE["module"]


def _say_if_building(name: str) -> None:
    _cpp.say_if_building(name, _WHAT)

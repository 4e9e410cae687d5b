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

TORCH_LIBRARY(ddsp_allpole, m) {
  m.def("allpole_backward(Tensor gy, Tensor a, Tensor y, Tensor zi, int hop, bool need_a, "
        "bool need_zi) -> (Tensor, Tensor, Tensor)",
        &allpole_backward);
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

"""The two passes around the FFTs of the CQT's 2:1 decimator, in C++ (built with
:mod:`ddsp.spectral._power_cpu` into one extension, ops in ``torch.ops.ddsp_spectral``).

:func:`ddsp.spectral.functional.decimate2` runs overlap-save blocks in polyphase form: each
block's even and odd samples are FFT'd apart, and the output's spectrum is
``X_even H_odd-taps + X_odd H_even-taps``. In eager torch the blocks were a strided copy (the
deinterleave) plus padded copies of the two end blocks, and the spectrum a complex product and
a complex ``addcmul``: on 59 clips of 80,000 samples, as long together as the FFTs. Here:

- :func:`polyphase_blocks`: ``blocks[r, j, p, i] = x[r, j step - c + 2 i + p]``, zero outside
  the signal, in one pass over ``x`` (any strides);
- :func:`polyphase_mac`: ``spec[..., 0, :] * even + spec[..., 1, :] * odd`` in one pass (the
  same complex products and sum as the eager ops, ``(ac - bd, ad + bc)``).

float32 and float64. The eager ops stay for gradients and other devices, and are the
reference of the tests.
"""

from __future__ import annotations

import torch

from ..dsp import plain_cpu
from . import _power_cpu

__all__ = ["SOURCE", "usable", "polyphase_blocks", "polyphase_mac"]

SOURCE = r"""
#include <ATen/core/Tensor.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>
#include <algorithm>

template <typename T>
static void blocks_kernel(const T* x, int64_t s0, int64_t s1, int64_t R, int64_t t,
                          int64_t count, int64_t half, int64_t step, int64_t c, T* out) {
  at::parallel_for(0, R * count, 4, [&](int64_t a, int64_t b) {
    for (int64_t rj = a; rj < b; ++rj) {
      const int64_t r = rj / count, j = rj % count;
      const T* src = x + r * s0;
      T* ev = out + rj * 2 * half;  // ev[i] = x[first + 2i], od[i] = x[first + 2i + 1]
      T* od = ev + half;
      const int64_t first = j * step - c;
      // i in [lo, hi): both samples inside x; the ends one at a time
      const int64_t lo = std::min(half, first >= 0 ? int64_t(0) : (-first + 1) / 2);
      const int64_t hi = std::max(lo, std::min(half, first + 1 < t ? (t - first - 1) / 2 : 0));
      for (int64_t i = 0; i < lo; ++i) {
        const int64_t k = first + 2 * i;
        ev[i] = k >= 0 && k < t ? src[k * s1] : T(0);
        od[i] = k + 1 >= 0 && k + 1 < t ? src[(k + 1) * s1] : T(0);
      }
      if (s1 == 1) {
        const T* s = src + first;
        for (int64_t i = lo; i < hi; ++i) {
          ev[i] = s[2 * i];
          od[i] = s[2 * i + 1];
        }
      } else {
        for (int64_t i = lo; i < hi; ++i) {
          ev[i] = src[(first + 2 * i) * s1];
          od[i] = src[(first + 2 * i + 1) * s1];
        }
      }
      for (int64_t i = hi; i < half; ++i) {
        const int64_t k = first + 2 * i;
        ev[i] = k >= 0 && k < t ? src[k * s1] : T(0);
        od[i] = k + 1 >= 0 && k + 1 < t ? src[(k + 1) * s1] : T(0);
      }
    }
  });
}

at::Tensor polyphase_blocks(at::Tensor x, int64_t n, int64_t step, int64_t c) {
  TORCH_CHECK(x.is_cpu() && x.dim() == 2 && n % 2 == 0 && n > 2 * c && step > 0,
              "polyphase_blocks: x must be a (R, T) CPU tensor, n even and > 2c");
  const int64_t R = x.size(0), t = x.size(1), half = n / 2;
  const int64_t count = (t + step - 1) / step;
  at::Tensor out = at::empty({R, count, 2, half}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "polyphase_blocks", [&] {
    blocks_kernel<scalar_t>(x.data_ptr<scalar_t>(), x.stride(0), x.stride(1), R, t, count,
                            half, step, c, out.data_ptr<scalar_t>());
  });
  return out;
}

template <typename T>
static void mac_kernel(const T* spec, const T* ev, const T* od, int64_t rows, int64_t K,
                       T* out) {
  at::parallel_for(0, rows, 16, [&](int64_t a, int64_t b) {
    for (int64_t r = a; r < b; ++r) {
      const T* e = spec + r * 4 * K;  // (2, K, 2): the even samples' spectrum, then the odd
      const T* o = e + 2 * K;
      T* d = out + r * 2 * K;
      for (int64_t k = 0; k < K; ++k) {
        const T ar = e[2 * k], ai = e[2 * k + 1], br = o[2 * k], bi = o[2 * k + 1];
        const T cr = ev[2 * k], ci = ev[2 * k + 1], dr = od[2 * k], di = od[2 * k + 1];
        d[2 * k] = (ar * cr - ai * ci) + (br * dr - bi * di);
        d[2 * k + 1] = (ar * ci + ai * cr) + (br * di + bi * dr);
      }
    }
  });
}

at::Tensor polyphase_mac(at::Tensor spec, at::Tensor even, at::Tensor odd) {
  TORCH_CHECK(spec.is_cpu() && spec.dim() == 4 && spec.size(1) == 2 && spec.size(3) == 2 &&
                  spec.is_contiguous(),
              "polyphase_mac: spec must be a contiguous (rows, 2, K, 2) CPU tensor");
  const int64_t rows = spec.size(0), K = spec.size(2);
  TORCH_CHECK(even.sizes() == odd.sizes() && even.size(0) == K && even.size(1) == 2 &&
                  even.scalar_type() == spec.scalar_type() &&
                  odd.scalar_type() == spec.scalar_type(),
              "polyphase_mac: even and odd must be (K, 2) of spec's dtype");
  even = even.contiguous(); odd = odd.contiguous();
  at::Tensor out = at::empty({rows, K, 2}, spec.options());
  AT_DISPATCH_FLOATING_TYPES(spec.scalar_type(), "polyphase_mac", [&] {
    mac_kernel<scalar_t>(spec.data_ptr<scalar_t>(), even.data_ptr<scalar_t>(),
                         odd.data_ptr<scalar_t>(), rows, K, out.data_ptr<scalar_t>());
  });
  return out;
}

TORCH_LIBRARY_FRAGMENT(ddsp_spectral, m) {
  m.def("polyphase_blocks(Tensor x, int n, int step, int c) -> Tensor", &polyphase_blocks);
  m.def("polyphase_mac(Tensor spec, Tensor even, Tensor odd) -> Tensor", &polyphase_mac);
}
"""


def usable(x: torch.Tensor, h: torch.Tensor) -> bool:
    """The kernels take float32 and float64 plain CPU tensors (:func:`ddsp.dsp.plain_cpu`) when
    no gradient is asked of the signal ``x`` or the filter ``h``."""
    grad = torch.is_grad_enabled() and (x.requires_grad or h.requires_grad)
    return (
        x.dtype in (torch.float32, torch.float64)
        and not grad
        and plain_cpu(x)
        and _power_cpu.ops() is not None
    )


def polyphase_blocks(x: torch.Tensor, n: int, step: int, c: int) -> torch.Tensor:
    """``blocks[r, j, p, i] = x[r, j step - c + 2 i + p]`` (zero outside ``x``).

    Shape: ``x (R, T)`` -> ``(R, ceil(T / step), 2, n / 2)``.
    """
    return _power_cpu.ops().polyphase_blocks(x, n, step, c)


def polyphase_mac(spec: torch.Tensor, even: torch.Tensor, odd: torch.Tensor) -> torch.Tensor:
    """``spec[:, 0] * even + spec[:, 1] * odd``.

    Shape: contiguous complex ``spec (rows, 2, K)``, ``even, odd (K,)`` -> ``(rows, K)``.
    """
    out = _power_cpu.ops().polyphase_mac(
        torch.view_as_real(spec), torch.view_as_real(even), torch.view_as_real(odd)
    )
    return torch.view_as_complex(out)

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

Where torch's library exports MKL's FFT (:mod:`ddsp.spectral._mkl_cpu`), float32 takes
:func:`decimate_fused` instead: each block gathered, its two FFTs (plans kept), the product,
the inverse FFT and the wrap-free part written to the output, all in one task's cache, with
the same bits as the two passes around torch's FFTs. On 59 clips of 80,000 samples (a 2-core
Xeon, one thread) the blocks, spectra and inverse FFTs' outputs had made the decimation ~3x
its FFTs' time; it is now at them (the CQT's seven decimations: about 25 of its 64 ms).
"""

from __future__ import annotations

import torch

from ..dsp import plain_cpu
from . import _mkl_cpu, _power_cpu

__all__ = ["SOURCE", "usable", "fusable", "decimate_fused", "polyphase_blocks", "polyphase_mac"]

SOURCE = (
    _mkl_cpu.HEADER
    + r"""
#include <ATen/core/Tensor.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

// ev[i] = x[first + 2i], od[i] = x[first + 2i + 1] for i < half (zero outside x's t samples,
// s1 apart)
template <typename T>
static void gather_block(const T* src, int64_t s1, int64_t t, int64_t first, int64_t half,
                         T* ev, T* od) {
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

template <typename T>
static void blocks_kernel(const T* x, int64_t s0, int64_t s1, int64_t R, int64_t t,
                          int64_t count, int64_t half, int64_t step, int64_t c, T* out) {
  at::parallel_for(0, R * count, 4, [&](int64_t a, int64_t b) {
    for (int64_t rj = a; rj < b; ++rj) {
      const int64_t r = rj / count, j = rj % count;
      T* ev = out + rj * 2 * half;
      gather_block(x + r * s0, s1, t, j * step - c, half, ev, ev + half);
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

// d = e * ev + o * od over K complex bins (interleaved re, im): the eager ops' products and sum
template <typename T>
static inline void mac_row(const T* e, const T* o, const T* ev, const T* od, int64_t K, T* d) {
  for (int64_t k = 0; k < K; ++k) {
    const T ar = e[2 * k], ai = e[2 * k + 1], br = o[2 * k], bi = o[2 * k + 1];
    const T cr = ev[2 * k], ci = ev[2 * k + 1], dr = od[2 * k], di = od[2 * k + 1];
    d[2 * k] = (ar * cr - ai * ci) + (br * dr - bi * di);
    d[2 * k + 1] = (ar * ci + ai * cr) + (br * di + bi * dr);
  }
}

template <typename T>
static void mac_kernel(const T* spec, const T* ev, const T* od, int64_t rows, int64_t K,
                       T* out) {
  at::parallel_for(0, rows, 16, [&](int64_t a, int64_t b) {
    for (int64_t r = a; r < b; ++r) {
      const T* e = spec + r * 4 * K;  // (2, K, 2): the even samples' spectrum, then the odd
      mac_row(e, e + 2 * K, ev, od, K, out + r * 2 * K);
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

// decimate2 whole: each block (r, j) gathered, its two half-length real FFTs (MKL, plans kept),
// the spectra's product with the filter's, the inverse FFT and the wrap-free part written to
// y[r, j step / 2 ...], all in one task's cache; the same operations as polyphase_blocks, rfft,
// polyphase_mac, irfft and the slice
at::Tensor decimate_fused(at::Tensor x, int64_t n, int64_t step, int64_t c, at::Tensor even,
                          at::Tensor odd) {
  TORCH_CHECK(ddsp_mkl::available(), "ddsp_spectral: torch's library exports no MKL FFT here");
  TORCH_CHECK(x.is_cpu() && x.dim() == 2 && x.scalar_type() == at::kFloat && n % 4 == 0 &&
                  n > 2 * c && step > 0 && step % 2 == 0 && c + step / 2 <= n / 2,
              "decimate_fused: x must be a float32 (R, T) CPU tensor, n a multiple of 4 and > 2c");
  const int64_t R = x.size(0), t = x.size(1), half = n / 2, K = half / 2 + 1;
  TORCH_CHECK(even.sizes() == odd.sizes() && even.dim() == 2 && even.size(0) == K &&
                  even.size(1) == 2 && even.scalar_type() == at::kFloat &&
                  odd.scalar_type() == at::kFloat,
              "decimate_fused: even and odd must be float32 (", K, ", 2)");
  even = even.contiguous(); odd = odd.contiguous();
  const int64_t count = (t + step - 1) / step, len = (t + 1) / 2, keep = step / 2;
  at::Tensor y = at::empty({R, len}, x.options());
  const float* xs = x.data_ptr<float>();
  const float *ev = even.data_ptr<float>(), *od = odd.data_ptr<float>();
  float* ys = y.data_ptr<float>();
  const int64_t s0 = x.stride(0), s1 = x.stride(1);
  std::atomic<long> failed{0};
  at::parallel_for(0, R * count, 1, [&](int64_t a, int64_t b) {
    std::vector<float> blk(2 * half), spec(4 * K), prod(2 * K), out(half);
    void* fwd = ddsp_mkl::plan(half, 2, half);
    void* bwd = ddsp_mkl::plan_c2r(half, 1, half);
    for (int64_t rj = a; rj < b; ++rj) {
      const int64_t r = rj / count, j = rj % count;
      gather_block(xs + r * s0, s1, t, j * step - c, half, blk.data(), blk.data() + half);
      long s = ddsp_mkl::forward(fwd, blk.data(), spec.data());
      mac_row(spec.data(), spec.data() + 2 * K, ev, od, K, prod.data());
      if (s == 0) s = ddsp_mkl::backward(bwd, prod.data(), out.data());
      if (s != 0) {
        failed = s;
        return;
      }
      const int64_t m0 = j * keep, cnt = std::min(keep, len - m0);
      std::memcpy(ys + r * len + m0, out.data() + c, cnt * sizeof(float));
    }
  });
  TORCH_CHECK(failed == 0, "ddsp_spectral: MKL FFT failed (status ", long(failed), ")");
  return y;
}

TORCH_LIBRARY_FRAGMENT(ddsp_spectral, m) {
  m.def("decimate_fused(Tensor x, int n, int step, int c, Tensor even, Tensor odd) -> Tensor",
        &decimate_fused);
  m.def("polyphase_blocks(Tensor x, int n, int step, int c) -> Tensor", &polyphase_blocks);
  m.def("polyphase_mac(Tensor spec, Tensor even, Tensor odd) -> Tensor", &polyphase_mac);
}
"""
)


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


def fusable(x: torch.Tensor, h: torch.Tensor) -> bool:
    """:func:`decimate_fused` takes ``x``: :func:`usable`, float32, and torch's library exports
    MKL's FFT (:func:`ddsp.spectral._mkl_cpu.available`)."""
    return x.dtype == torch.float32 and usable(x, h) and _mkl_cpu.available()


def decimate_fused(
    x: torch.Tensor, n: int, step: int, c: int, even: torch.Tensor, odd: torch.Tensor
) -> torch.Tensor:
    """:func:`ddsp.spectral.functional.decimate2`'s blocks, FFTs, product, inverse FFTs and
    wrap-free slice in one pass: each block in one task's cache, MKL's plans kept. Needs
    :func:`fusable`.

    Shape: ``x (R, T)`` float32, ``even, odd (n // 4 + 1,)`` complex64 (the filter's even and
    odd taps' spectra) -> ``(R, ceil(T / 2))``.
    """
    return _power_cpu.ops().decimate_fused(
        x, n, step, c, torch.view_as_real(even), torch.view_as_real(odd)
    )

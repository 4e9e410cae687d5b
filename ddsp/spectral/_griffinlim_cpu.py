"""Fast Griffin-Lim's per-iteration update in one C++ pass (built with
:mod:`ddsp.spectral._power_cpu` into one extension, ops in ``torch.ops.ddsp_spectral``).

:func:`ddsp.spectral.functional.griffinlim` rebuilds the spectrum ``|S| a / (|a| + eps)``,
``a = rebuilt - c previous``, once per iteration. As torch ops that is a sum, a complex
modulus (``std::abs``, that is ``hypot``, element by element: 6 ms for 0.9 M bins on one thread
here), a division and a product broadcast over the real and imaginary parts, each a pass over
the spectrum. Here it is one pass: the modulus as ``sqrt(re^2 + im^2)`` where that square is a
normal, finite number (then within an ulp of ``hypot``), and ``hypot`` for the rest (tiny,
huge or non-finite values), in a second look at the flagged bins only. float32 and float64,
bins in one memory order for all three tensors (the STFT's frame-major layout, which the
inverse STFT reads without a copy).
"""

from __future__ import annotations

import torch

from ..dsp import empty_huge, plain_cpu
from . import _power_cpu

__all__ = ["SOURCE", "usable", "step"]

SOURCE = r"""
#include <ATen/core/Tensor.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <cmath>
#include <limits>

// the main loop over bins [a, b): the modulus by sqrt of the square; returns how many squares
// were not normal, finite numbers (gl_step_kernel redoes those bins with hypot). No errno for sqrt (its
// argument is never negative; NaN passes through), so that the loop vectorises.
template <typename T>
__attribute__((optimize("no-math-errno"))) static int64_t main_loop(
    const T* __restrict r, const T* __restrict p, const T* __restrict m, T c, T eps, int64_t a,
    int64_t b, T* __restrict out) {
  const T lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  int64_t flagged = 0;
  if (p) {
    for (int64_t i = a; i < b; ++i) {
      const T re = r[2 * i] - c * p[2 * i], im = r[2 * i + 1] - c * p[2 * i + 1];
      const T s2 = re * re + im * im;
      flagged += !(s2 >= lo && s2 <= hi);
      const T scale = m[i] / (std::sqrt(s2) + eps);
      out[2 * i] = re * scale;
      out[2 * i + 1] = im * scale;
    }
  } else {
    for (int64_t i = a; i < b; ++i) {
      const T re = r[2 * i], im = r[2 * i + 1];
      const T s2 = re * re + im * im;
      flagged += !(s2 >= lo && s2 <= hi);
      const T scale = m[i] / (std::sqrt(s2) + eps);
      out[2 * i] = re * scale;
      out[2 * i + 1] = im * scale;
    }
  }
  return flagged;
}

template <typename T>
static void gl_step_kernel(const T* r, const T* p, const T* m, T c, T eps, int64_t n, T* out) {
  const T lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  at::parallel_for(0, n, 8192, [&](int64_t a, int64_t b) {
    if (main_loop(r, p, m, c, eps, a, b, out) == 0) return;
    for (int64_t i = a; i < b; ++i) {  // tiny, huge or non-finite: the modulus by hypot
      T re = r[2 * i], im = r[2 * i + 1];
      if (p) {
        re = re - c * p[2 * i];
        im = im - c * p[2 * i + 1];
      }
      const T s2 = re * re + im * im;
      if (s2 >= lo && s2 <= hi) continue;
      const T scale = m[i] / (std::hypot(re, im) + eps);
      out[2 * i] = re * scale;
      out[2 * i + 1] = im * scale;
    }
  });
}

// out = m a / (|a| + eps), a = rebuilt - c previous (previous empty: a = rebuilt); rebuilt,
// previous and out (n, 2) real views of complex tensors, m (n,), all contiguous
void griffinlim_step(at::Tensor rebuilt, at::Tensor previous, at::Tensor m, double c,
                     double eps, at::Tensor out) {
  TORCH_CHECK(rebuilt.is_cpu() && rebuilt.is_contiguous() && rebuilt.dim() == 2 &&
                  rebuilt.size(1) == 2 && m.is_contiguous() && m.dim() == 1 &&
                  m.size(0) == rebuilt.size(0) && m.scalar_type() == rebuilt.scalar_type(),
              "griffinlim_step: rebuilt must be a contiguous (n, 2) CPU tensor, m (n,) of its dtype");
  const bool has_prev = previous.numel() > 0;
  if (has_prev)
    TORCH_CHECK(previous.sizes() == rebuilt.sizes() && previous.is_contiguous() &&
                    previous.scalar_type() == rebuilt.scalar_type(),
                "griffinlim_step: previous must be empty or like rebuilt");
  TORCH_CHECK(out.sizes() == rebuilt.sizes() && out.is_contiguous() &&
                  out.scalar_type() == rebuilt.scalar_type(),
              "griffinlim_step: out must be like rebuilt");
  AT_DISPATCH_FLOATING_TYPES(rebuilt.scalar_type(), "griffinlim_step", [&] {
    gl_step_kernel<scalar_t>(rebuilt.data_ptr<scalar_t>(),
                             has_prev ? previous.data_ptr<scalar_t>() : nullptr,
                             m.data_ptr<scalar_t>(), scalar_t(c), scalar_t(eps), m.size(0),
                             out.data_ptr<scalar_t>());
  });
}

TORCH_LIBRARY_FRAGMENT(ddsp_spectral, m) {
  m.def("griffinlim_step(Tensor rebuilt, Tensor previous, Tensor m, float c, float eps, "
        "Tensor(a!) out) -> ()", &griffinlim_step);
}
"""


def _frame_major(z: torch.Tensor) -> torch.Tensor | None:
    """``z (..., F, T)`` as its contiguous ``(-1, T, F)`` storage, or None if it is not laid out
    that way."""
    zt = z.reshape(-1, *z.shape[-2:]).transpose(-1, -2)
    return zt if zt.is_contiguous() else None


def usable(magnitude: torch.Tensor, rebuilt: torch.Tensor, previous: torch.Tensor | None) -> bool:
    """The kernel takes float32 / float64 plain CPU tensors with no gradient asked, ``rebuilt``
    and ``previous`` complex of ``magnitude``'s precision and shape, frame-major (the STFT's
    layout)."""
    grad = torch.is_grad_enabled() and (
        magnitude.requires_grad
        or rebuilt.requires_grad
        or (previous is not None and previous.requires_grad)
    )
    want = {torch.float32: torch.complex64, torch.float64: torch.complex128}.get(magnitude.dtype)
    return (
        not grad
        and rebuilt.shape == magnitude.shape
        and rebuilt.dtype == want
        and (previous is None or previous.dtype == want)
        and plain_cpu(magnitude)
        and plain_cpu(rebuilt)
        and _frame_major(rebuilt) is not None
        and (previous is None or _frame_major(previous) is not None)
        and _power_cpu.ops() is not None
    )


def step(
    magnitude_t: torch.Tensor,
    rebuilt: torch.Tensor,
    previous: torch.Tensor | None,
    c: float,
    eps: float,
) -> torch.Tensor:
    """``|S| a / (|a| + eps)``, ``a = rebuilt - c previous``, in one pass. Needs :func:`usable`.

    Shape: ``magnitude_t (B, T, F)`` contiguous (the magnitude frame-major), ``rebuilt,
    previous (..., F, T)`` complex frame-major -> ``(..., F, T)`` complex, frame-major.
    """
    rt = _frame_major(rebuilt)
    pt = _frame_major(previous) if previous is not None else None
    none = torch.empty(0, 2, dtype=magnitude_t.dtype)
    out = empty_huge(*rt.shape, dtype=rt.dtype, recycle=True)  # faulted in once per size
    _power_cpu.ops().griffinlim_step(
        torch.view_as_real(rt).reshape(-1, 2),
        torch.view_as_real(pt).reshape(-1, 2) if pt is not None else none,
        magnitude_t.reshape(-1),
        float(c),
        float(eps),
        torch.view_as_real(out).view(-1, 2),
    )
    return out.transpose(-1, -2).reshape(rebuilt.shape)

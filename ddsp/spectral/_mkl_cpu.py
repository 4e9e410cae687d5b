"""Real FFTs of frames through MKL with a remembered plan (built with
:mod:`ddsp.spectral._power_cpu` into one extension, ops in ``torch.ops.ddsp_spectral``).

torch's CPU FFT (MKL's DFTI, ``aten/src/ATen/native/mkl/SpectralOps.cpp``) creates and commits
a new descriptor on every call, and the commit computes the transform's twiddles: measured here
(a 2-core Xeon, one thread) a call on one frame of 2048 samples took 47 us, on 160 frames 290
us, of which the 160 transforms alone take about 250 us. :func:`rfft_frames` keeps the
committed descriptors (per OS thread, the last 16 shapes) and runs the same MKL transform, so
its spectra equal ``torch.fft.rfft``'s bit for bit. The STFT power path's C++ pass
(:mod:`ddsp.spectral._framed_cpu`) calls the same plans from C++ (``ddsp_mkl::plan``), a block
of frames at a time. :func:`fft_rows` does the same for complex FFTs and their inverses (every
norm), which the paired odd-length real FFTs of :mod:`ddsp.spectral._rfft` run a block at a
time: torch's commit took 41 / 95 / 153 us for 509 / 1021 / 2053 samples here, on blocks whose
transforms take 0.2-2 ms.

The MKL entry points are those torch's own library exports; they are declared weak, so where
torch has no MKL (other platforms, other builds) :func:`available` is False and the callers keep
``torch.fft.rfft``. The descriptors take MKL's thread count as torch's FFT does (torch sets it
with ``torch.set_num_threads``).
"""

from __future__ import annotations

import torch

from ..dsp import plain_cpu
from . import _power_cpu

__all__ = ["SOURCE", "HEADER", "available", "rfft_frames", "fft_rows", "planned"]

# what the other C++ sources of the extension declare to call the kept plans
HEADER = r"""
#include <cstdint>

namespace ddsp_mkl {  // ddsp.spectral._mkl_cpu
bool available();
void* plan(int64_t n, int64_t howmany, int64_t idist);
void* plan_c2r(int64_t n, int64_t howmany, int64_t odist);
long forward(void* plan, const float* in, void* out);
long backward(void* plan, const void* in, float* out);
}  // namespace ddsp_mkl
"""

SOURCE = r"""
#include <ATen/core/Tensor.h>
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <array>
#include <memory>
#include <vector>

// MKL's DFTI C interface (mkl_dfti.h: its enum values are part of MKL's ABI), as torch's
// libtorch_cpu exports it; weak, so that a torch without MKL leaves them null
extern "C" {
#if defined(__linux__)
__attribute__((weak)) long DftiCreateDescriptor_s_1d(void** handle, int domain, ...);
__attribute__((weak)) long DftiSetValue(void* handle, int param, ...);
__attribute__((weak)) long DftiCommitDescriptor(void* handle);
__attribute__((weak)) long DftiComputeForward(void* handle, void* in, ...);
__attribute__((weak)) long DftiComputeBackward(void* handle, void* in, ...);
__attribute__((weak)) long DftiFreeDescriptor(void** handle);
#endif
}

namespace {
enum : int {
  kForwardScale = 4, kBackwardScale = 5, kNumberOfTransforms = 7, kConjugateEvenStorage = 10,
  kPlacement = 11, kInputDistance = 14, kOutputDistance = 15, kComplex = 32, kReal = 33,
  kComplexComplex = 39, kNotInplace = 44
};

bool mkl_available() {
#if defined(__linux__)
  return DftiCreateDescriptor_s_1d && DftiSetValue && DftiCommitDescriptor &&
         DftiComputeForward && DftiComputeBackward && DftiFreeDescriptor;
#else
  return false;
#endif
}

#if defined(__linux__)
// a committed descriptor: `howmany` FFTs of n samples, of one of three kinds: real ones
// (kR2C) from inputs `idist` apart into spectra of n / 2 + 1 complex bins one after the other
// (what torch's _plan_mkl_fft sets for rfft); complex ones (kC2C) from and into rows of n bins;
// or the inverse real ones (kC2R) from spectra of n / 2 + 1 bins one after the other into
// outputs `idist` apart (torch's irfft); the forward transform scaled by `fwd` and the
// backward one by `bwd` (torch's norm modes)
enum Kind : int { kR2C = 0, kC2C = 1, kC2R = 2 };

struct Plan {
  std::array<double, 7> key;
  void* handle = nullptr;
  Plan(const std::array<double, 7>& k) : key(k) {
    const int64_t n = int64_t(k[0]), howmany = int64_t(k[1]), idist = int64_t(k[2]);
    const int kind = int(k[4]);
    const bool complex = kind == kC2C;
    const double fwd = k[5], bwd = k[6];
    const long bins = complex ? long(n) : long(n / 2 + 1);
    long s = DftiCreateDescriptor_s_1d(&handle, complex ? kComplex : kReal, long(n));
    TORCH_CHECK(s == 0 && handle, "ddsp_spectral: MKL descriptor for n = ", n, " (status ", s, ")");
    s = DftiSetValue(handle, kPlacement, kNotInplace);
    if (s == 0) s = DftiSetValue(handle, kNumberOfTransforms, long(howmany));
    if (s == 0) s = DftiSetValue(handle, kInputDistance, kind == kC2R ? bins : long(idist));
    if (s == 0) s = DftiSetValue(handle, kOutputDistance, kind == kC2R ? long(idist) : bins);
    if (s == 0 && !complex) s = DftiSetValue(handle, kConjugateEvenStorage, kComplexComplex);
    if (s == 0 && fwd != 1.0) s = DftiSetValue(handle, kForwardScale, fwd);
    if (s == 0 && bwd != 1.0) s = DftiSetValue(handle, kBackwardScale, bwd);
    if (s == 0) s = DftiCommitDescriptor(handle);
    if (s != 0) DftiFreeDescriptor(&handle);
    TORCH_CHECK(s == 0, "ddsp_spectral: MKL plan of ", howmany, " FFTs of ", n, " samples ",
                idist, " apart (status ", s, ")");
  }
  ~Plan() {
    if (handle) DftiFreeDescriptor(&handle);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
};
#endif
}  // namespace

// used by ddsp.spectral._framed_cpu too (another translation unit)
namespace ddsp_mkl {
bool available() { return mkl_available(); }

#if defined(__linux__)
// this thread's last plans, most recent last (a descriptor is never shared between threads)
void* plan_of(int64_t n, int64_t howmany, int64_t idist, int kind, double fwd, double bwd) {
  thread_local std::vector<std::unique_ptr<Plan>> plans;
  const std::array<double, 7> key{double(n), double(howmany), double(idist),
                                  double(at::get_num_threads()), double(kind), fwd, bwd};
  for (size_t i = 0; i < plans.size(); ++i)
    if (plans[i]->key == key) {
      std::unique_ptr<Plan> p = std::move(plans[i]);
      plans.erase(plans.begin() + i);
      plans.push_back(std::move(p));
      return plans.back()->handle;
    }
  if (plans.size() >= 16) plans.erase(plans.begin());
  plans.push_back(std::make_unique<Plan>(key));
  return plans.back()->handle;
}

// the plan of `howmany` real FFTs of n samples idist apart
void* plan(int64_t n, int64_t howmany, int64_t idist) {
  return plan_of(n, howmany, idist, kR2C, 1.0, 1.0);
}

// the plan of `howmany` inverse real FFTs of n samples from spectra one after the other into
// outputs odist apart, scaled by 1 / n (torch.fft.irfft's default norm)
void* plan_c2r(int64_t n, int64_t howmany, int64_t odist) {
  return plan_of(n, howmany, odist, kC2R, 1.0, 1.0 / double(n));
}

// the real FFTs of `plan` from in to out; returns MKL's status (0: done)
long forward(void* plan, const float* in, void* out) {
  return DftiComputeForward(plan, const_cast<float*>(in), out);
}

// the inverse real FFTs of `plan` (plan_c2r) from in to out; returns MKL's status (0: done)
long backward(void* plan, const void* in, float* out) {
  return DftiComputeBackward(plan, const_cast<void*>(in), out);
}
#endif
}  // namespace ddsp_mkl

namespace {

// out[f] = rfft(x[f * hop : f * hop + n]) for f < frames: x a contiguous float32 CPU tensor
// holding them, out (frames, n / 2 + 1) complex64 contiguous
void mkl_rfft_frames(at::Tensor x, int64_t frames, int64_t n, int64_t hop, at::Tensor out) {
  TORCH_CHECK(mkl_available(), "ddsp_spectral: torch's library exports no MKL FFT here");
  TORCH_CHECK(x.is_cpu() && x.scalar_type() == at::kFloat && x.is_contiguous(),
              "ddsp_spectral: x must be a contiguous float32 CPU tensor");
  TORCH_CHECK(frames >= 1 && n >= 1 && hop >= 1 && (frames - 1) * hop + n <= x.numel(),
              "ddsp_spectral: ", frames, " frames of ", n, " samples ", hop, " apart need ",
              (frames - 1) * hop + n, " samples, x has ", x.numel());
  TORCH_CHECK(out.is_cpu() && out.scalar_type() == at::kComplexFloat && out.is_contiguous() &&
                  out.dim() == 2 && out.size(0) == frames && out.size(1) == n / 2 + 1,
              "ddsp_spectral: out must be a contiguous complex64 (", frames, ", ", n / 2 + 1,
              ") CPU tensor");
#if defined(__linux__)
  const long s = ddsp_mkl::forward(ddsp_mkl::plan(n, frames, hop), x.data_ptr<float>(),
                                   out.data_ptr());
  TORCH_CHECK(s == 0, "ddsp_spectral: MKL FFT failed (status ", s, ")");
#endif
}

// out = the complex FFT (inverse: the backward one) of each row of z (R, n) complex64, the
// forward transform scaled by fwd and the backward one by bwd (torch's norm modes)
void mkl_fft_rows(at::Tensor z, bool inverse, double fwd, double bwd, at::Tensor out) {
  TORCH_CHECK(mkl_available(), "ddsp_spectral: torch's library exports no MKL FFT here");
  TORCH_CHECK(z.is_cpu() && z.scalar_type() == at::kComplexFloat && z.is_contiguous() &&
                  z.dim() == 2 && z.size(0) >= 1 && z.size(1) >= 1,
              "ddsp_spectral: z must be a contiguous complex64 (R, n) CPU tensor, R, n >= 1");
  TORCH_CHECK(out.is_cpu() && out.scalar_type() == at::kComplexFloat && out.is_contiguous() &&
                  out.sizes() == z.sizes(),
              "ddsp_spectral: out must be a contiguous complex64 tensor of z's shape");
#if defined(__linux__)
  const int64_t n = z.size(1);
  void* p = ddsp_mkl::plan_of(n, z.size(0), n, kC2C, fwd, bwd);
  const long s = inverse ? DftiComputeBackward(p, z.data_ptr(), out.data_ptr())
                         : DftiComputeForward(p, z.data_ptr(), out.data_ptr());
  TORCH_CHECK(s == 0, "ddsp_spectral: MKL FFT failed (status ", s, ")");
#endif
}
}  // namespace

TORCH_LIBRARY_FRAGMENT(ddsp_spectral, m) {
  m.def("mkl_available() -> bool", &mkl_available);
  m.def("mkl_fft_rows(Tensor z, bool inverse, float fwd, float bwd, Tensor(a!) out) -> ()",
        &mkl_fft_rows);
  m.def("mkl_rfft_frames(Tensor x, int frames, int n, int hop, Tensor(a!) out) -> ()",
        &mkl_rfft_frames);
}
"""


def available() -> bool:
    """Whether :func:`rfft_frames` runs: the extension is built and torch's library exports
    MKL's FFT."""
    ops = _power_cpu.ops()
    return ops is not None and bool(ops.mkl_available())


def rfft_frames(x: torch.Tensor, frames: int, n: int, hop: int, out: torch.Tensor) -> torch.Tensor:
    """``out = torch.fft.rfft(x.as_strided((frames, n), (hop, 1)))``, with the plan remembered
    (same values, bit for bit). Needs :func:`available`.

    Shape: contiguous float32 ``x`` (any shape, at least ``(frames - 1) hop + n`` samples) ->
    into contiguous complex64 ``out (frames, n // 2 + 1)``; returns ``out``.
    """
    if not (plain_cpu(x) and plain_cpu(out)):
        raise ValueError("rfft_frames: x and out must be plain CPU tensors")
    _power_cpu.ops().mkl_rfft_frames(x, frames, n, hop, out)
    return out


_SCALES = {"backward": lambda n: (1.0, 1.0 / n), "ortho": lambda n: (n**-0.5, n**-0.5), "forward": lambda n: (1.0 / n, 1.0)}  # fmt: skip


def planned(z: torch.Tensor) -> bool:
    """Whether :func:`fft_rows` takes ``z``: :func:`available`, and ``z`` a plain contiguous
    complex64 CPU tensor of at least one row of at least one sample, no gradient asked of it."""
    return (
        z.dtype == torch.complex64
        and not (z.requires_grad and torch.is_grad_enabled())
        and z.dim() == 2
        and z.numel() > 0
        and plain_cpu(z)
        and z.is_contiguous()
        and available()
    )


def fft_rows(z: torch.Tensor, inverse: bool = False, norm: str | None = None) -> torch.Tensor:
    """``torch.fft.fft(z, norm=norm)`` (``inverse``: ``torch.fft.ifft``) over the rows, with the
    plan remembered (same values, bit for bit: the same MKL descriptor torch makes on every
    call, kept). Needs :func:`planned`.

    Shape: ``z (R, n)`` complex64 contiguous -> a new ``(R, n)``.
    """
    if norm not in (None, "backward", "ortho", "forward"):
        raise ValueError(f"norm must be 'backward', 'ortho' or 'forward', got {norm!r}")
    fwd, bwd = _SCALES[norm or "backward"](z.shape[-1])
    out = torch.empty_like(z)
    _power_cpu.ops().mkl_fft_rows(z, inverse, fwd, bwd, out)
    return out

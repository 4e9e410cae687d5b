"""The inverse STFT's frames and overlap-add in C++ (built with
:mod:`ddsp.spectral._power_cpu` into one extension, ops in ``torch.ops.ddsp_spectral``).

:func:`ddsp.spectral.functional.istft` as torch ops is an inverse FFT of every frame, the
frames times the window, their overlap-add (one strided in-place add per group of
non-overlapping frames, :func:`ddsp.dsp.overlap_add`), and the division by the window's
squared sum: five passes over the frames or the signal, and on 4 clips of 5 s (n_fft 1024, hop
256) about half of each Griffin-Lim iteration. Here, without gradients, in float32 where
torch's library exports MKL's FFT (:mod:`ddsp.spectral._mkl_cpu`):

1. each block of frames through MKL's inverse real FFT (plans kept), times the window, into a
   frames buffer (recycled huge pages), in parallel over clips and blocks;
2. each run of ``hop`` output samples summed from the frames that cover it, in the order
   :func:`ddsp.dsp.overlap_add` adds them (frame index modulo ``ceil(n_fft / hop)``, from zero),
   then divided by the window sum, or zero where the eager path zeroes it.

The same operations in the same order: the same bits as the eager path.
"""

from __future__ import annotations

import torch

from ..dsp import empty_huge, plain_cpu
from . import _mkl_cpu, _power_cpu

__all__ = ["SOURCE", "usable", "istft_frames"]

SOURCE = (
    _mkl_cpu.HEADER
    + r"""
#include <ATen/core/Tensor.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>
#include <algorithm>
#include <atomic>
#include <vector>

namespace {
// y[b, i] (i < length) = sum over the frames f covering s = start + i of frames[b, f, s - f hop]
// (frames = irfft(z[b, f], n) * w), added from zero in the order of f mod k (k = ceil(n / hop)),
// then divided by wsum[i] where ok[i], else 0
void istft_ola(at::Tensor z, at::Tensor w, at::Tensor frames, at::Tensor wsum, at::Tensor ok,
               at::Tensor y, int64_t n, int64_t hop, int64_t start, int64_t block) {
  TORCH_CHECK(ddsp_mkl::available(), "ddsp_spectral: torch's library exports no MKL FFT here");
  TORCH_CHECK(z.is_cpu() && z.scalar_type() == at::kComplexFloat && z.is_contiguous() &&
                  z.dim() == 3 && z.size(2) == n / 2 + 1 && n >= 1 && hop >= 1 && block >= 1,
              "istft_ola: z must be a contiguous complex64 (B, T, n / 2 + 1) CPU tensor");
  const int64_t B = z.size(0), T = z.size(1), length = y.size(1);
  TORCH_CHECK(w.scalar_type() == at::kFloat && w.is_contiguous() && w.numel() == n,
              "istft_ola: w must be a contiguous float32 (n,) tensor");
  TORCH_CHECK(frames.scalar_type() == at::kFloat && frames.is_contiguous() &&
                  frames.numel() == B * T * n,
              "istft_ola: frames must be a contiguous float32 buffer of B T n samples");
  TORCH_CHECK(y.scalar_type() == at::kFloat && y.is_contiguous() && y.dim() == 2 &&
                  y.size(0) == B && wsum.scalar_type() == at::kFloat && wsum.is_contiguous() &&
                  wsum.numel() == length && ok.scalar_type() == at::kBool &&
                  ok.is_contiguous() && ok.numel() == length && start >= 0,
              "istft_ola: y (B, length) float32, wsum (length,) float32, ok (length,) bool");
  const float* ws = w.data_ptr<float>();
  float* fs = frames.data_ptr<float>();
  const int64_t per = (T + block - 1) / block, bins = n / 2 + 1;
  std::atomic<long> failed{0};
  at::parallel_for(0, B * per, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t b = it / per, f0 = (it % per) * block, f1 = std::min(T, f0 + block);
      float* dst = fs + (b * T + f0) * n;
      const long s = ddsp_mkl::backward(ddsp_mkl::plan_c2r(n, f1 - f0, n),
                                        reinterpret_cast<const float*>(z.data_ptr()) +
                                            (b * T + f0) * bins * 2,
                                        dst);
      if (s != 0) {
        failed = s;
        return;
      }
      for (int64_t f = 0; f < f1 - f0; ++f)
        for (int64_t i = 0; i < n; ++i) dst[f * n + i] = dst[f * n + i] * ws[i];
    }
  });
  TORCH_CHECK(failed == 0, "ddsp_spectral: MKL FFT failed (status ", long(failed), ")");
  const int64_t total = (T - 1) * hop + n, k = (n + hop - 1) / hop;
  const int64_t runs = (length + hop - 1) / hop;
  const float* wm = wsum.data_ptr<float>();
  const bool* okp = ok.data_ptr<bool>();
  float* ys = y.data_ptr<float>();
  at::parallel_for(0, B * runs, 16, [&](int64_t i0, int64_t i1) {
    std::vector<float> acc(hop);
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t b = it / runs, r0 = (it % runs) * hop, r1 = std::min(length, r0 + hop);
      const int64_t s0 = start + r0, s1 = std::min(start + r1, total);  // [s0, s1): signal
      std::fill(acc.begin(), acc.end(), 0.f);
      if (s1 > s0) {
        // the frames covering some of [s0, s1): f hop < s1 and f hop + n > s0
        const int64_t lo = std::max<int64_t>(0, s0 - n >= 0 ? (s0 - n) / hop + 1 : 0);
        const int64_t hi = std::min(T - 1, (s1 - 1) / hop);
        for (int64_t j = 0; j < k; ++j) {  // in the order of f mod k, as overlap_add adds
          for (int64_t f = lo + ((j - lo % k) % k + k) % k; f <= hi; f += k) {
            const int64_t a = std::max(s0, f * hop), e = std::min(s1, f * hop + n);
            const float* src = fs + (b * T + f) * n - f * hop;
            for (int64_t s = a; s < e; ++s) acc[s - s0] += src[s];
          }
        }
      }
      float* out = ys + b * length;
      for (int64_t i = r0; i < r1; ++i) out[i] = okp[i] ? acc[i - r0] / wm[i] : 0.f;
    }
  });
}
}  // namespace

TORCH_LIBRARY_FRAGMENT(ddsp_spectral, m) {
  m.def("istft_ola(Tensor z, Tensor w, Tensor(a!) frames, Tensor wsum, Tensor ok, "
        "Tensor(b!) y, int n, int hop, int start, int block) -> ()", &istft_ola);
}
"""
)

BLOCK = 32  # frames an inverse FFT call


def usable(spec: torch.Tensor) -> bool:
    """Whether :func:`istft_frames` takes ``spec``: complex64 in a plain CPU tensor, no gradient
    asked of it, MKL's FFT available."""
    return (
        spec.dtype == torch.complex64
        and not (torch.is_grad_enabled() and spec.requires_grad)
        and plain_cpu(spec)
        and _mkl_cpu.available()
    )


def istft_frames(
    spec: torch.Tensor,
    w: torch.Tensor,
    n_fft: int,
    hop: int,
    start: int,
    wsum: torch.Tensor,
    ok: torch.Tensor,
) -> torch.Tensor:
    """The inverse STFT's overlap-add of ``irfft(spec) * w``, samples ``start ..`` (zeros past the
    frames), divided by ``wsum`` where ``ok`` and zero elsewhere, as :func:`ddsp.spectral.
    functional.istft` computes it (same bits). Needs :func:`usable`.

    Shape: ``spec (B, F, T)`` complex64 (frame-major storage avoids a copy), ``w (n_fft,)``,
    ``wsum, ok (length,)`` -> ``(B, length)``.
    """
    z = spec.transpose(-1, -2).contiguous()  # (B, T, F): the STFT's own layout, no copy
    frames = empty_huge(z.shape[0] * z.shape[1] * n_fft, dtype=torch.float32, recycle=True)
    y = torch.empty(z.shape[0], wsum.shape[0], dtype=torch.float32)
    if z.shape[0] and z.shape[1]:
        _power_cpu.ops().istft_ola(
            z, w.contiguous(), frames, wsum.contiguous(), ok.contiguous(), y, n_fft, hop,
            start, BLOCK,
        )  # fmt: skip
    return y

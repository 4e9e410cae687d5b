"""DCT-II matrices and cepstral liftering (re-exported by ``functional``)."""

from __future__ import annotations

import math

import torch

from ..precision import full_precision


def dct_matrix(
    n_in: int, n_out: int | None = None, norm: str | None = "ortho", dtype=torch.float64
) -> torch.Tensor:
    """DCT-II as a matrix: ``coeffs = D @ x`` over the first of the last two dimensions.

    Args:
        n_in: input length ``N``.
        n_out: number of coefficients kept (default ``N``).
        norm: ``"ortho"`` (``scipy.fft.dct(norm="ortho")``, librosa's MFCC), ``None``
            (unnormalised, ``2 sum x cos(...)``) or ``"tf"``: ``sqrt(2 / N) sum x cos(...)`` on
            every coefficient, as ``tf.signal.mfccs_from_log_mel_spectrograms``.

    Returns:
        ``(n_out, n_in)``.
    """
    n_out = n_in if n_out is None else n_out
    k = torch.arange(n_out, dtype=torch.float64)[:, None]
    n = torch.arange(n_in, dtype=torch.float64)[None, :]
    d = 2.0 * torch.cos(math.pi * k * (2 * n + 1) / (2 * n_in))
    if norm == "ortho":
        d = d * math.sqrt(1.0 / (2 * n_in))
        d[0] = d[0] / math.sqrt(2.0)
    elif norm == "tf":
        d = d * math.sqrt(1.0 / (2 * n_in))
    elif norm is not None:
        raise ValueError(f"norm must be 'ortho', 'tf' or None, got {norm!r}")
    return d.to(dtype)


@full_precision(transforms=("vmap", "grad"))
def dct(x: torch.Tensor, n_out: int | None = None, norm: str | None = "ortho") -> torch.Tensor:
    """DCT-II along dimension ``-2`` (frequency): ``(..., n, frames)`` -> ``(..., n_out, frames)``."""
    d = dct_matrix(x.shape[-2], n_out, norm, x.dtype).to(x.device)
    return torch.matmul(d, x)


def lifter_weights(n_coeffs: int, lifter: float, dtype=torch.float64) -> torch.Tensor:
    """librosa's sinusoidal lifter ``1 + (L / 2) sin(pi (k + 1) / L)``: ``(n_coeffs, 1)``."""
    k = torch.arange(1, n_coeffs + 1, dtype=torch.float64)
    return (1 + (lifter / 2) * torch.sin(math.pi * k / lifter)).to(dtype)[:, None]

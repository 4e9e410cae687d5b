"""Frequency responses of batches of filters."""

from __future__ import annotations

import math

import torch

__all__ = ["freqz"]


def freqz(
    b: torch.Tensor | None = None,
    a: torch.Tensor | None = None,
    n_freqs: int = 512,
    sample_rate: float = 2 * math.pi,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``H(e^{jw}) = B(e^{jw}) / A(e^{jw})`` at ``n_freqs`` frequencies in ``[0, sr / 2)``
    (as ``scipy.signal.freqz(worN=n_freqs)``).

    Args:
        b: ``(..., nb)`` numerators (default 1).
        a: ``(..., na)`` denominators including ``a[0]``; or LPC without it, see below
            (default 1). Pass ``torch.nn.functional.pad(lpc, (1, 0), value=1)`` for LPC.
        sample_rate: the frequency unit (default: radians per sample, as scipy).

    Returns:
        ``freqs (n_freqs,)`` and complex ``H (..., n_freqs)``.
    """
    if b is None and a is None:
        raise ValueError("give b, a or both")
    ref = a if a is not None else b
    w = torch.arange(n_freqs, dtype=ref.dtype, device=ref.device) * (math.pi / n_freqs)

    def poly(c: torch.Tensor) -> torch.Tensor:
        k = torch.arange(c.shape[-1], dtype=c.dtype, device=c.device)
        return (
            c.unsqueeze(-1).to(torch.complex128 if c.dtype == torch.float64 else torch.complex64)
            * torch.exp(-1j * k[:, None] * w[None, :])
        ).sum(-2)

    h = poly(b) if b is not None else 1.0
    if a is not None:
        h = h / poly(a)
    return w * sample_rate / (2 * math.pi), h

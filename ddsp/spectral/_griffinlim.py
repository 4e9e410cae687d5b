"""Griffin-Lim phase reconstruction with momentum (re-exported by ``functional``)."""

from __future__ import annotations

import torch

from . import _checks
from ._stft import istft, stft


@_checks.empty_batch(2)
def griffinlim(
    magnitude: torch.Tensor,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str | torch.Tensor = "hann",
    n_iter: int = 32,
    momentum: float = 0.99,
    length: int | None = None,
    center: bool = True,
    pad_mode: str = "constant",
    init: str | torch.Tensor = "ones",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin et al. 2013) as ``librosa.griffinlim``.

    ``angles <- P(rebuilt - momentum / (1 + momentum) * previous)`` with ``P`` the projection to
    unit modulus, ``rebuilt = STFT(iSTFT(|S| angles))``.

    Args:
        magnitude: ``(..., n_fft // 2 + 1, frames)`` linear magnitudes.
        n_iter: iterations; momentum: 0 gives the original Griffin-Lim (0.99 as librosa).
        init: ``"ones"`` (zero phase, librosa's ``init=None``), ``"random"`` or a complex
            tensor of initial phases (unit modulus).

    Returns:
        ``(..., time)`` signal.
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    win_length = n_fft if win_length is None else win_length
    hop_length = win_length // 4 if hop_length is None else hop_length
    cdtype = torch.complex128 if magnitude.dtype == torch.float64 else torch.complex64
    if isinstance(init, torch.Tensor):
        angles = init.to(cdtype)
    elif init == "ones":
        angles = torch.ones_like(magnitude, dtype=cdtype)
    elif init == "random":
        phi = torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype)
        angles = torch.polar(torch.ones_like(phi), 2 * torch.pi * phi.to(magnitude.device))
    else:
        raise ValueError(f"init must be 'ones', 'random' or a tensor, got {init!r}")
    eps = torch.finfo(magnitude.dtype).tiny
    rebuilt = torch.zeros_like(angles)
    kw = {"n_fft": n_fft, "hop_length": hop_length, "win_length": win_length, "window": window}
    for _ in range(n_iter):
        previous = rebuilt
        y = istft(magnitude * angles, center=center, length=length, **kw)
        rebuilt = stft(y, center=center, pad_mode=pad_mode, **kw)
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / (angles.abs() + eps)
    return istft(magnitude * angles, center=center, length=length, **kw)

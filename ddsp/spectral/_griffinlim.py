"""Griffin-Lim phase reconstruction with momentum (re-exported by ``functional``)."""

from __future__ import annotations

import torch

from ..dsp import values_within
from ..precision import full_precision
from . import _checks, _griffinlim_cpu
from ._stft import istft, stft


@_checks.empty_batch(2)
@full_precision
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
    if magnitude.dim() < 2 or magnitude.shape[-2] != n_fft // 2 + 1:
        raise ValueError(
            f"magnitude must be (..., n_fft // 2 + 1 = {n_fft // 2 + 1}, frames) for "
            f"n_fft={n_fft}, got {tuple(magnitude.shape)}"
        )
    values_within(magnitude, "magnitude", 0.0, hint=" (an STFT magnitude is >= 0)")
    win_length = n_fft if win_length is None else win_length
    hop_length = _checks.hop(hop_length, win_length)
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
    rebuilt = None
    kw = {"n_fft": n_fft, "hop_length": hop_length, "win_length": win_length, "window": window}
    spec = magnitude * angles
    c = momentum / (1 + momentum)
    magnitude_t = None  # the magnitude frame-major, as the STFT lays out its spectra
    for _ in range(n_iter):
        previous = rebuilt if c != 0 else None
        y = istft(spec, center=center, length=length, **kw)
        if y.shape[-1] == 0:  # one centred frame: no sample to rebuild (librosa's: none too)
            return y
        rebuilt = stft(y, center=center, pad_mode=pad_mode, **kw)
        if _griffinlim_cpu.usable(magnitude, rebuilt, previous):
            if magnitude_t is None:
                magnitude_t = magnitude.reshape(-1, *magnitude.shape[-2:]).transpose(-1, -2)
                magnitude_t = magnitude_t.contiguous()
            spec = _griffinlim_cpu.step(magnitude_t, rebuilt, previous, c, eps)
        else:
            spec = next_spectrum(magnitude, rebuilt, previous, c, eps)
    return istft(spec, center=center, length=length, **kw)


def next_spectrum(
    magnitude: torch.Tensor,
    rebuilt: torch.Tensor,
    previous: torch.Tensor | None,
    c: float,
    eps: float,
) -> torch.Tensor:
    """One fast Griffin-Lim step's spectrum: ``|S| a / (|a| + eps)`` with ``a = rebuilt - c
    previous`` (``previous`` None: zeros), as torch ops (gradients, other devices; without them
    on the CPU :mod:`ddsp.spectral._griffinlim_cpu` does it in one pass).

    Shape: ``magnitude (..., F, T)`` real, ``rebuilt, previous`` complex of its shape -> same.
    """
    a = rebuilt if previous is None or c == 0 else torch.add(rebuilt, previous, alpha=-c)
    scale = magnitude / a.abs().add_(eps)
    return torch.view_as_complex(torch.view_as_real(a) * scale.unsqueeze(-1))

"""Frame-wise all-pole filtering: the approximations the papers compare sample-wise filtering
against, as first-class functions (GOLF-ff uses the first).

- :func:`allpole_framewise_ola`: GOLF-ff (Interspeech 2024): every frame is filtered from zero
  state by that frame's filter and the windowed outputs are overlap-added.
- :func:`allpole_frequency_sampling`: DiffAPF's frequency-sampling (FS) approximation: each STFT
  frame of the input is multiplied by ``1 / A(e^{jw})`` sampled at ``n_fft`` bins, then the
  inverse STFT (time aliasing of the filter's tail is the approximation error).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..dsp import overlap_add
from ..precision import full_precision
from ..spectral import _checks
from ..spectral.functional import get_window, istft, stft
from .allpole import allpole, allpole_sos

__all__ = ["allpole_framewise_ola", "allpole_frequency_sampling"]


@full_precision
def allpole_framewise_ola(
    x: torch.Tensor, a: torch.Tensor, hop_length: int, window_length: int | None = None
) -> torch.Tensor:
    """Frame-wise all-pole filtering with windowed overlap-add (GOLF-ff).

    Frame ``k`` is the input segment of ``window_length`` samples centred at ``k * hop_length``
    (zero padding at the edges), filtered from zero state by ``a[k]``; the outputs are Hann
    windowed, overlap-added and divided by the window sum.

    Args:
        x: ``(batch, time)`` with ``time == frames * hop_length``.
        a: ``(batch, frames, order)`` per-frame LPC, or ``(batch, frames, sections, 2)``
            biquad denominators filtered as a cascade (stable in float32 at high orders).
        window_length: default ``4 * hop_length`` (GOLF: 960 for hop 240).

    Returns:
        ``(batch, time)``.
    """
    b, frames = a.shape[:2]
    t = x.shape[-1]
    if frames * hop_length != t:
        raise ValueError(f"a has {frames} frames x hop {hop_length} != {t} samples")
    win = window_length or 4 * hop_length
    pad = win // 2
    xp = F.pad(x.unsqueeze(1), (pad, pad + hop_length)).squeeze(1)
    segs = xp.unfold(-1, win, hop_length)[:, :frames]  # (B, frames, win)
    if a.dim() == 4:  # biquad cascade, time-invariant within each frame
        y = allpole_sos(segs, a.unsqueeze(2).expand(b, frames, win, *a.shape[2:]))
    else:
        y = allpole(segs, a)  # LTI per frame: a (B, frames, order) broadcasts as (..., order)
    w = get_window("hann", win, dtype=x.dtype, device=x.device)
    out = overlap_add(y * w, hop_length) / overlap_add(w.expand(frames, win), hop_length).clamp_min(
        1e-8
    )
    return out[:, pad : pad + t]


@full_precision
def allpole_frequency_sampling(
    x: torch.Tensor, a: torch.Tensor, n_fft: int, hop_length: int | None = None
) -> torch.Tensor:
    """Frequency-sampling approximation of a time-varying all-pole filter (DiffAPF's FS).

    Args:
        x: ``(batch, time)``.
        a: ``(batch, time, order)`` per-sample LPC; each STFT frame uses the coefficients at
            its centre sample.
        n_fft: FFT size = Hann window length (the paper's NWIN).
        hop_length: STFT hop, default ``n_fft // 4``.

    Returns:
        ``(batch, time)``.
    """
    hop = _checks.hop(hop_length, n_fft)
    t = x.shape[-1]
    spec = stft(x, n_fft, hop, window="hann", center=True, pad_mode="constant")
    centres = torch.arange(spec.shape[-1], device=x.device) * hop
    a_frames = a[:, centres.clamp_max(t - 1)]  # (B, frames, order)
    den = torch.fft.rfft(F.pad(a_frames, (1, 0), value=1.0), n=n_fft)  # (B, frames, bins)
    return istft(spec / den.transpose(1, 2), n_fft, hop, window="hann", center=True, length=t)

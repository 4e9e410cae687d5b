"""Formant (vocal-tract length) warping of a biquad vocal tract, for voice editing.

A warp is a monotone piecewise-linear map of ``[0, pi]`` onto itself given by anchors
``(src, dst)``: :func:`scale_anchors` (every frequency times a factor below a knee, the band
above mapped linearly onto the rest; VTLN's shape) and :func:`formant_anchors` (F1-F3, found as
the response's peaks, each moved by its own factor). Two ways to apply it:

- ``"poles"`` (default): each complex pole pair's angle goes through the warp, its radius kept.
  The output's LPC formants (Praat's method) follow the request within a few % on the shipped
  model, but every pole moving up lowers the gain at DC and raises it at Nyquist: the output's
  energy above 4 kHz re. below changes by about -28 dB at x 0.8 and +20 dB at x 1.2 (duller /
  brighter voice).
- ``"envelope"``: the vocal tract's power response is warped and an all-pole filter of the same
  order refitted (:func:`ddsp.filters.warp.warp_allpole`), its sections put back in the
  encoder's order (:func:`match_sections`), so levels move with their frequencies: the
  response's peaks land on ``factor x`` themselves (within 2 %) and the balance changes by a few
  dB only. Its output's LPC formants move by less than asked (x 0.8: about x 0.88 on the shipped
  model): Praat-style LPC on this model's broad, many-pole vocal tract follows the spectral
  balance as much as the peaks (experiments/results/voice_editing.md).

Both keep every pole within ``max_radius``; the synthesiser recomputes the frame's unit-power
normalisation from the warped filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..filters.lpc import biquads_to_logits, lpc_to_biquads, sos_to_lpc
from ..filters.response import freqz
from ..filters.warp import piecewise_linear, warp_allpole

__all__ = [
    "KNEE",
    "pole_angles",
    "set_pole_angles",
    "scale_anchors",
    "vocal_tract_peaks",
    "formant_anchors",
    "warp_biquads",
    "match_sections",
    "resonance_biquads",
    "set_tract_biquads",
    "NEUTRAL_VOWEL",
]

# (Hz, bandwidth Hz): a uniform 17.5 cm tube's resonances, (2k - 1) c / 4L, the neutral vowel
NEUTRAL_VOWEL = tuple((500.0 + 1000.0 * k, 60.0 + 30.0 * k) for k in range(5))
KNEE = 0.5  # formant scaling is exact below half the Nyquist frequency (4 kHz at 16 kHz)


def pole_angles(sos: torch.Tensor) -> torch.Tensor:
    """The angle (radians, ``[0, pi]``) of each biquad's complex pole pair; 0 for real poles.

    Shape: ``(..., sections, 2)`` -> ``(..., sections)`` float64.
    """
    a1, a2 = sos[..., 0].double(), sos[..., 1].double()
    r = a2.clamp_min(0).sqrt()
    angle = torch.acos((-a1 / (2 * r).clamp_min(1e-300)).clamp(-1, 1))
    return torch.where(a1.square() < 4 * a2, angle, 0.0)


def set_pole_angles(sos: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Move each biquad's complex pole pair to ``angle`` (clamped to ``[0, pi]``), keeping its
    radius, so stability and ``max_radius`` hold. Biquads with real poles are unchanged.

    Shape: ``sos (..., sections, 2)``, ``angle (..., sections)`` -> ``(..., sections, 2)``.
    """
    a1, a2 = sos[..., 0].double(), sos[..., 1].double()
    r = a2.clamp_min(0).sqrt()
    new_a1 = -2 * r * torch.cos(angle.double().clamp(0, math.pi))
    new_a1 = torch.where(a1.square() < 4 * a2, new_a1, a1)
    return torch.stack([new_a1, a2], dim=-1).to(sos.dtype)


def resonance_biquads(
    resonances: Sequence[tuple[float, float]], sample_rate: float, sections: int | None = None
) -> torch.Tensor:
    """All-pole biquads for resonances given as ``(frequency Hz, bandwidth Hz)``: the pole pair
    at angle ``2 pi F / sample_rate`` and radius ``exp(-pi B / sample_rate)`` (the -3 dB
    bandwidth of an isolated resonance), then flat sections (``a1 = a2 = 0``) up to
    ``sections`` (default: one per resonance). A textbook vocal tract, e.g.
    :data:`NEUTRAL_VOWEL`, for controls and tests.

    Shape: ``len(resonances)`` pairs -> ``(sections, 2)`` float64 ``(a1, a2)``.
    """
    n = len(resonances) if sections is None else sections
    if isinstance(n, bool) or not isinstance(n, int) or n < len(resonances):
        raise ValueError(f"sections must be an int >= {len(resonances)} resonances, got {n!r}")
    sos = torch.zeros(n, 2, dtype=torch.float64)
    for k, (hz, bandwidth) in enumerate(resonances):
        if not (0 < hz < sample_rate / 2 and 0 < bandwidth < math.inf):
            raise ValueError(
                f"resonances[{k}] = ({hz!r}, {bandwidth!r}) Hz: the frequency must lie in "
                f"(0, {sample_rate / 2:g}) and the bandwidth be positive and finite"
            )
        r = math.exp(-math.pi * bandwidth / sample_rate)
        sos[k, 0], sos[k, 1] = -2 * r * math.cos(2 * math.pi * hz / sample_rate), r * r
    return sos


def set_tract_biquads(
    controls: torch.Tensor, sos: torch.Tensor, max_radius: float = 0.99
) -> torch.Tensor:
    """Vocal-tract controls that drive the biquads ``sos``: the first ``2 * sections`` channels
    of ``controls`` (the triangle logits) replaced by
    :func:`ddsp.filters.lpc.biquads_to_logits` of ``sos`` at ``max_radius``, in ``controls``'
    dtype; the other channels (GOLF's frame gain) kept. ``sos`` broadcasts over the leading
    dimensions: one tract for every frame, or one per frame.

    Shape: ``controls (..., channels)``, ``sos (..., sections, 2)`` with
    ``2 * sections <= channels`` -> ``(..., channels)``.
    """
    n = 2 * sos.shape[-2] if sos.dim() >= 2 else -1
    if n < 0 or sos.shape[-1] != 2 or controls.shape[-1] < n:
        raise ValueError(
            f"sos must be (..., sections, 2) with 2 * sections <= controls' {controls.shape[-1]} "
            f"channels, got sos {tuple(sos.shape)}"
        )
    logits = biquads_to_logits(sos, max_radius).to(controls.dtype).flatten(-2)
    logits = logits.expand(*controls.shape[:-1], n)
    return torch.cat([logits, controls[..., n:]], dim=-1)


def scale_anchors(factor: float, knee: float = KNEE) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchors of a warp multiplying frequencies by ``factor`` below ``knee * pi`` and mapping
    the band above linearly onto what is left up to Nyquist (VTLN's piecewise-linear shape), so
    no resonance passes Nyquist or crowds against it, and a lowered tract does not leave the
    top band empty. The knee moves down to ``0.9 pi / factor`` when that is lower.

    Shape: -> ``src, dst (3,)`` float64 radians.
    """
    bend = min(knee * math.pi, 0.9 * math.pi / factor)
    src = torch.tensor([0.0, bend, math.pi], dtype=torch.float64)
    return src, torch.tensor([0.0, factor * bend, math.pi], dtype=torch.float64)


def vocal_tract_peaks(
    sos: torch.Tensor, n_peaks: int = 3, n_freqs: int = 512, min_angle: float = 0.035
) -> torch.Tensor:
    """The lowest ``n_peaks`` local maxima of a biquad cascade's magnitude response (its
    formants) above ``min_angle`` radians (0.035: 90 Hz at 16 kHz); NaN where a frame has
    fewer. Peaks rather than single poles, because a trained vocal tract often builds one
    formant out of several broad poles.

    Shape: ``sos (..., sections, 2)`` -> ``(..., n_peaks)`` radians float64.
    """
    den = torch.nn.functional.pad(sos_to_lpc(sos.double()), (1, 0), value=1.0)
    w, h = freqz(None, den, n_freqs)  # radians per sample
    db = h.abs().clamp_min(1e-30).log()
    peak = (db[..., 1:-1] > db[..., :-2]) & (db[..., 1:-1] >= db[..., 2:]) & (w[1:-1] > min_angle)
    rank = peak.long().cumsum(-1)
    out = []
    for k in range(1, n_peaks + 1):
        hit = peak & (rank == k)
        out.append(torch.where(hit.any(-1), torch.where(hit, w[1:-1], 0.0).sum(-1), math.nan))
    return torch.stack(out, -1)


def formant_anchors(
    peaks: torch.Tensor, factors: tuple[float, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchors of a per-frame warp moving formant ``k`` (``peaks[..., k]``) to ``factors[k]``
    times itself, fixed at 0 and pi. A missing peak (NaN) leaves its anchor out; a formant
    moved past its neighbour's new place stops there (the warp stays monotone).

    Shape: ``peaks (..., K)`` radians -> ``src, dst (..., K + 2)``.
    """
    zero = torch.zeros_like(peaks[..., :1])
    pi = torch.full_like(zero, math.pi)
    f = torch.as_tensor(factors, dtype=peaks.dtype)
    src = torch.cat([zero, peaks, pi], -1)
    dst = torch.cat([zero, (peaks * f).clamp(max=math.pi), pi], -1)
    for k in range(1, src.shape[-1] - 1):  # a missing anchor: a zero-width segment
        missing = torch.isnan(src[..., k])
        src[..., k] = torch.where(missing, src[..., k - 1], src[..., k])
        dst[..., k] = torch.where(missing, dst[..., k - 1], dst[..., k])
    return src, dst.cummax(-1).values


def warp_biquads(
    sos: torch.Tensor,
    scale: float = 1.0,
    factors: tuple[float, float, float] = (1.0, 1.0, 1.0),
    method: str = "poles",
    max_radius: float = 0.99,
) -> torch.Tensor:
    """Warp a biquad vocal tract: the formants F1-F3 by ``factors`` (each), then every
    frequency by ``scale`` (:func:`scale_anchors`); by refitting the warped response
    (``"envelope"``) or by moving the pole angles (``"poles"``); see the module's docstring.

    Shape: ``(..., sections, 2)`` -> ``(..., sections, 2)`` float64.
    """
    sos = sos.double()
    warps = []  # (src, dst) anchors, applied in order
    if tuple(factors) != (1.0, 1.0, 1.0):
        warps.append(formant_anchors(vocal_tract_peaks(sos), factors))
    if scale != 1.0:
        warps.append(tuple(x.to(sos.device) for x in scale_anchors(scale)))
    if not warps:
        return sos
    if method == "poles":
        angle = pole_angles(sos)
        for src, dst in warps:
            angle = piecewise_linear(angle, src, dst)
        return set_pole_angles(sos, angle)
    if method != "envelope":
        raise ValueError(f"formant method must be 'envelope' or 'poles', got {method!r}")

    def inverse(w: torch.Tensor) -> torch.Tensor:
        for src, dst in reversed(warps):
            w = piecewise_linear(w, dst, src)
        return w

    refit = lpc_to_biquads(warp_allpole(sos_to_lpc(sos), inverse), max_radius)
    angle = pole_angles(sos)
    for src, dst in warps:
        angle = piecewise_linear(angle, src, dst)
    return match_sections(refit, set_pole_angles(sos, angle))


def _section_roots(sos: torch.Tensor) -> torch.Tensor:
    """The two poles of each biquad, the one with the larger imaginary part (then real part)
    first. Shape: ``(..., sections, 2)`` -> ``(..., sections, 2)`` complex128."""
    a1, a2 = sos[..., 0].double(), sos[..., 1].double()
    disc = torch.sqrt((a1.square() - 4 * a2).to(torch.complex128))
    z1, z2 = (-a1 + disc) / 2, (-a1 - disc) / 2
    swap = (z2.imag > z1.imag) | ((z2.imag == z1.imag) & (z2.real > z1.real))
    return torch.stack([torch.where(swap, z2, z1), torch.where(swap, z1, z2)], -1)


def match_sections(sos: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Reorder each frame's biquads to follow ``reference``'s (greedy nearest poles): the
    cascade is the same filter in any order, but GOLF-ss interpolates coefficients between
    frames section by section, so a refitted frame must keep the encoder's section order or
    the filter between frame centres is a blend of unrelated poles.

    Shape: ``sos, reference (..., sections, 2)`` -> ``(..., sections, 2)``.
    """
    n = sos.shape[-2]
    z, zr = _section_roots(sos), _section_roots(reference)
    cost = (zr.unsqueeze(-2) - z.unsqueeze(-3)).abs().sum(-1)  # (..., ref section, section)
    pick = torch.empty(*sos.shape[:-2], n, dtype=torch.long, device=sos.device)
    for _ in range(n):
        flat = cost.flatten(-2).argmin(-1, keepdim=True)
        row, col = flat // n, flat % n
        pick.scatter_(-1, row, col)
        cost = cost.scatter(-2, row.unsqueeze(-1).expand(*row.shape, n), math.inf)
        cost = cost.scatter(-1, col.unsqueeze(-2).expand(*col.shape[:-1], n, 1), math.inf)
    return sos.gather(-2, pick.unsqueeze(-1).expand(*pick.shape, 2))

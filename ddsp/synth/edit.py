"""Voice editing on a synthesiser's controls: pitch, formants (vocal-tract length), voice quality,
aspiration noise, timing and loudness, applied between an encoder and the synthesiser.

The edits act on the same raw controls the encoder predicts, so the edited controls drive the
unchanged decoder (offline, or block by block with :class:`ddsp.synth.StreamingGOLF`)::

    edit = VoiceEdit(pitch_shift=3, formant_scale=0.85, rd=1.8, time_stretch=1.25)
    voice = edit_controls(edit, synth, f0, controls, voiced)   # a VoiceControls
    audio = render(synth, voice)

Which edit needs what:

================  ===========================================================================
pitch, timing,    every synthesiser (f0, the frame controls and the voicing gate are resampled
loudness          or scaled; the oscillator integrates the new f0, so its phase is continuous)
noise             GOLF, DDSP's harmonic-plus-noise and SawSing (noise band magnitudes); PULF
                  (the gain of its noise filter)
formants          an LPC vocal tract: GOLF (``vocal_tract``), PULF (both of its filters)
Rd                GOLF's glottal wavetables
================  ===========================================================================

Formant edits warp the vocal tract's frequency axis (:mod:`ddsp.synth.formants`); every pole
stays inside ``max_radius`` and the synthesiser recomputes the frame's unit-power normalisation
from the warped filter. Clamps, all documented on :class:`VoiceEdit`: the warp stays below
Nyquist; formants moved past a neighbour's new place stop there; an Rd offset stops at the
wavetables' range; a scaled noise magnitude stops at the synthesiser's maximum. A pitch edit
that lowers f0 also averages the controls over as many frames as the periods grew
(:func:`smooth_frames`; ``VoiceEdit.smooth_controls``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..filters.interpolate import upsample
from ..filters.lpc import logits_to_biquads
from .core import exp_sigmoid, inverse_exp_sigmoid
from .formants import set_tract_biquads, warp_biquads
from .glottal import RD_MAX, RD_MIN, position_to_rd, rd_to_position
from .noise import NOISE_OFFSET

__all__ = [
    "VoiceEdit",
    "VoiceControls",
    "edit_controls",
    "render",
    "apply_gain",
    "stretch_frames",
    "smooth_frames",
    "rd_track",
    "f0_from_notes",
    "curve_from_points",
]


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


@dataclass(frozen=True)
class VoiceEdit:
    """A composable set of edits; every field at its default leaves the voice untouched, and
    an edit at its neutral value is skipped (the render is bit-identical to the unedited one).

    Attributes:
        pitch_shift: semitones added to f0 (any sign).
        f0_scale: factor on f0 (> 0); applied with ``pitch_shift``.
        f0: ``(frames,)`` or ``(batch, frames)`` Hz replacing f0 where it is > 0, on the output
            timeline (after ``time_stretch``); elsewhere the original f0 stays. The voicing gate
            is kept. Shift and scale apply on top. See :func:`f0_from_notes`,
            :func:`curve_from_points`.
        formant_scale: factor on every vocal-tract resonance frequency (> 0) up to half the
            Nyquist frequency; the band above maps linearly onto the rest, up to Nyquist
            (:func:`ddsp.synth.formants.scale_anchors`), so nothing passes it.
        formant_factors: extra factors on the first three formants (F1, F2, F3): per frame, the
            three lowest peaks of the vocal tract's response above 90 Hz move by these factors,
            the frequencies between them linearly (fixed at 0 and Nyquist). A factor that would
            carry a formant past its neighbour's new place stops there (clamp).
        formant_method: ``"poles"`` (move the pole angles, radii kept: the output's LPC
            formants follow, the spectral balance tilts) or ``"envelope"`` (refit the warped
            response: peaks move exactly, the balance is kept); see :mod:`ddsp.synth.formants`.
        rd: replace GOLF's Rd (voice quality, 0.3 pressed ... 2.7 breathy) by this value; an Rd
            outside the wavetables' range ``[0.3, 2.7]`` is an error.
        rd_offset: added to GOLF's Rd in every frame, the result clamped to ``[0.3, 2.7]``.
        noise_scale: factor on the noise (aspiration) magnitudes (>= 0; 0 removes it); scaled
            magnitudes stop at the synthesiser's maximum (clamp).
        time_stretch: duration factor (> 0) at unchanged pitch: every frame track is resampled
            to ``round(frames * time_stretch)`` frames (linear; log-linear for f0 and gain).
        gain_db: output gain in dB, a number or a curve ``(frames,)`` / ``(batch, frames)`` on
            the output timeline, within +-200 dB (a factor of 1e10 either way; at 800 dB float32
            audio overflowed into NaN).
        smooth_controls: when the pitch edits lower f0 by a ratio ``r < 1`` (median over voiced
            frames), average every control over ``1 / r`` frames (:func:`smooth_frames`), so
            that the controls change as often per glottal period as in the recording. Without
            it, the encoder's frame-to-frame changes move the vocal tract's and the pulse's
            phase at the fundamental within each of the longer periods, and the output's f0
            reads as jittered: an octave down on the low shipped voice (62 Hz), 10.5 cents
            median from the request against 8.6 with it (its unedited render: 6.0). Averaging
            the unedited render's controls over 2 frames moves its MSS by 0.2 %. No effect on
            raised or unchanged pitch; False keeps the frame-rate controls.
    """

    pitch_shift: float = 0.0
    f0_scale: float = 1.0
    f0: torch.Tensor | None = None
    formant_scale: float = 1.0
    formant_factors: tuple[float, float, float] = (1.0, 1.0, 1.0)
    formant_method: str = "poles"
    rd: float | None = None
    rd_offset: float = 0.0
    noise_scale: float = 1.0
    time_stretch: float = 1.0
    gain_db: float | torch.Tensor = field(default=0.0)
    smooth_controls: bool = True

    def __post_init__(self) -> None:
        if not math.isfinite(self.pitch_shift):
            raise ValueError(f"pitch_shift must be finite (semitones), got {self.pitch_shift}")
        _positive("f0_scale", self.f0_scale)
        _positive("formant_scale", self.formant_scale)
        object.__setattr__(self, "formant_factors", tuple(float(f) for f in self.formant_factors))
        if len(self.formant_factors) != 3:
            raise ValueError(f"formant_factors takes 3 factors (F1-F3), got {self.formant_factors}")
        for i, f in enumerate(self.formant_factors):
            _positive(f"formant_factors[{i}] (F{i + 1})", f)
        if self.formant_method not in ("envelope", "poles"):
            raise ValueError(
                f"formant_method must be 'envelope' or 'poles', got {self.formant_method!r}"
            )
        if self.rd is not None and not RD_MIN <= self.rd <= RD_MAX:
            raise ValueError(
                f"rd must lie in the wavetables' range [{RD_MIN}, {RD_MAX}], got {self.rd}"
            )
        if not math.isfinite(self.rd_offset):
            raise ValueError(f"rd_offset must be finite, got {self.rd_offset}")
        if not (math.isfinite(self.noise_scale) and self.noise_scale >= 0):
            raise ValueError(f"noise_scale must be a finite number >= 0, got {self.noise_scale}")
        _positive("time_stretch", self.time_stretch)
        if not isinstance(self.smooth_controls, bool):
            raise ValueError(f"smooth_controls must be True or False, got {self.smooth_controls!r}")
        if self.f0 is not None:
            f0 = torch.as_tensor(self.f0)
            if f0.dim() not in (1, 2) or not torch.isfinite(f0).all() or (f0 < 0).any():
                raise ValueError("f0 must be a (frames,) or (batch, frames) curve of Hz >= 0")
        gain = torch.as_tensor(self.gain_db, dtype=torch.float64)
        if not (torch.isfinite(gain).all() and gain.abs().max() <= 200):
            raise ValueError(
                f"gain_db must be finite and within +-200 dB, got {gain.flatten()[:8].tolist()}"
            )

    @property
    def pitch_factor(self) -> float:
        """The combined factor on f0 of ``f0_scale`` and ``pitch_shift``."""
        return self.f0_scale * 2.0 ** (self.pitch_shift / 12)


@dataclass
class VoiceControls:
    """What a synthesiser renders: ``f0 (batch, frames)`` Hz, raw ``controls`` ``{name:
    (batch, frames, channels)}``, the voicing gate ``voiced (batch, frames)`` (or None) and an
    output ``gain (batch, frames)`` in amplitude (or None: 1), e.g. a model's level track."""

    f0: torch.Tensor
    controls: dict[str, torch.Tensor]
    voiced: torch.Tensor | None = None
    gain: torch.Tensor | None = None

    @property
    def frames(self) -> int:
        return self.f0.shape[-1]

    def to(self, *args, **kwargs) -> VoiceControls:
        """Every tensor through ``Tensor.to(*args, **kwargs)`` (a dtype or a device)."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(*args, **kwargs)

        controls = {k: v.to(*args, **kwargs) for k, v in self.controls.items()}
        return VoiceControls(move(self.f0), controls, move(self.voiced), move(self.gain))


def stretch_frames(x: torch.Tensor, factor: float, log: bool = False) -> torch.Tensor:
    """Resample a frame track to ``round(frames * factor)`` frames by linear interpolation
    (of ``log x`` with ``log=True``); output frame ``j`` reads input position ``j / factor``.

    Shape: ``(batch, frames)`` or ``(batch, frames, channels)`` -> same with the new frame count.
    """
    n = x.shape[1]
    m = max(1, round(n * factor))
    pos = (torch.arange(m, dtype=torch.float64, device=x.device) / factor).clamp(max=n - 1)
    i0 = pos.floor().long().clamp(max=max(n - 2, 0))
    i1 = (i0 + 1).clamp(max=n - 1)
    w = (pos - i0).to(x.dtype)
    if x.dim() == 3:
        w = w.unsqueeze(-1)
    y = torch.log(x.clamp_min(1e-12)) if log else x
    out = y[:, i0] * (1 - w) + y[:, i1] * w
    return torch.exp(out) if log else out


def rd_track(source: torch.Tensor) -> torch.Tensor:
    """GOLF's ``source`` controls ``(..., 2)`` -> its Rd per frame ``(...)``."""
    return position_to_rd(torch.sigmoid(source[..., 0]))


def _vocal_tracts(synth: nn.Module) -> dict[str, tuple[int, float]]:
    """``{control name: (LPC order, max_radius)}`` of a synthesiser's all-pole filters."""
    if hasattr(synth, "lpc_order"):  # GOLF
        return {"vocal_tract": (synth.lpc_order, synth.max_radius)}
    if hasattr(synth, "orders"):  # PULF
        return {k: (n, synth.max_radius) for k, n in synth.orders.items()}
    raise ValueError(
        f"formant edits need an LPC vocal tract (GOLF or PULF); {type(synth).__name__} has none"
    )


def _warp_formants(c: torch.Tensor, order: int, radius: float, edit: VoiceEdit):
    b, f, _ = c.shape
    sos = logits_to_biquads(c[..., :order].reshape(b, f, order // 2, 2).double(), radius)
    sos = warp_biquads(sos, edit.formant_scale, edit.formant_factors, edit.formant_method, radius)
    return set_tract_biquads(c, sos, radius)


def _scale_noise(synth: nn.Module, controls: dict[str, torch.Tensor], scale: float):
    if "noise" not in controls:
        raise ValueError(f"noise edits need a noise branch; {type(synth).__name__} has none")
    c = controls["noise"]
    if hasattr(synth, "orders"):  # PULF: the gain of the noise filter (last channel)
        top = synth.max_gain
        g = exp_sigmoid(c[..., -1:].double(), max_value=top) * scale
        g = inverse_exp_sigmoid(g, max_value=top).to(c.dtype)
        return {**controls, "noise": torch.cat([c[..., :-1], g], -1)}
    mags = exp_sigmoid(c.double() - NOISE_OFFSET)
    return {**controls, "noise": (inverse_exp_sigmoid(mags * scale) + NOISE_OFFSET).to(c.dtype)}


def _edit_rd(synth: nn.Module, controls: dict[str, torch.Tensor], edit: VoiceEdit):
    if not hasattr(synth, "tables") or "source" not in controls:
        raise ValueError(f"Rd edits need GOLF's glottal source; {type(synth).__name__} has none")
    src = controls["source"]
    rd = rd_track(src.double())
    if edit.rd is not None:
        rd = torch.full_like(rd, edit.rd)
    rd = (rd + edit.rd_offset).clamp(RD_MIN, RD_MAX)
    pos = rd_to_position(rd).clamp(1e-7, 1 - 1e-7)
    return {
        **controls,
        "source": torch.cat([torch.logit(pos).unsqueeze(-1).to(src.dtype), src[..., 1:]], -1),
    }


def _curve(x: torch.Tensor | float, like: torch.Tensor, name: str) -> torch.Tensor:
    """A number or a ``(frames,)`` / ``(batch, frames)`` curve, broadcast to ``like``'s shape."""
    x = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if x.dim() and x.shape[-1] != like.shape[-1]:
        raise ValueError(
            f"{name} has {x.shape[-1]} frames, the edited voice {like.shape[-1]} (after time_stretch)"
        )
    return x.expand_as(like)


def edit_controls(
    edit: VoiceEdit,
    synth: nn.Module,
    f0: torch.Tensor,
    controls: dict[str, torch.Tensor],
    voiced: torch.Tensor | None = None,
    gain: torch.Tensor | None = None,
) -> VoiceControls:
    """Apply ``edit`` to a synthesiser's controls (order: timing, f0, control smoothing for a
    lowered pitch, formants, Rd, noise, gain).

    Args:
        synth: the synthesiser the controls drive (its kind decides which edits apply).
        f0: ``(batch, frames)`` Hz (continuous through unvoiced frames, as the data pipeline's).
        controls: raw controls ``{name: (batch, frames, channels)}``, e.g. an encoder's output.
        voiced: ``(batch, frames)`` voicing gate, or None.
        gain: ``(batch, frames)`` output amplitude (e.g. a level track), or None.

    Returns:
        :class:`VoiceControls` with ``round(frames * time_stretch)`` frames; fields an edit
        did not touch are the very tensors passed in.
    """
    if edit.time_stretch != 1.0:
        s = edit.time_stretch
        f0 = stretch_frames(f0, s, log=True)
        controls = {k: stretch_frames(c, s) for k, c in controls.items()}
        voiced = None if voiced is None else stretch_frames(voiced.to(f0.dtype), s)
        gain = None if gain is None else stretch_frames(gain, s, log=True)
    base_f0 = f0
    if edit.f0 is not None:
        new = _curve(edit.f0, f0, "the f0 curve")
        f0 = torch.where(new > 0, new, f0)
    if edit.pitch_factor != 1.0:
        f0 = f0 * edit.pitch_factor
    if edit.smooth_controls and (edit.f0 is not None or edit.pitch_factor < 1.0):
        ratio = torch.where(base_f0 > 0, f0 / base_f0.clamp_min(1e-9), math.nan)
        controls = _smooth_for_pitch(controls, ratio, voiced)
    if edit.formant_scale != 1.0 or edit.formant_factors != (1.0, 1.0, 1.0):
        for name, (order, radius) in _vocal_tracts(synth).items():
            controls = {**controls, name: _warp_formants(controls[name], order, radius, edit)}
    if edit.rd is not None or edit.rd_offset != 0.0:
        controls = _edit_rd(synth, controls, edit)
    if edit.noise_scale != 1.0:
        controls = _scale_noise(synth, controls, edit.noise_scale)
    db = torch.as_tensor(edit.gain_db)
    if db.dim() or float(db) != 0.0:
        g = 10 ** (_curve(edit.gain_db, f0, "the gain curve") / 20)
        gain = g if gain is None else gain * g
    return VoiceControls(f0, controls, voiced, gain)


def smooth_frames(x: torch.Tensor, width: float) -> torch.Tensor:
    """Average a frame track with a triangle of half-width ``width`` frames: frame ``k`` becomes
    ``sum_j w_j x[k + j] / sum_j w_j`` with ``w_j = 1 - |j| / width`` over ``|j| < width`` (the
    frames that exist: the edges average fewer). ``width <= 1`` returns ``x`` itself; width 2
    weighs neighbours 1/4, 1/2, 1/4.

    Shape: ``(batch, frames, channels)`` -> same.
    """
    if not math.isfinite(width):
        raise ValueError(f"width must be a finite number of frames, got {width}")
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a (batch, frames, channels) track, got {got}")
    if width <= 1.0:
        return x
    n = math.ceil(width) - 1
    j = torch.arange(-n, n + 1, dtype=x.dtype, device=x.device)
    w = (1 - j.abs() / width)[None, None]
    b, frames, c = x.shape
    rows = torch.nn.functional.pad(x.transpose(1, 2).reshape(b * c, 1, frames), (n, n))
    ones = torch.nn.functional.pad(x.new_ones(1, 1, frames), (n, n))
    out = torch.nn.functional.conv1d(rows, w) / torch.nn.functional.conv1d(ones, w)
    return out.reshape(b, c, frames).transpose(1, 2)


def _smooth_for_pitch(
    controls: dict[str, torch.Tensor], ratio: torch.Tensor, voiced: torch.Tensor | None
) -> dict[str, torch.Tensor]:
    """Each example's controls averaged over ``1 / r`` frames, ``r`` its median f0 ratio over
    voiced frames (all frames where none is voiced); examples with ``r >= 1`` unchanged."""
    widths = []
    for i in range(ratio.shape[0]):
        keep = ratio[i] > 0
        if voiced is not None and (voiced[i] > 0.5).any():
            keep = keep & (voiced[i] > 0.5)
        r = float(ratio[i][keep].median()) if keep.any() else 1.0
        widths.append(1.0 / r if r < 1.0 else 1.0)
    if all(w == 1.0 for w in widths):
        return controls
    return {
        k: torch.cat([smooth_frames(c[i : i + 1], w) for i, w in enumerate(widths)])
        for k, c in controls.items()
    }


def render(
    synth: nn.Module,
    voice: VoiceControls,
    generator: torch.Generator | None = None,
    **kwargs,
) -> torch.Tensor:
    """Render ``voice`` with ``synth`` and apply its output gain.

    Shape: -> ``(batch, frames * hop_length)``.
    """
    y = synth(voice.f0, voice.controls, generator=generator, voiced=voice.voiced, **kwargs)
    return apply_gain(y, voice.gain, synth.hop_length)


def apply_gain(y: torch.Tensor, gain: torch.Tensor | None, hop_length: int) -> torch.Tensor:
    """Multiply audio by a frame-rate gain interpolated linearly to the sample rate (None: 1).

    Shape: ``y (batch, time)``, ``gain (batch, frames)`` -> ``(batch, time)``.
    """
    if gain is None:
        return y
    return y * upsample(gain.unsqueeze(-1), hop_length)[..., 0][..., : y.shape[-1]]


def f0_from_notes(
    notes: list[tuple[float, float, float]], frames: int, frame_rate: float
) -> torch.Tensor:
    """A melody as an f0 curve: ``(start_s, end_s, midi_note)`` triples (fractional notes
    allowed; A4 = 69 = 440 Hz) -> ``(frames,)`` Hz, 0 where no note sounds (the original f0
    stays there). Frame ``k`` is at ``k / frame_rate`` seconds."""
    t = torch.arange(frames, dtype=torch.float64) / frame_rate
    f0 = torch.zeros(frames, dtype=torch.float64)
    for i, (start, end, note) in enumerate(notes):
        if not (0 <= start < end) or not 0 <= note <= 127:
            raise ValueError(
                f"note {i}: need 0 <= start < end (s) and a MIDI note in [0, 127], got "
                f"({start}, {end}, {note})"
            )
        f0 = torch.where((t >= start) & (t < end), 440.0 * 2 ** ((note - 69) / 12), f0)
    return f0.float()


def curve_from_points(
    times: torch.Tensor, values: torch.Tensor, frames: int, frame_rate: float
) -> torch.Tensor:
    """Linear interpolation of ``(time_s, value)`` points onto frames ``k / frame_rate``
    (constant beyond the first and last point).

    Shape: ``times, values (points,)`` -> ``(frames,)``.
    """
    times = torch.as_tensor(times, dtype=torch.float64)
    values = torch.as_tensor(values, dtype=torch.float64)
    if times.dim() != 1 or times.shape != values.shape or len(times) < 1:
        raise ValueError("a curve needs matching 1-D times and values, at least one point")
    if (times.diff() <= 0).any():
        raise ValueError("a curve's times must increase")
    t = torch.arange(frames, dtype=torch.float64) / frame_rate
    i = torch.searchsorted(times, t).clamp(1, max(len(times) - 1, 1))
    if len(times) == 1:
        return values.expand(frames).float()
    t0, t1 = times[i - 1], times[i]
    w = ((t - t0) / (t1 - t0)).clamp(0, 1)
    return (values[i - 1] * (1 - w) + values[i] * w).float()

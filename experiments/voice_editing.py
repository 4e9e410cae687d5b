"""Voice editing with a trained GOLF vocoder, each edit measured on its output.

    python experiments/voice_editing.py                 # pretrained GOLF-ss, both shipped voices
    python experiments/voice_editing.py ckpt=PATH       # another checkpoint (e.g. a GOLF-ff run)
    python experiments/voice_editing.py --quick         # one voice; never touches experiments/results

Two shipped recordings (a low voice, f0 about 120 Hz, and a high one, about 300 Hz) are encoded
once; every edit renders the same controls edited (:mod:`ddsp.synth.edit`), with the same
white noise. Measured on the rendered audio, with the project's f0 tracker (WORLD dio +
stonemask, :func:`ddsp.metrics.voice.f0_track`), Praat-style LPC formants
(:func:`ddsp.metrics.voice.formant_tracks`) and H1-H2 (:func:`ddsp.metrics.voice.h1_h2`), all
as medians over the frames the data marks voiced:

- pitch: |cents| between the output's f0 and the request (the recording's own f0 times the
  factor); the same with a request whose contour is smoothed over 5 frames (50 ms), over all
  voiced frames and over the interior ones only (at least ``EDGE`` frames from an unvoiced
  frame: where the tracker's window holds no silence); the signed median (bias). Shift 0 shows
  the tracker's floor on this render. Where the rest comes from, against the smoothed request:
  the tracker on a band-limited sawtooth whose phase integrates that request exactly (its own
  floor), and the render with the glottal shape (Rd, source gain) and the vocal tract held at
  their medians and no noise (a time-varying pulse shape and tract move the phase of the
  output's harmonics, i.e. its instantaneous frequency, by a few Hz: more cents at a low f0).
- formants: F1-F3 of the edited output over those of the unedited render, relative to the
  requested factor (%); f0 drift against the unedited render (cents); the change of the
  output's balance (energy above a quarter of the sample rate over energy below, dB); the
  vocal tract's own response peaks (F1-F3, from the edited controls) against the request, for
  the default ``"poles"`` warp and the ``"envelope"`` one; and a control: the same scalings of
  a fixed neutral vowel's tract (:func:`neutral_vowel_tract`) in place of the model's.
- Rd: H1-H2 (dB), F1-F3 and f0 against the unedited render; and a control: the source and the
  vocal tract held at their medians, F1-F3 under the same Rd values through the model's tract
  and through a fixed neutral vowel's (:func:`neutral_vowel_tract`).
- noise: the gain of the aperiodic part (output minus the render without noise), against the
  request (dB).
- timing: duration error (hops) and |cents| against the recording's f0 contour time-warped
  (and, as for pitch, against a smoothed contour time-warped).
- loudness: measured RMS change against the request (dB).
- identity (every edit at its neutral value) and streaming (a compound edit, block by block,
  against offline, in float32 and in float64, beside float32's own rounding of the offline
  render): max |difference|.

Writes ``voice_editing.md`` / ``.json`` / ``.png`` and ``voice_edit_example.png`` (the figure of
``python -m ddsp.resynth ... --pitch-shift 3 --formant-scale 0.85 --rd 1.8 --time-stretch 1.25
--plot``) to the results folder and the rendered audio
to ``--audio-dir`` (default: ``$DDSP_RESULTS_DIR`` or a temporary folder; never the checkout).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _results import write_results  # noqa: E402

from ddsp.filters.interpolate import upsample  # noqa: E402
from ddsp.metrics.voice import cents, f0_track, formant_tracks, h1_h2, smoothed_f0  # noqa: E402
from ddsp.models.checkpoint import load_vocoder  # noqa: E402
from ddsp.resynth import encode_file, synthesize  # noqa: E402
from ddsp.synth.edit import VoiceEdit, edit_controls, stretch_frames  # noqa: E402
from ddsp.synth.edit import render as edit_render  # noqa: E402
from ddsp.synth.formants import (  # noqa: E402
    NEUTRAL_VOWEL,
    resonance_biquads,
    set_tract_biquads,
    vocal_tract_peaks,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "fillets_cs"
CLIPS = {
    "low voice": "barrel__bar-v-genofond.ogg",  # f0 median ~123 Hz
    "high voice": "alibaba__kni-m-mise.ogg",  # f0 median ~307 Hz
}
SHIFTS = (-12, -7, -3, 0, 3, 7, 12)
FORMANT_SCALES = (0.8, 0.9, 1.1, 1.2)
FORMANT_FACTORS = ((1.2, 1.0, 1.0), (1.0, 1.2, 1.0), (1.0, 1.0, 1.2), (0.85, 1.15, 1.0))
RDS = (0.3, 0.5, 0.8, 1.2, 1.8, 2.7)
NOISE_SCALES = (0.0, 0.5, 2.0)
STRETCHES = (0.5, 0.8, 1.25, 2.0)
GAINS_DB = (-12.0, -6.0, 6.0)
COMPOUND = VoiceEdit(pitch_shift=3, formant_scale=0.85, rd=1.8, time_stretch=1.25)
EDGE = 3  # frames: what "interior" voiced frames keep clear of unvoiced ones


def neutral_vowel_tract(like: torch.Tensor, synth) -> torch.Tensor:
    """GOLF ``vocal_tract`` controls for a fixed textbook vowel: the five resonances of
    :data:`ddsp.synth.formants.NEUTRAL_VOWEL` in the first five biquads, the others flat
    (``a1 = a2 = 0``), the frame-gain channel kept from ``like``. A control for the Rd edits:
    the same source, noise and f0 through a tract whose formants are sharp and well separated.

    Shape: ``like (batch, frames, order + 1)`` -> same.
    """
    sos = resonance_biquads(NEUTRAL_VOWEL, synth.sample_rate, synth.lpc_order // 2)
    return set_tract_biquads(like, sos, synth.max_radius)


def median(x: torch.Tensor) -> float:
    x = x[torch.isfinite(x)]
    return float(x.median()) if len(x) else float("nan")


class Clip:
    """A recording encoded once, rendered under edits, with the unedited render's measures."""

    def __init__(self, model, cfg, path: Path, audio_dir: Path | None) -> None:
        self.model, self.path, self.audio_dir = model, path, audio_dir
        self.sr, self.hop = cfg.data.sample_rate, cfg.data.hop_length
        self.batch, self.voice = encode_file(model, cfg, path)
        self.voiced = self.batch["voiced"][0] > 0.5
        # voiced frames at least EDGE frames from an unvoiced one: a tracker window of three
        # periods (50 ms at 60 Hz) centred there holds voiced signal only
        near = torch.nn.functional.max_pool1d((~self.voiced).float()[None], 2 * EDGE + 1, 1, EDGE)
        self.interior = self.voiced & (near[0] == 0)
        self.y0 = self.render(VoiceEdit(), "neutral")
        self.f0_0 = self.f0(self.y0)
        self.formants_0 = self.formants(self.y0)

    def edited(self, edit: VoiceEdit):
        v = self.voice
        return edit_controls(edit, self.model.synth, v.f0, v.controls, v.voiced, v.gain)

    def render(self, edit: VoiceEdit, name: str | None = None) -> torch.Tensor:
        y = synthesize(self.model, self.edited(edit))[0]
        if self.audio_dir is not None and name is not None:
            out = self.audio_dir / f"{self.path.stem}__{name}.wav"
            sf.write(out, np.clip(y.numpy(), -1, 1), self.sr)
        return y

    def frozen(self, edit: VoiceEdit, neutral_tract: bool = False) -> torch.Tensor:
        """The edit rendered with the glottal source and the vocal tract controls held at their
        medians over voiced frames (f0, gate, gain and noise as edited); with
        ``neutral_tract``, the tract replaced by :func:`neutral_vowel_tract`'s."""
        v = self.edited(edit)
        held = {
            k: c[:, self.voiced].median(dim=1, keepdim=True).values.expand_as(c)
            if k in ("source", "vocal_tract")
            else c
            for k, c in v.controls.items()
        }
        if neutral_tract:
            held["vocal_tract"] = neutral_vowel_tract(held["vocal_tract"], self.model.synth)
        return synthesize(self.model, dataclasses.replace(v, controls=held))[0]

    def tract_peaks(self, edit: VoiceEdit) -> torch.Tensor:
        """F1-F3 of the (edited) vocal tract's own response, ``(frames, 3)`` radians."""
        return vocal_tract_peaks(
            self.model.synth.biquads(self.edited(edit).controls["vocal_tract"])[0]
        )

    def f0(self, y: torch.Tensor) -> torch.Tensor:
        return f0_track(y, self.sr, self.hop, f0_max=1600.0)[: len(y) // self.hop]

    def formants(self, y: torch.Tensor) -> torch.Tensor:
        return formant_tracks(y, self.sr, self.hop)[: len(y) // self.hop]

    def error(self, est: torch.Tensor, ref: torch.Tensor, voiced: torch.Tensor) -> float:
        return median(cents(est, ref)[voiced].abs())


def pitch_rows(c: Clip) -> list[dict]:
    rows, smooth = [], smoothed_f0(c.voice.f0)[0]
    for s in SHIFTS:
        y = c.render(VoiceEdit(pitch_shift=s), f"pitch{s:+d}")
        est, want = c.f0(y), c.voice.f0[0] * 2 ** (s / 12)
        ys = c.render(VoiceEdit(pitch_shift=s, f0=smooth))
        d = cents(est, want)[c.voiced]
        est_s, want_s = c.f0(ys), smooth * 2 ** (s / 12)
        frozen = c.frozen(VoiceEdit(pitch_shift=s, f0=smooth, noise_scale=0.0))
        rows.append(
            {
                "semitones": s,
                "cents_vs_request": median(d.abs()),
                "cents_vs_smooth_request": c.error(est_s, want_s, c.voiced),
                "same_interior_frames": c.error(est_s, want_s, c.interior),
                "unsmoothed_controls": c.error(
                    c.f0(c.render(VoiceEdit(pitch_shift=s, f0=smooth, smooth_controls=False))),
                    want_s,
                    c.voiced,
                ),
                "tracker_on_sawtooth": c.error(
                    c.f0(sawtooth(want_s, c.hop, c.sr)), want_s, c.voiced
                ),
                "frozen_shape_and_tract": c.error(c.f0(frozen), want_s, c.voiced),
                "bias_cents": median(d),
                "voiced_frames_tracked": int(torch.isfinite(d).sum()),
            }
        )
    return rows


def sawtooth(f0: torch.Tensor, hop: int, sr: int) -> torch.Tensor:
    """A band-limited sawtooth (harmonics ``1 / k`` below Nyquist) whose phase integrates ``f0``
    ``(frames,)`` Hz, linear between frames as the oscillator's: ``(frames * hop,)``."""
    f = upsample(f0.double()[None, :, None], hop)[0, :, 0]
    phase = 2 * torch.pi * torch.cumsum(f, 0) / sr
    y = torch.zeros_like(f)
    for k in range(1, int(sr / 2 / float(f.min())) + 1):
        y += torch.where(k * f < sr / 2, torch.sin(k * phase) / k, 0.0)
    return 0.1 * y.float()


def band_balance_db(y: torch.Tensor, sr: int) -> float:
    """Energy above ``sr / 4`` over energy below it, in dB (the output's spectral balance)."""
    power = torch.fft.rfft(y.double()).abs().square()
    cut = power.shape[-1] // 2
    return float(10 * torch.log10(power[cut:].sum() / power[:cut].sum()))


def formant_rows(c: Clip) -> list[dict]:
    rows = []
    edits = [
        (f"formant_scale {f:g}", VoiceEdit(formant_scale=f), (f, f, f)) for f in FORMANT_SCALES
    ]
    edits += [
        ("F1,F2,F3 x " + ",".join(f"{x:g}" for x in ff), VoiceEdit(formant_factors=ff), ff)
        for ff in FORMANT_FACTORS
    ]
    edits += [
        (
            f"formant_scale {f:g}, envelope",
            VoiceEdit(formant_scale=f, formant_method="envelope"),
            (f,) * 3,
        )
        for f in FORMANT_SCALES
    ]
    balance = band_balance_db(c.y0, c.sr)
    for label, edit, want in edits:
        name = "formants_" + label.replace(" ", "").replace(",", "_").replace("formant_scale", "")
        y = c.render(edit, name)
        ratio = (c.formants(y) / c.formants_0)[c.voiced]
        peaks = (c.tract_peaks(edit) / c.tract_peaks(VoiceEdit()))[c.voiced]
        rows.append(
            {
                "edit": label,
                **{
                    f"F{k + 1}_error_pct": 100 * (median(ratio[:, k]) / want[k] - 1)
                    for k in range(3)
                },
                "f0_drift_cents": c.error(c.f0(y), c.f0_0, c.voiced),
                "balance_change_db": band_balance_db(y, c.sr) - balance,
                "tract_peaks_error_pct": max(
                    abs(100 * (median(peaks[:, k]) / want[k] - 1)) for k in range(3)
                ),
            }
        )
    return rows


def formant_control_rows(c: Clip) -> list[dict]:
    """The formant scalings applied to :func:`neutral_vowel_tract`'s tract in place of the
    model's (every other control as encoded): F1-F3 against the request. The warp and the
    measure alone, without the learned tract's broad, many-pole response."""
    v = c.voice
    controls = {
        **v.controls,
        "vocal_tract": neutral_vowel_tract(v.controls["vocal_tract"], c.model.synth),
    }

    def formants(edit: VoiceEdit) -> torch.Tensor:
        edited = edit_controls(edit, c.model.synth, v.f0, controls, v.voiced, v.gain)
        return c.formants(synthesize(c.model, edited)[0])

    ref = formants(VoiceEdit())
    rows = []
    for f in FORMANT_SCALES:
        ratio = (formants(VoiceEdit(formant_scale=f)) / ref)[c.voiced]
        rows.append(
            {
                "formant_scale": f,
                **{f"F{k + 1}_error_pct": 100 * (median(ratio[:, k]) / f - 1) for k in range(3)},
            }
        )
    return rows


def rd_rows(c: Clip) -> list[dict]:
    rows = []
    for rd in RDS:
        y = c.render(VoiceEdit(rd=rd), f"rd{rd:g}")
        ratio = (c.formants(y) / c.formants_0)[c.voiced]
        h = h1_h2(y, c.f0_0, c.sr, c.hop)[c.voiced]
        rows.append(
            {
                "rd": rd,
                "h1_h2_db": median(h),
                **{f"F{k + 1}_change_pct": 100 * (median(ratio[:, k]) - 1) for k in range(3)},
                "f0_drift_cents": c.error(c.f0(y), c.f0_0, c.voiced),
            }
        )
    return rows


def rd_control_rows(c: Clip) -> list[dict]:
    """The Rd edits with the source and tract held at their medians (noise, f0 and gain as
    encoded): F1-F3 against the same holds at the encoded Rd, through the model's own tract and
    through :func:`neutral_vowel_tract`'s. Where the second holds still and the first does
    not, the measured moves come from the learned tract's shape, not from the edit."""
    refs = {t: c.formants(c.frozen(VoiceEdit(), t)) for t in (False, True)}
    rows = []
    for rd in RDS:
        row: dict = {"rd": rd}
        for t, tag in ((False, "model_tract"), (True, "neutral_vowel")):
            ratio = (c.formants(c.frozen(VoiceEdit(rd=rd), t)) / refs[t])[c.voiced]
            row |= {f"F{k + 1}_{tag}_pct": 100 * (median(ratio[:, k]) - 1) for k in range(3)}
        rows.append(row)
    return rows


def noise_rows(c: Clip) -> list[dict]:
    quiet = c.render(VoiceEdit(noise_scale=0.0), "noise0")
    base = (c.y0 - quiet).square().mean()
    rows = []
    for s in NOISE_SCALES[1:]:
        y = c.render(VoiceEdit(noise_scale=s), f"noise{s:g}")
        got = 10 * torch.log10((y - quiet).square().mean() / base)
        rows.append({"noise_scale": s, "requested_db": 20 * np.log10(s), "measured_db": float(got)})
    return rows


def timing_rows(c: Clip) -> list[dict]:
    rows, smooth = [], smoothed_f0(c.voice.f0)
    n = c.y0.shape[-1]
    for s in STRETCHES:
        y = c.render(VoiceEdit(time_stretch=s), f"stretch{s:g}")
        want = stretch_frames(c.voice.f0, s, log=True)[0]
        voiced = stretch_frames(c.batch["voiced"].float(), s)[0] > 0.5
        want_smooth = stretch_frames(smooth, s, log=True)[0]
        ys = c.render(VoiceEdit(time_stretch=s, f0=want_smooth))
        rows.append(
            {
                "time_stretch": s,
                "duration_error_hops": (y.shape[-1] - s * n) / c.hop,
                "cents_vs_warped_f0": c.error(c.f0(y), want, voiced),
                "cents_vs_warped_smooth_f0": c.error(c.f0(ys), want_smooth, voiced),
            }
        )
    return rows


def gain_rows(c: Clip) -> list[dict]:
    rms0 = c.y0.square().mean().sqrt()
    rows = []
    for g in GAINS_DB:
        y = c.render(VoiceEdit(gain_db=g))
        rows.append(
            {"gain_db": g, "measured_db": float(20 * torch.log10(y.square().mean().sqrt() / rms0))}
        )
    return rows


def exactness(c: Clip) -> dict:
    neutral = VoiceEdit(
        pitch_shift=0.0,
        f0_scale=1.0,
        formant_scale=1.0,
        rd_offset=0.0,
        noise_scale=1.0,
        time_stretch=1.0,
        gain_db=0.0,
    )
    with torch.no_grad():
        ref = c.model.render(c.batch, c.voice.controls, torch.Generator().manual_seed(0))[0]
    compound = c.edited(COMPOUND)
    offline = synthesize(c.model, compound)
    streamed = synthesize(c.model, compound, block_frames=4)
    # the same in float64, and float32's own rounding: offline float32 vs float64, same noise
    model64, compound64 = copy.deepcopy(c.model).double(), compound.to(torch.float64)
    offline64 = synthesize(model64, compound64)
    streamed64 = synthesize(model64, compound64, block_frames=4)
    noise = torch.rand(1, compound.frames * c.hop, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        exact = edit_render(model64.synth, compound64, noise=2 * noise.double() - 1)
        f32 = edit_render(c.model.synth, compound, noise=2 * noise - 1)
    return {
        "identity_max_abs": float((c.render(neutral) - ref).abs().max()),
        "streaming_max_abs": float((streamed - offline).abs().max()),
        "streaming_max_abs_float64": float((streamed64 - offline64).abs().max()),
        "float32_rounding_max_abs": float((f32.double() - exact).abs().max()),
    }


def table(title: str, rows: list[dict], fmt: str = "{:.2f}") -> str:
    keys = list(rows[0])
    out = [f"**{title}**", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        cells = [fmt.format(v) if isinstance(v, float) else str(v) for v in (r[k] for k in keys)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def figure(clip: Clip, results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ddsp.plot import plot_spectrogram

    fig = plt.figure(figsize=(18, 11), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2, 1])
    panels = ["pitch", "formants", "h1h2", "rd_f1"]
    ax = dict(zip(panels, bottom.subplots(1, 4), strict=True))
    ax |= {f"s{i}": a for i, a in enumerate(top.subplots(2, 3).flat)}
    shows = [
        ("unedited", VoiceEdit()),
        ("pitch +7 semitones", VoiceEdit(pitch_shift=7)),
        ("time stretch 1.5", VoiceEdit(time_stretch=1.5)),
        ("formants x 0.8", VoiceEdit(formant_scale=0.8)),
        ("formants x 1.2", VoiceEdit(formant_scale=1.2)),
        ("Rd 2.7 (breathy)", VoiceEdit(rd=2.7)),
    ]
    for i, (title, edit) in enumerate(shows):
        voice = clip.edited(edit)
        y = synthesize(clip.model, voice)[0]
        f0 = voice.f0[0] * (voice.voiced[0] > 0.5) if voice.voiced is not None else voice.f0[0]
        plot_spectrogram(y, clip.sr, ax=ax[f"s{i}"], title=title, f0=f0, f0_hop=clip.hop)
        ax[f"s{i}"].set_ylim(0, 4000)
    for name, r in results.items():
        p = r["pitch"]
        line = ax["pitch"].plot(
            [x["semitones"] for x in p], [x["cents_vs_smooth_request"] for x in p], "o-", label=name
        )[0]
        ax["pitch"].plot(
            [x["semitones"] for x in p],
            [x["unsmoothed_controls"] for x in p],
            "x--",
            color=line.get_color(),
            alpha=0.6,
            label=f"{name}, smooth_controls=False",
        )
        rd = [x["rd"] for x in r["rd"]]
        ax["h1h2"].plot(rd, [x["h1_h2_db"] for x in r["rd"]], "o-", label=name)
        line = ax["rd_f1"].plot(rd, [x["F1_change_pct"] for x in r["rd"]], "o-", label=name)[0]
        ax["rd_f1"].plot(
            rd,
            [x["F1_neutral_vowel_pct"] for x in r["rd_control"]],
            "s--",
            color=line.get_color(),
            label=f"{name}, neutral-vowel tract",
        )
        scales = [
            x
            for x in r["formants"]
            if x["edit"].startswith("formant_scale") and "envelope" not in x["edit"]
        ]
        for k, marker in enumerate("os^"):
            ax["formants"].plot(
                FORMANT_SCALES,
                [x[f"F{k + 1}_error_pct"] for x in scales],
                marker,
                ls="-",
                label=f"{name} F{k + 1}",
            )
    ax["pitch"].axhline(10, color="grey", ls="--")
    ax["pitch"].set(
        title="pitch: |cents| vs request (smoothed f0)",
        xlabel="shift (semitones)",
        ylabel="median |cents|",
    )
    ax["formants"].axhspan(-5, 5, color="grey", alpha=0.2)
    ax["formants"].set(
        title="formants: measured / requested - 1", xlabel="formant_scale", ylabel="%"
    )
    ax["h1h2"].set(title="voice quality: H1-H2 vs Rd", xlabel="Rd", ylabel="H1-H2 (dB)")
    ax["rd_f1"].axhspan(-5, 5, color="grey", alpha=0.2)
    ax["rd_f1"].set(
        title="Rd: measured F1 change (tract unchanged)",
        xlabel="Rd",
        ylabel="%",
    )
    for p in panels:
        ax[p].legend(fontsize="x-small")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def example(clip: Clip, cfg, path: Path) -> None:
    """``python -m ddsp.resynth``'s figure for the compound edit (:data:`COMPOUND`)."""
    from ddsp.resynth import edit_and_render, plot

    plot(edit_and_render(clip.model, clip.batch, clip.voice, COMPOUND), clip.model, cfg, path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("ckpt", nargs="?", default=None, help="ckpt=PATH; default: pretrained/")
    ap.add_argument("--quick", action="store_true", help="one voice, results to a temp folder")
    ap.add_argument("--audio-dir", default=None, help="where the rendered audio goes")
    ap.add_argument("--name", default="voice_editing", help="results file name (e.g. for GOLF-ff)")
    a = ap.parse_args(argv)
    torch.set_num_threads(min(torch.get_num_threads(), 4))
    ckpt = a.ckpt.split("=", 1)[1] if a.ckpt and a.ckpt.startswith("ckpt=") else a.ckpt
    model, cfg = load_vocoder(ckpt)
    base = Path(os.environ.get("DDSP_RESULTS_DIR") or tempfile.gettempdir())
    audio_dir = Path(a.audio_dir) if a.audio_dir else base / "ddsp-voice-editing"
    audio_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results, clips = {}, {}
    for name, file in list(CLIPS.items())[: 1 if a.quick else None]:
        clip = clips[name] = Clip(model, cfg, DATA / file, audio_dir)
        results[name] = {
            "file": file,
            "f0_median_hz": float(clip.voice.f0[0][clip.voiced].median()),
            "pitch": pitch_rows(clip),
            "formants": formant_rows(clip),
            "formant_control": formant_control_rows(clip),
            "rd": rd_rows(clip),
            "rd_control": rd_control_rows(clip),
            "noise": noise_rows(clip),
            "timing": timing_rows(clip),
            "gain": gain_rows(clip),
            **exactness(clip),
        }
        print(f"{name}: measured in {time.perf_counter() - t0:.1f} s")
    synth = model.synth
    kind = f"{type(synth).__name__}(mode={getattr(synth, 'mode', '-')})"
    md = [
        f"# Voice editing, measured\n\nModel: `{Path(ckpt).name if ckpt else 'pretrained/golf_ss.ckpt'}` "
        f"({kind}). Command: `python experiments/voice_editing.py{' ckpt=<it>' if a.ckpt else ''}"
        f"{'' if a.name == 'voice_editing' else ' --name ' + a.name}`; "
        f"{time.perf_counter() - t0:.0f} s on {os.cpu_count()} CPUs, "
        f"{torch.get_num_threads()} torch threads. Medians over the data's voiced frames.\n"
    ]
    for name, r in results.items():
        md.append(f"## {name}: `{r['file']}`, f0 median {r['f0_median_hz']:.0f} Hz\n")
        md.append(table("pitch (cents)", r["pitch"]))
        md.append(
            table("formants (F1-F3 error re. the request, %; f0 drift, cents)", r["formants"])
        )
        md.append(
            table(
                "formants through a fixed neutral vowel in place of the model's tract (F1-F3 "
                "error re. the request, %)",
                r["formant_control"],
            )
        )
        md.append(table("voice quality (Rd)", r["rd"]))
        md.append(
            table(
                "Rd, source and tract held at their medians: F1-F3 change (%) through the "
                "model's tract and through a neutral vowel's (500 / 1500 / 2500 / 3500 / 4500 Hz)",
                r["rd_control"],
            )
        )
        md.append(table("aspiration noise", r["noise"]))
        md.append(table("timing", r["timing"]))
        md.append(table("loudness", r["gain"]))
        md.append(
            f"Neutral edit vs the model's own render: max |diff| {r['identity_max_abs']:.1e}; "
            f"streamed (4 frames a block) vs offline, compound edit: max |diff| "
            f"{r['streaming_max_abs']:.1e} in float32, {r['streaming_max_abs_float64']:.1e} in "
            f"float64; float32's own rounding there (offline float32 vs float64, same noise): "
            f"{r['float32_rounding_max_abs']:.1e}.\n"
        )
    out = write_results(a.name, "\n".join(md), {"model": kind, **results}, a.quick)
    first = next(iter(clips.values()))
    figure(first, results, out / f"{a.name}.png")
    if a.name == "voice_editing":
        example(first, cfg, out / "voice_edit_example.png")
    print(f"wrote {a.name}.md / .json / .png to {out}; audio in {audio_dir}")


if __name__ == "__main__":
    main()

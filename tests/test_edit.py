"""Voice editing: each edit measured on the pretrained model's output (the issue's tolerances),
neutral edits bit-identical, streaming equal to offline, clear errors; and the primitives under
it (biquad <-> logits, warps, refit, section matching) against direct computations."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from conftest import DATA

from ddsp.filters.lpc import (
    biquads_to_logits,
    logits_to_biquads,
    lpc_roots,
    lpc_to_biquads,
    sos_to_lpc,
)
from ddsp.filters.warp import piecewise_linear, warp_allpole
from ddsp.metrics.voice import cents, f0_track, formant_tracks, h1_h2, smoothed_f0
from ddsp.synth import GlottalFlowLPC, HarmonicPlusNoise, PulseTrainLPC, SawtoothFIR
from ddsp.synth.edit import (
    VoiceControls,
    VoiceEdit,
    apply_gain,
    curve_from_points,
    edit_controls,
    f0_from_notes,
    rd_track,
    render,
    smooth_frames,
    stretch_frames,
)
from ddsp.synth.formants import (
    NEUTRAL_VOWEL,
    formant_anchors,
    match_sections,
    pole_angles,
    resonance_biquads,
    scale_anchors,
    set_pole_angles,
    set_tract_biquads,
    vocal_tract_peaks,
    warp_biquads,
)

LOW_VOICE = DATA / "barrel__bar-v-genofond.ogg"  # f0 median ~123 Hz, 5.5 s
SR, HOP = 16000, 160


def median(x: torch.Tensor) -> float:
    return float(x[torch.isfinite(x)].median())


class Clip:
    """The pretrained GOLF-ss on a shipped recording, encoded once."""

    def __init__(self) -> None:
        from ddsp.models.checkpoint import load_vocoder
        from ddsp.resynth import encode_file

        self.model, cfg = load_vocoder(None)
        self.batch, self.voice = encode_file(self.model, cfg, LOW_VOICE)
        self.voiced = self.batch["voiced"][0] > 0.5
        self.y0 = self.render(VoiceEdit())
        self.f0_0 = self.f0(self.y0)
        self.formants_0 = formant_tracks(self.y0, SR, HOP)[: self.voice.frames]

    def edited(self, edit: VoiceEdit) -> VoiceControls:
        v = self.voice
        return edit_controls(edit, self.model.synth, v.f0, v.controls, v.voiced, v.gain)

    def render(self, edit: VoiceEdit) -> torch.Tensor:
        from ddsp.resynth import synthesize

        return synthesize(self.model, self.edited(edit))[0]

    def f0(self, y: torch.Tensor) -> torch.Tensor:
        return f0_track(y, SR, HOP)[: len(y) // HOP]

    def formant_ratio(self, y: torch.Tensor) -> list[float]:
        r = (formant_tracks(y, SR, HOP)[: self.voice.frames] / self.formants_0)[self.voiced]
        return [median(r[:, k]) for k in range(3)]


@pytest.fixture(scope="module")
def clip() -> Clip:
    return Clip()


def test_neutral_edits_render_bit_identically(clip):
    with torch.no_grad():
        ref = clip.model.render(clip.batch, clip.voice.controls, torch.Generator().manual_seed(0))
    neutral = dict(
        pitch_shift=0.0,
        f0_scale=1.0,
        formant_scale=1.0,
        formant_factors=(1.0, 1.0, 1.0),
        rd_offset=0.0,
        noise_scale=1.0,
        time_stretch=1.0,
        gain_db=0.0,
    )
    for name, value in neutral.items():
        assert torch.equal(clip.render(VoiceEdit(**{name: value})), ref[0]), name
    assert torch.equal(clip.render(VoiceEdit(**neutral)), ref[0])
    edited = clip.edited(VoiceEdit(**neutral))
    assert edited.f0 is clip.voice.f0 and edited.controls is clip.voice.controls


@pytest.mark.parametrize("semitones", [-12, -7, 0, 7, 12])
def test_pitch_follows_the_request(clip, semitones):
    """Median |cents| < 10 against a request the tracker can follow (the recording's f0
    smoothed over 50 ms, shifted); against the raw 10 ms contour the tracker's own floor is
    8-14 cents (shift 0), so there the bias is checked."""
    smooth = smoothed_f0(clip.voice.f0[0])
    y = clip.render(VoiceEdit(pitch_shift=semitones, f0=smooth))
    err = cents(clip.f0(y), smooth * 2 ** (semitones / 12))[clip.voiced]
    assert median(err.abs()) < 10
    raw = cents(clip.f0(clip.render(VoiceEdit(pitch_shift=semitones))), clip.voice.f0[0])
    assert abs(median(raw[clip.voiced]) - 100 * semitones) < 5


def test_lowered_pitch_smooths_the_controls_and_nothing_else_does(clip):
    """An octave down, the controls are averaged over 2 frames (the f0 ratio's inverse), which
    is what brings the low voice's -12 within 10 cents (without: 10.5 measured); a raised or
    unchanged pitch, or ``smooth_controls=False``, keeps the very tensors."""
    v, synth = clip.voice, clip.model.synth
    down = edit_controls(VoiceEdit(pitch_shift=-12), synth, v.f0, v.controls, v.voiced, v.gain)
    for k, c in v.controls.items():
        assert torch.allclose(down.controls[k], smooth_frames(c, 2.0), atol=1e-6), k
        assert not torch.equal(down.controls[k], c), k
    for edit in (
        VoiceEdit(pitch_shift=7),
        VoiceEdit(pitch_shift=-12, smooth_controls=False),
        VoiceEdit(f0=v.f0[0]),  # the recording's own f0 as a curve: ratio 1
    ):
        out = edit_controls(edit, synth, v.f0, v.controls, v.voiced, v.gain)
        assert all(out.controls[k] is c for k, c in v.controls.items()), edit
    smooth = smoothed_f0(v.f0[0])
    rough = clip.render(VoiceEdit(pitch_shift=-12, f0=smooth, smooth_controls=False))
    err = cents(clip.f0(rough), smooth / 2)[clip.voiced]
    assert median(err.abs()) > 10  # what the smoothing is for (10.47 when written)


def test_smoothing_is_per_example_and_follows_an_f0_curve():
    synth = GlottalFlowLPC(SR, HOP)
    f0, controls = _random_controls(synth)
    f0, controls = f0.expand(2, -1), {k: c.expand(2, -1, -1) for k, c in controls.items()}
    curve = torch.stack([f0[0] / 3, f0[1] * 1.5])  # example 0 lowered x 1/3, example 1 raised
    out = edit_controls(VoiceEdit(f0=curve), synth, f0, controls).controls
    for k, c in controls.items():
        assert torch.allclose(out[k][:1], smooth_frames(c[:1], 3.0), atol=1e-6), k
        assert torch.equal(out[k][1], c[1]), k


def test_smooth_frames_is_a_normalised_triangle():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 12, 3, dtype=torch.float64, generator=g)
    assert smooth_frames(x, 1.0) is x and smooth_frames(x, 0.4) is x
    for width in (1.5, 2.0, 3.7):
        n = math.ceil(width) - 1
        want = torch.empty_like(x)
        for k in range(12):
            js = [j for j in range(-n, n + 1) if 0 <= k + j < 12]
            w = torch.tensor([1 - abs(j) / width for j in js], dtype=torch.float64)
            want[:, k] = (w[:, None] * x[:, [k + j for j in js]]).sum(1) / w.sum()
        assert torch.allclose(smooth_frames(x, width), want, rtol=1e-12), width
    y = smooth_frames(x, 2.0)
    assert torch.allclose(y[:, 5], 0.25 * x[:, 4] + 0.5 * x[:, 5] + 0.25 * x[:, 6], rtol=1e-12)
    with pytest.raises(ValueError, match="width must be a finite number of frames, got nan"):
        smooth_frames(x, math.nan)
    with pytest.raises(
        ValueError, match=r"x must be a \(batch, frames, channels\) track, got \(12, 3\)"
    ):
        smooth_frames(x[0], 2.0)


@pytest.mark.parametrize("factor", [0.8, 0.9, 1.1, 1.2])
def test_formants_scale_by_the_factor(clip, factor):
    y = clip.render(VoiceEdit(formant_scale=factor))
    for k, ratio in enumerate(clip.formant_ratio(y)):
        assert abs(ratio / factor - 1) < 0.05, (k + 1, ratio)
    assert median(cents(clip.f0(y), clip.f0_0)[clip.voiced].abs()) < 10


def test_formant_edits_measure_the_same_under_praat(clip):
    """The formant criterion's measure is Praat's own: the ratios our tracker reports for a
    x 0.8 scaling and for F1 x 1.2 alone equal those of Praat's Burg tracker within 2 % (measured
    on this voice: within 1.1 % for every formant edit of experiments/voice_editing.py; on the
    307 Hz voice within 1.1 % for these two, 3.2 % at worst (F3 at x 1.2), where both trackers
    put F1 on the harmonics)."""
    from conftest import praat_formants

    n = clip.voice.frames
    theirs_0 = praat_formants(clip.y0, SR, HOP)[:n]
    for edit in (VoiceEdit(formant_scale=0.8), VoiceEdit(formant_factors=(1.2, 1.0, 1.0))):
        y = clip.render(edit)
        theirs = (praat_formants(y, SR, HOP)[:n] / theirs_0)[clip.voiced]
        ours = clip.formant_ratio(y)
        for k in range(3):
            assert abs(ours[k] - median(theirs[:, k])) < 0.02, (edit, k + 1)


@pytest.mark.parametrize("factors", [(1.2, 1.0, 1.0), (1.0, 1.2, 1.0), (0.85, 1.15, 1.0)])
def test_formants_move_independently(clip, factors):
    ratios = clip.formant_ratio(clip.render(VoiceEdit(formant_factors=factors)))
    for k, (ratio, want) in enumerate(zip(ratios, factors, strict=True)):
        assert abs(ratio / want - 1) < 0.05, (k + 1, ratio, want)


def _balance_db(y: torch.Tensor) -> float:
    power = torch.fft.rfft(y.double()).abs().square()
    return float(10 * torch.log10(power[len(power) // 2 :].sum() / power[: len(power) // 2].sum()))


def test_envelope_warp_moves_the_peaks_and_keeps_the_balance(clip):
    """The trade-off documented in ddsp.synth.formants, measured: the envelope refit puts the
    vocal tract's response peaks on the request and keeps the output's spectral balance; the
    pole-angle warp tilts it by tens of dB."""
    synth = clip.model.synth
    peaks0 = vocal_tract_peaks(synth.biquads(clip.voice.controls["vocal_tract"])[0])
    edit = VoiceEdit(formant_scale=1.2, formant_method="envelope")
    peaks = vocal_tract_peaks(synth.biquads(clip.edited(edit).controls["vocal_tract"])[0])
    ratio = (peaks / peaks0)[clip.voiced]
    for k in range(3):
        assert abs(median(ratio[:, k]) / 1.2 - 1) < 0.015
    base = _balance_db(clip.y0)
    assert abs(_balance_db(clip.render(edit)) - base) < 6
    assert _balance_db(clip.render(VoiceEdit(formant_scale=1.2))) - base > 15


def test_breathier_rd_raises_h1_h2_and_leaves_the_rest(clip):
    h12 = []
    for rd in (0.3, 0.5, 0.8, 1.2, 1.8, 2.7):
        voice = clip.edited(VoiceEdit(rd=rd))
        assert torch.allclose(rd_track(voice.controls["source"]), torch.tensor(rd), rtol=1e-5)
        for name in ("vocal_tract", "noise"):
            assert voice.controls[name] is clip.voice.controls[name]
        assert torch.equal(voice.controls["source"][..., 1], clip.voice.controls["source"][..., 1])
        y = clip.render(VoiceEdit(rd=rd))
        h12.append(median(h1_h2(y, clip.f0_0, SR, HOP)[clip.voiced]))
        if rd <= 1.8:  # at 2.7 the breathy source re-tracks at 9.8 cents: too close to 10 to hold
            assert median(cents(clip.f0(y), clip.f0_0)[clip.voiced].abs()) < 10
    assert all(b > a + 1 for a, b in zip(h12, h12[1:], strict=False)), h12


def test_rd_offset_clamps_to_the_tables():
    synth = GlottalFlowLPC(SR, HOP)
    f0, controls = _random_controls(synth)
    out = edit_controls(VoiceEdit(rd_offset=10.0), synth, f0, controls).controls["source"]
    assert torch.allclose(rd_track(out), torch.tensor(2.7), rtol=1e-5)


@pytest.mark.parametrize("factor", [0.8, 1.25, 2.0])
def test_time_stretch_keeps_pitch_and_scales_duration(clip, factor):
    want = stretch_frames(smoothed_f0(clip.voice.f0), factor, log=True)[0]
    y = clip.render(VoiceEdit(time_stretch=factor, f0=want))
    assert abs(len(y) - factor * len(clip.y0)) <= HOP
    voiced = stretch_frames(clip.batch["voiced"].float(), factor)[0] > 0.5
    assert median(cents(clip.f0(y), want)[voiced].abs()) < 10


def test_noise_and_gain_scale_what_they_say(clip):
    """Scaling down is exact in energy; scaling up multiplies every magnitude up to the noise
    branch's ceiling (exp_sigmoid's maximum, 2) and stops there, as documented."""
    from ddsp.synth.noise import noise_magnitudes

    quiet = clip.render(VoiceEdit(noise_scale=0.0))
    base = (clip.y0 - quiet).square().mean()
    got = (clip.render(VoiceEdit(noise_scale=0.5)) - quiet).square().mean() / base
    assert 10 * math.log10(got) == pytest.approx(20 * math.log10(0.5), abs=0.3)
    m0 = noise_magnitudes(clip.voice.controls["noise"].double())
    m2 = noise_magnitudes(clip.edited(VoiceEdit(noise_scale=2.0)).controls["noise"].double())
    torch.testing.assert_close(m2, (2 * m0).clamp(max=2.0), rtol=1e-4, atol=1e-6)
    got = (clip.render(VoiceEdit(noise_scale=2.0)) - quiet).square().mean() / base
    assert 3.0 < 10 * math.log10(got) < 6.02 + 0.3
    y = clip.render(VoiceEdit(gain_db=-6.0))
    assert torch.allclose(y, clip.y0 * 10 ** (-6 / 20), atol=1e-6)


def test_streaming_equals_offline_for_edited_controls(clip):
    """Streaming is exact: in float64 the streamed render equals the offline one to 1e-9 of the
    peak. In float32 each render carries rounding that the vocal tract's poles near the unit
    circle amplify (offline float32 against float64, same noise: about 1e-5 of the peak on the
    shipped voices), so there the two may differ by up to twice that rounding, measured."""
    import copy

    from ddsp.resynth import synthesize

    edit = VoiceEdit(pitch_shift=3, formant_scale=0.85, rd=1.8, time_stretch=1.25, gain_db=-3)
    voice = clip.edited(edit)
    model64, voice64 = copy.deepcopy(clip.model).double(), voice.to(torch.float64)
    offline64 = synthesize(model64, voice64)
    streamed64 = synthesize(model64, voice64, 4)
    assert (streamed64 - offline64).abs().max() <= 1e-9 * max(1.0, offline64.abs().max())
    noise = torch.rand(1, voice.frames * HOP, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        exact = render(model64.synth, voice64, noise=noise.double())
        rounding = (render(clip.model.synth, voice, noise=noise).double() - exact).abs().max()
    offline, streamed = synthesize(clip.model, voice), synthesize(clip.model, voice, 4)
    assert 0 < rounding < 1e-4 * exact.abs().max()  # float32's own error, for the scale
    assert (streamed - offline).abs().max() <= 2 * rounding


@pytest.mark.parametrize("mode", ["sample", "frame"])
def test_every_edit_on_golf_ss_and_ff(mode):
    from ddsp.synth import StreamingGOLF

    synth = GlottalFlowLPC(SR, HOP, mode=mode)
    f0, controls = _random_controls(synth)
    edit = VoiceEdit(
        pitch_shift=-5,
        formant_factors=(1.1, 0.9, 1.0),
        formant_scale=1.1,
        rd_offset=0.4,
        noise_scale=0.5,
        time_stretch=0.8,
        gain_db=2.0,
    )
    voice = edit_controls(edit, synth, f0, controls)
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(1, voice.frames * HOP, generator=g) * 2 - 1

    def both(synth, voice, noise):
        offline = render(synth, voice, noise=noise)
        stream, out = StreamingGOLF(synth), []
        for i in range(0, voice.frames, 7):
            sl = slice(i, i + 7)
            c = {k: v[:, sl] for k, v in voice.controls.items()}
            out.append(stream(voice.f0[:, sl], c, noise=noise[:, i * HOP : (i + 7) * HOP]))
        out.append(stream.flush())
        return offline, apply_gain(torch.cat(out, -1), voice.gain, HOP)  # the +2 dB

    offline, streamed = both(synth, voice, noise)
    assert offline.shape == (1, round(f0.shape[1] * 0.8) * HOP) and torch.isfinite(offline).all()
    exact, streamed64 = both(copy.deepcopy(synth).double(), voice.to(torch.float64), noise.double())
    assert (streamed64 - exact).abs().max() <= 1e-9 * max(1.0, exact.abs().max())
    # float32: within twice the offline render's own rounding (its distance to float64), which
    # these random poles amplify to ~2e-5 of the peak (3.9e-5 at a peak of 1.5 when written)
    rounding = (offline.double() - exact).abs().max()
    assert 0 < rounding < 1e-4 * exact.abs().max()
    assert (streamed - offline).abs().max() <= 2 * rounding


def _random_controls(synth, frames: int = 60):
    g = torch.Generator().manual_seed(1)
    f0 = 120 + 40 * torch.rand(1, frames, generator=g)
    return f0, {k: torch.randn(1, frames, n, generator=g) for k, n in synth.control_sizes.items()}


@pytest.mark.parametrize(
    "synth",
    [HarmonicPlusNoise(SR, HOP), SawtoothFIR(SR, HOP), PulseTrainLPC(SR, HOP)],
    ids=["hpn", "sawsing", "pulf"],
)
def test_other_vocoders_take_what_applies(synth):
    f0, controls = _random_controls(synth)
    edit = VoiceEdit(pitch_shift=4, time_stretch=1.5, noise_scale=2.0, gain_db=-3.0)
    voice = edit_controls(edit, synth, f0, controls)
    y = render(synth, voice, generator=torch.Generator().manual_seed(0))
    assert y.shape == (1, 90 * HOP) and torch.isfinite(y).all()
    assert torch.allclose(voice.f0, stretch_frames(f0, 1.5, log=True) * 2 ** (4 / 12))
    with pytest.raises(ValueError, match="Rd edits need GOLF's glottal source"):
        edit_controls(VoiceEdit(rd=1.0), synth, f0, controls)
    if isinstance(synth, PulseTrainLPC):  # an LPC vocal tract: formants apply to both filters
        out = edit_controls(VoiceEdit(formant_scale=0.9), synth, f0, controls).controls
        assert not torch.equal(out["harmonic"], controls["harmonic"])
        assert not torch.equal(out["noise"], controls["noise"])
    else:
        with pytest.raises(ValueError, match="need an LPC vocal tract"):
            edit_controls(VoiceEdit(formant_scale=0.9), synth, f0, controls)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"f0_scale": 0.0}, "f0_scale must be a finite number > 0, got 0.0"),
        ({"pitch_shift": math.nan}, "pitch_shift must be finite"),
        ({"formant_scale": -1.0}, "formant_scale must be a finite number > 0"),
        ({"formant_factors": (1.0, 1.0)}, "formant_factors takes 3 factors"),
        ({"formant_factors": (1.0, 1.0, 0.0)}, r"formant_factors\[2\] \(F3\) must be"),
        ({"formant_method": "lpc"}, "formant_method must be 'envelope' or 'poles'"),
        ({"rd": 3.0}, r"rd must lie in the wavetables' range \[0.3, 2.7\], got 3.0"),
        ({"noise_scale": -0.5}, "noise_scale must be a finite number >= 0"),
        ({"time_stretch": 0.0}, "time_stretch must be a finite number > 0"),
        ({"f0": torch.tensor([100.0, math.nan])}, "f0 must be a"),
        ({"gain_db": torch.tensor([0.0, math.inf])}, "gain_db must be finite"),
        ({"gain_db": 800.0}, r"gain_db must be finite and within \+-200 dB, got \[800.0\]"),
        ({"smooth_controls": "no"}, "smooth_controls must be True or False, got 'no'"),
    ],
)
def test_bad_edits_say_which_and_why(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VoiceEdit(**kwargs)


def test_curves_must_match_the_edited_frames():
    synth = GlottalFlowLPC(SR, HOP)
    f0, controls = _random_controls(synth)
    with pytest.raises(ValueError, match="the f0 curve has 60 frames, the edited voice 120"):
        edit_controls(VoiceEdit(f0=torch.full((60,), 200.0), time_stretch=2.0), synth, f0, controls)
    out = edit_controls(
        VoiceEdit(f0=f0_from_notes([(0.1, 0.3, 69)], 60, 100.0)), synth, f0, controls
    )
    assert torch.allclose(out.f0[0, 10:30], torch.tensor(440.0))
    assert torch.equal(out.f0[0, :10], f0[0, :10]) and torch.equal(out.f0[0, 30:], f0[0, 30:])


def test_curve_helpers():
    assert torch.allclose(
        curve_from_points(torch.tensor([0.0, 0.1]), torch.tensor([0.0, 10.0]), 15, 100.0),
        torch.tensor([*range(0, 11), 10, 10, 10, 10], dtype=torch.float32),
    )
    notes = f0_from_notes([(0.0, 0.05, 60), (0.05, 0.1, 72.5)], 12, 100.0)
    assert notes[0] == pytest.approx(261.6256, rel=1e-6)
    assert notes[5] == pytest.approx(440 * 2 ** (3.5 / 12), rel=1e-6)
    assert notes[10] == 0
    with pytest.raises(ValueError, match="note 0"):
        f0_from_notes([(0.2, 0.1, 60)], 10, 100.0)


def test_resynth_cli_edits_and_plots(tmp_path, capsys):
    from ddsp.resynth import main

    notes = tmp_path / "notes.txt"
    notes.write_text("# start_s end_s midi_note\n0.3 1.9 50\n2.7 4.8 53\n")
    out, png = tmp_path / "edit.wav", tmp_path / "edit.png"
    edits = ["--pitch-shift", "3", "--formant-scale", "0.85", "--rd", "1.8", "--time-stretch"]
    main([str(LOW_VOICE), str(out), *edits, "1.25", "--plot", str(png)])  # the README's
    assert out.stat().st_size > 0 and png.stat().st_size > 0
    args = [str(LOW_VOICE), str(out), "--f0-file", str(notes), "--formant-scale", "0.85"]
    import soundfile as sf

    main([str(LOW_VOICE), str(out), "--pitch-shift", "-12"])
    smoothed = sf.read(out)[0]
    main([str(LOW_VOICE), str(out), "--pitch-shift", "-12", "--no-control-smoothing"])
    assert smoothed.shape == sf.read(out)[0].shape and not np.array_equal(smoothed, sf.read(out)[0])
    main([*args, "--time-stretch", "1.25"])

    y, sr = sf.read(out)
    assert sr == SR and abs(len(y) - 1.25 * 552 * HOP) <= HOP
    est = f0_track(torch.from_numpy(y), SR, HOP)
    t = np.arange(len(est)) / 100.0
    for start, end, note in ((0.3, 1.9, 50), (2.7, 4.8, 53)):
        inside = torch.from_numpy((t > start + 0.05) & (t < end - 0.05))
        err = cents(est[inside], torch.tensor(440 * 2 ** ((note - 69) / 12)))
        assert median(err.abs()) < 10, (note, median(err.abs()))


def test_biquads_to_logits_inverts_logits_to_biquads():
    logits = torch.randn(50, 11, 2, dtype=torch.float64) * 2
    assert torch.allclose(biquads_to_logits(logits_to_biquads(logits)), logits, atol=1e-9)
    edge = torch.tensor([[2 * 0.99, 0.99**2], [0.0, -(0.99**2)]], dtype=torch.float64)
    assert torch.isfinite(biquads_to_logits(edge)).all()  # on the triangle's edge: clamped


def test_pole_angle_warps_keep_radii():
    sos = logits_to_biquads(torch.randn(40, 11, 2, dtype=torch.float64))
    angle = pole_angles(sos)
    moved = set_pole_angles(sos, angle * 0.7)
    complex_pair = sos[..., 0].square() < 4 * sos[..., 1]
    assert torch.allclose(pole_angles(moved)[complex_pair], (angle * 0.7)[complex_pair])
    assert torch.equal(moved[..., 1], sos[..., 1])  # a2 = r^2: the radius is kept
    assert torch.equal(moved[~complex_pair], sos[~complex_pair])
    roots = lpc_roots(sos_to_lpc(warp_biquads(sos, 1.3)))
    assert roots.abs().max() < 0.99 + 1e-9


def test_warp_anchors():
    src, dst = scale_anchors(1.2)
    assert src[0] == dst[0] == 0 and src[-1] == dst[-1] == math.pi
    assert dst[1] == pytest.approx(1.2 * src[1]) and src[1] == pytest.approx(math.pi / 2)
    src, dst = scale_anchors(2.5)  # knee lowered so that nothing passes Nyquist
    assert dst[1] == pytest.approx(0.9 * math.pi)
    peaks = torch.tensor([[0.2, 0.6, math.nan], [0.2, 0.3, 0.9]], dtype=torch.float64)
    src, dst = formant_anchors(peaks, (1.0, 2.0, 1.0))
    assert torch.allclose(dst[0], torch.tensor([0, 0.2, 1.2, 1.2, math.pi], dtype=torch.float64))
    assert (dst.diff(dim=-1) >= 0).all()  # F2 x 2 passes nothing: monotone
    assert torch.allclose(dst[1], torch.tensor([0, 0.2, 0.6, 0.9, math.pi], dtype=torch.float64))


def test_piecewise_linear_is_numpy_interp():
    xp, fp = np.array([0.0, 1.0, 1.5, 3.0]), np.array([0.0, 2.0, 2.2, 3.0])
    x = np.linspace(0, 3, 37)
    got = piecewise_linear(torch.from_numpy(x), torch.from_numpy(xp), torch.from_numpy(fp))
    assert np.allclose(got.numpy(), np.interp(x, xp, fp))


def test_warp_allpole_moves_a_resonance():
    """The refit's response peak lands on the warped peak (a biquad's peak is not at its pole
    angle, so the peaks are compared): within 2 % for a lone resonance refitted at order 2 (a
    warped resonance is not exactly a biquad's shape); the vocal tracts' order 22 does better
    (test_envelope_warp_moves_the_peaks_and_keeps_the_balance: 1.5 %)."""
    for angle, factor in ((0.5, 1.3), (1.2, 0.8)):
        sos = set_pole_angles(
            torch.tensor([[[0.0, 0.95**2]]], dtype=torch.float64), torch.tensor([[angle]])
        )
        a = sos_to_lpc(sos)[0]
        same = warp_allpole(a, lambda w: w)
        assert torch.allclose(same, a, atol=1e-6)
        warped = warp_allpole(a, lambda w, f=factor: w / f)  # a pure scaling
        peak = vocal_tract_peaks(lpc_to_biquads(warped), 1, 4096)
        assert peak.item() == pytest.approx(
            factor * vocal_tract_peaks(sos, 1, 4096).item(), rel=0.02
        )


def test_lpc_to_biquads_and_section_matching():
    sos = logits_to_biquads(torch.randn(6, 11, 2, dtype=torch.float64))
    refactored = lpc_to_biquads(sos_to_lpc(sos))
    assert torch.allclose(sos_to_lpc(refactored), sos_to_lpc(sos), atol=1e-10)
    perm = torch.stack([torch.randperm(11) for _ in range(6)])
    shuffled = sos.gather(-2, perm.unsqueeze(-1).expand(6, 11, 2))
    assert torch.equal(match_sections(shuffled, sos), sos)


def test_voice_measures_on_synthetic_signals():
    import scipy.signal

    t = torch.arange(SR, dtype=torch.float64) / SR
    two = torch.sin(2 * math.pi * 200 * t) + 0.5 * torch.sin(2 * math.pi * 400 * t)
    h = h1_h2(two, torch.full((101,), 200.0), SR, HOP)
    assert median(h[5:-5]) == pytest.approx(20 * math.log10(2), abs=0.1)
    formants = (500.0, 1500.0, 2500.0, 3500.0, 4500.0)  # a neutral vowel, as Praat assumes
    a = np.array([1.0])
    for f in formants:
        r = math.exp(-math.pi * 80 / SR)
        a = np.convolve(a, [1, -2 * r * math.cos(2 * math.pi * f / SR), r * r])
    x = np.random.default_rng(0).standard_normal(SR)  # noise: no harmonics to bias LPC,
    x = scipy.signal.lfilter([1.0], [1.0, -0.95], x)  # with speech's -6 dB/octave tilt
    vowel = torch.from_numpy(scipy.signal.lfilter([1.0], a, x))
    got = formant_tracks(vowel, SR, HOP)[5:-5]
    for k, f in enumerate(formants[:3]):
        assert median(got[:, k]) == pytest.approx(f, rel=0.03)
    assert cents(torch.tensor([440.0, math.nan]), torch.tensor([220.0, 1.0]))[0] == 1200


def test_gradchecks_of_the_editing_primitives():
    """float64 gradcheck of every differentiable primitive the edits added."""
    from ddsp.dsp import overlap_add
    from ddsp.synth.core import exp_sigmoid, inverse_exp_sigmoid

    g = torch.Generator().manual_seed(4)
    gc = torch.autograd.gradcheck
    logits = (torch.randn(3, 4, 2, dtype=torch.float64, generator=g)).requires_grad_()
    sos = logits_to_biquads(logits.detach())
    assert gc(lambda s: biquads_to_logits(s), (sos.clone().requires_grad_(),))
    x = torch.linspace(0.1, 2.9, 7, dtype=torch.float64).requires_grad_()
    xp = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).requires_grad_()
    fp = torch.tensor([0.0, 0.5, 2.5, 3.0], dtype=torch.float64).requires_grad_()
    assert gc(piecewise_linear, (x, xp, fp))
    a = sos_to_lpc(logits_to_biquads(0.5 * logits.detach()[:1, :2])).requires_grad_()
    assert gc(lambda a: warp_allpole(a, lambda w: w / 1.1, n_freqs=64), (a,))
    assert gc(lpc_to_biquads, (a,))  # away from coinciding roots
    frames = torch.randn(2, 5, 8, dtype=torch.float64, generator=g).requires_grad_()
    assert gc(lambda f: overlap_add(f, 3), (frames,))
    angle = torch.rand(3, 4, dtype=torch.float64, generator=g).requires_grad_()
    assert gc(lambda s, t: set_pole_angles(s, t), (sos.clone().requires_grad_(), angle))
    track = torch.rand(1, 9, 2, dtype=torch.float64, generator=g).requires_grad_()
    assert gc(lambda t: stretch_frames(t, 1.7), (track,))
    assert gc(lambda t: smooth_frames(t, 2.5), (track,))
    y = (torch.rand(5, dtype=torch.float64, generator=g) + 0.01).requires_grad_()
    assert gc(inverse_exp_sigmoid, (y,))
    assert torch.allclose(exp_sigmoid(inverse_exp_sigmoid(y)), y, rtol=1e-9)


def test_rd_mapping_and_curve_errors():
    from ddsp.synth.glottal import position_to_rd, rd_to_position

    rd = torch.tensor([0.3, 1.0, 2.7], dtype=torch.float64)
    assert torch.allclose(position_to_rd(rd_to_position(rd)), rd, rtol=1e-12)
    with pytest.raises(ValueError, match=r"Rd must lie in the wavetables' range \[0.3, 2.7\]"):
        rd_to_position(torch.tensor([3.0]))
    with pytest.raises(ValueError, match="same number"):
        piecewise_linear(torch.zeros(3), torch.zeros(1), torch.zeros(1))
    with pytest.raises(ValueError, match="increase"):
        curve_from_points(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0]), 5, 100.0)


def test_resonance_biquads_place_each_pole_pair():
    import scipy.signal

    sos = resonance_biquads([(500.0, 60.0), (1500.0, 90.0)], SR, sections=4)
    assert sos.shape == (4, 2) and sos.dtype == torch.float64
    assert torch.equal(sos[2:], torch.zeros(2, 2))
    for (hz, bandwidth), (a1, a2) in zip(
        [(500.0, 60.0), (1500.0, 90.0)], sos[:2].tolist(), strict=True
    ):
        pole = np.roots([1.0, a1, a2])[0]
        assert abs(abs(np.angle(pole)) - 2 * math.pi * hz / SR) < 1e-12
        assert abs(abs(pole) - math.exp(-math.pi * bandwidth / SR)) < 1e-12
        # an isolated narrow resonance: its -3 dB band is the bandwidth, within 2 %
        w, h = scipy.signal.freqz([1.0], [1.0, a1, a2], worN=1 << 16, fs=SR)
        db = 20 * np.log10(np.abs(h))
        band = w[db >= db.max() - 10 * math.log10(2)]
        assert abs(w[db.argmax()] / hz - 1) < 0.01
        assert abs((band[-1] - band[0]) / bandwidth - 1) < 0.02, band[-1] - band[0]
    with pytest.raises(ValueError, match=r"resonances\[0\] = \(9000.0, 60.0\) Hz"):
        resonance_biquads([(9000.0, 60.0)], SR)
    with pytest.raises(ValueError, match=r"resonances\[0\] = \(500.0, -1.0\) Hz"):
        resonance_biquads([(500.0, -1.0)], SR)
    with pytest.raises(ValueError, match="sections must be an int >= 2 resonances, got 1"):
        resonance_biquads([(500.0, 60.0), (1500.0, 90.0)], SR, sections=1)


def _neutral_vowel(clip: Clip) -> dict[str, torch.Tensor]:
    """The clip's controls with the vocal tract replaced by a fixed neutral vowel (the frame
    gain kept)."""
    synth = clip.model.synth
    sos = resonance_biquads(NEUTRAL_VOWEL, SR, synth.lpc_order // 2)
    vt = set_tract_biquads(clip.voice.controls["vocal_tract"], sos, synth.max_radius)
    return {**clip.voice.controls, "vocal_tract": vt}


def test_set_tract_biquads_writes_the_logits_and_keeps_the_gain():
    g = torch.Generator().manual_seed(4)
    controls = torch.randn(2, 7, 23, dtype=torch.float64, generator=g)
    sos = resonance_biquads(NEUTRAL_VOWEL, SR, 11)
    out = set_tract_biquads(controls, sos, 0.99)
    assert out.shape == controls.shape and torch.equal(out[..., 22:], controls[..., 22:])
    got = logits_to_biquads(out[..., :22].reshape(2, 7, 11, 2), 0.99)
    assert torch.allclose(got, sos.expand(2, 7, 11, 2), rtol=0, atol=1e-12)
    per_frame = logits_to_biquads(controls[..., :22].reshape(2, 7, 11, 2), 0.99)
    assert torch.allclose(set_tract_biquads(controls, per_frame, 0.99), controls, atol=1e-9)
    assert set_tract_biquads(controls.float(), sos).dtype == torch.float32
    with pytest.raises(ValueError, match=r"got sos \(12, 2\)"):
        set_tract_biquads(controls, resonance_biquads(NEUTRAL_VOWEL, SR, 12))
    with pytest.raises(ValueError, match=r"got sos \(4,\)"):
        set_tract_biquads(controls, torch.zeros(4))
    inside = (0.5 * sos).requires_grad_()  # radii well inside the triangle: smooth there
    assert torch.autograd.gradcheck(
        lambda c, s: set_tract_biquads(c, s, 0.99), (controls[:1, :2].requires_grad_(), inside)
    )


def _render_with(clip: Clip, controls: dict[str, torch.Tensor], edit: VoiceEdit) -> torch.Tensor:
    from ddsp.resynth import synthesize

    v = clip.voice
    return synthesize(
        clip.model, edit_controls(edit, clip.model.synth, v.f0, controls, v.voiced, v.gain)
    )[0]


def test_rd_edits_keep_a_textbook_tracts_formants(clip):
    """The Rd criterion's control: the same source, noise and f0 edits through a fixed neutral
    vowel (500 / 1500 / 2500 / 3500 / 4500 Hz) in place of the model's tract keep the measured
    F1-F3 within 5 % over the whole Rd table (measured: 3.7 % at most). Through the model's
    own tract the same measure moves F1 by -13 % at Rd 0.8 and +93 % at 1.8
    (experiments/voice_editing.py): the learned tract, not the edit, makes the measured
    formants follow the source."""
    controls, n = _neutral_vowel(clip), clip.voice.frames
    ref = formant_tracks(_render_with(clip, controls, VoiceEdit()), SR, HOP)[:n]
    worst = 0.0
    for rd in (0.3, 0.8, 1.2, 1.8, 2.7):
        y = _render_with(clip, controls, VoiceEdit(rd=rd))
        ratio = (formant_tracks(y, SR, HOP)[:n] / ref)[clip.voiced]
        for k in range(3):
            worst = max(worst, abs(median(ratio[:, k]) - 1))
    assert worst < 0.05, worst


@pytest.mark.parametrize("factor", [0.8, 1.2])
def test_formant_scaling_of_a_textbook_tract_is_measured_as_asked(clip, factor):
    """The warp and the measure without the learned tract: a neutral vowel scaled by 0.8 / 1.2
    in the vocoder measures within 2 % of the request (1.3 % at most over 0.8-1.2), where the
    shipped model's own tract reads up to 3.3 % and the GOLF-ff checkpoint's 7.3 %."""
    controls, n = _neutral_vowel(clip), clip.voice.frames
    ref = formant_tracks(_render_with(clip, controls, VoiceEdit()), SR, HOP)[:n]
    y = _render_with(clip, controls, VoiceEdit(formant_scale=factor))
    ratio = (formant_tracks(y, SR, HOP)[:n] / ref)[clip.voiced]
    for k in range(3):
        assert abs(median(ratio[:, k]) / factor - 1) < 0.02, (k + 1, median(ratio[:, k]))

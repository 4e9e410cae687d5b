"""Metrics against their references: mel-cepstra vs pysptk, MCD, loudness, f0, RTF."""

import numpy as np
import pysptk
import pytest
import torch

from ddsp.metrics import (
    f0_errors,
    freqt_matrix,
    loudness_error,
    mel_cepstral_distortion,
    mel_cepstrum,
    real_time_factor,
)
from ddsp.spectral import functional as SF

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("alpha,order", [(0.46, 34), (0.42, 24), (0.0, 10)])
def test_freqt_matches_sptk(alpha, order):
    c = RNG.standard_normal(256)
    ours = freqt_matrix(256, order, alpha).numpy() @ c
    assert np.abs(ours - pysptk.freqt(c, order, alpha)).max() < 1e-12


def test_mel_cepstrum_matches_pysptk_sp2mc(speech):
    for x in (torch.from_numpy(RNG.standard_normal(4000)), torch.from_numpy(speech[0][:8000])):
        mc = mel_cepstrum(x, order=34, alpha=0.46, n_fft=512, hop_length=120)
        power = SF.magnitude(SF.stft(x, 512, 120), 2.0).clamp_min(1e-10).T.numpy()
        ref = np.stack([pysptk.sp2mc(row, 34, 0.46) for row in power])
        assert np.abs(mc.numpy() - ref).max() <= 1e-10 * np.abs(ref).max()


def test_mcd_properties(speech):
    x = torch.from_numpy(speech[0][:16000]).float()[None]
    assert mel_cepstral_distortion(x, x).item() == 0.0
    # a gain moves only c0, by ln 2 (noise: no frame sits at the power floor)
    noise = torch.randn(1, 16000, dtype=torch.float64)
    louder = mel_cepstral_distortion(2 * noise, noise).item()
    assert louder == pytest.approx(10 * np.sqrt(2) / np.log(10) * np.log(2), rel=1e-9)
    noisy = mel_cepstral_distortion(x + 0.05 * torch.randn_like(x), x).item()
    assert noisy > 1.0
    y = x.clone().requires_grad_()
    mel_cepstral_distortion(y * 0.9, x).sum().backward()
    assert torch.isfinite(y.grad).all()


def test_mcd_gradient_is_finite_where_frames_agree(speech):
    """Frames equal in both signals (silence in both, or the same audio) have distance 0: the
    gradient there is 0, not NaN (a square-root of the summed squares gave NaN everywhere)."""
    x = torch.from_numpy(speech[0][:8000]).double()[None]
    x[..., :3000] = 0.0  # silent in both
    y = x.clone().requires_grad_()
    for pred in (y, torch.cat([y[..., :4000], 0.5 * y[..., 4000:]], -1)):
        (grad,) = torch.autograd.grad(mel_cepstral_distortion(pred, x).sum(), y)
        assert torch.isfinite(grad).all()
    torch.autograd.gradcheck(
        lambda p: mel_cepstral_distortion(p, x[..., :2000], n_fft=256, hop_length=128),
        (torch.randn(1, 2000, dtype=torch.float64, requires_grad=True),),
    )


def test_loudness_and_f0_errors():
    sr, hop = 16000, 160
    t = torch.arange(16000) / sr
    tone = 0.5 * torch.sin(2 * torch.pi * 200 * t) + 0.2 * torch.sin(2 * torch.pi * 400 * t)
    half = 10 ** (-6 / 20) * tone
    assert loudness_error(half[None], tone[None], sr, hop).item() == pytest.approx(6.0, abs=0.05)
    f0 = torch.full((1, 101), 200.0)
    voiced = torch.ones(1, 101)
    up = 0.5 * torch.sin(2 * torch.pi * 2 ** (100 / 1200) * 200 * t)  # 100 cents sharp
    cents, voicing = f0_errors(up[None], f0, voiced, sr, hop)
    assert cents.item() == pytest.approx(100, abs=5) and voicing.item() < 0.1


def test_real_time_factor():
    rtf = real_time_factor(lambda: sum(range(1000)), seconds_of_audio=1.0, repeats=5)
    assert 0 < rtf < 0.1


def test_pesq_wb_scores_speech_and_says_nan_where_it_cannot():
    import soundfile as sf
    from conftest import DATA

    from ddsp.metrics.pesq import pesq_wb

    x, sr = sf.read(str(sorted(DATA.glob("*.ogg"))[5]), dtype="float32")
    x = torch.from_numpy(x[: 3 * sr])
    noisy = x + 0.05 * x.abs().max() * torch.randn_like(x)
    score = pesq_wb(torch.stack([x, noisy]), torch.stack([x, x]), sr)
    assert score[0] > 4.0 and 1.0 < score[1] < score[0]  # identical ~4.6; noise lowers it
    short = x[: int(0.2 * sr)]  # under P.862's quarter second: NaN, not an exception
    assert torch.isnan(pesq_wb(short[None], short[None], sr)).all()
    silent = torch.zeros(1, sr)
    assert torch.isnan(pesq_wb(silent, silent, sr)).all()


@pytest.mark.parametrize(
    "name", ["alibaba__kni-m-mise.ogg", "alibaba__kni-v-prolezt.ogg", "atlantis__sp-m-nechat.ogg"]
)
def test_formant_tracks_agree_with_praat_on_speech(name):
    """Our formant tracker (autocorrelation LPC, Hann window) against Praat's own (Burg, a
    Gaussian window), on shipped recordings' voiced frames: per-frame differences median
    0.6-3.8 %, medians of the ratio 0.984-1.002 (measured on six recordings). The two methods
    differ, so the tolerance is theirs, not rounding: 5 % and 2.5 %."""
    from conftest import DATA, praat_formants

    from ddsp.data.prepare import load_audio
    from ddsp.metrics.voice import f0_track, formant_tracks

    x, _ = load_audio(DATA / name, 16000)
    x = torch.as_tensor(x, dtype=torch.float64).reshape(-1)
    theirs = praat_formants(x, 16000, 160)
    ours = formant_tracks(x, 16000, 160)
    voiced = torch.isfinite(f0_track(x, 16000, 160))
    ratio = (ours / theirs)[voiced]
    assert voiced.sum() > 50
    for k in range(3):
        r = ratio[:, k][torch.isfinite(ratio[:, k])]
        assert float((r - 1).abs().median()) < 0.05, (k + 1, name)
        assert abs(float(r.median()) - 1) < 0.025, (k + 1, name)


def _lf_vowel(rd: float, f0: float, formants, sr: int = 16000, seconds: float = 1.5):
    """LF pulses (``rd``, constant ``f0``, rendered 8x oversampled and decimated by soxr)
    through a fixed all-pole tract of ``(Hz, bandwidth Hz)`` resonances (scipy's lfilter)."""
    import scipy.signal
    import soxr

    from ddsp.filters.lpc import sos_to_lpc
    from ddsp.synth.formants import resonance_biquads
    from ddsp.synth.glottal import lf_waveform

    over = 8
    t = torch.arange(int(seconds * sr * over), dtype=torch.float64) * f0 / (sr * over) % 1.0
    g = lf_waveform(torch.tensor(rd, dtype=torch.float64), t).reshape(-1).numpy()
    g = soxr.resample(g, sr * over, sr, quality="VHQ")
    a = sos_to_lpc(resonance_biquads(formants, sr))  # (order,) without the leading 1
    y = scipy.signal.lfilter([1.0], [1.0, *a.tolist()], g)
    return torch.from_numpy(0.5 * y / np.abs(y).max())


def test_formant_tracks_hold_on_a_textbook_vowel_whatever_the_glottal_source():
    """The formant measure that checks the voice-quality edits, on a vowel with known formants
    (a uniform tube's 500 / 1500 / 2500 / 3500 / 4500 Hz, bandwidths 60-180 Hz) at the low
    shipped voice's f0 (123 Hz), the LF source swept over the wavetables' Rd range: F1-F3 within
    5 % of the truth at every Rd (measured: at most 2.6 %, F1 at Rd 2.7), and within 1 % of
    Praat's (0.22 %). So where an Rd edit of the vocoder moves the measured formants of the low
    voice, the measure is not the cause (experiments/voice_editing.py's control table). At the
    high voice's f0 (307 Hz) the same vowel's F1 reads +33 % at Rd 0.3 and -27 % at Rd 2.7:
    LPC locks onto the harmonics there, a limit of the measure, not tested."""
    from conftest import praat_formants

    from ddsp.metrics.voice import formant_tracks
    from ddsp.synth.formants import NEUTRAL_VOWEL

    vowel = list(NEUTRAL_VOWEL)
    truth = torch.tensor([hz for hz, _ in vowel[:3]], dtype=torch.float64)
    for rd in (0.3, 0.5, 0.8, 1.2, 1.8, 2.7):
        y = _lf_vowel(rd, 123.0, vowel)
        ours = formant_tracks(y, 16000, 160)[20:-20].nanmedian(0).values
        theirs = praat_formants(y, 16000, 160)[20:-20].nanmedian(0).values
        assert ((ours / truth - 1).abs() < 0.05).all(), (rd, ours)
        assert ((ours / theirs - 1).abs() < 0.01).all(), (rd, ours, theirs)
    # the check can fail: F1 moved from 500 to 330 Hz reads 345 Hz
    moved = formant_tracks(_lf_vowel(1.0, 123.0, [(330.0, 60.0)] + vowel[1:]), 16000, 160)
    assert float(moved[20:-20, 0].median()) < 0.8 * 500

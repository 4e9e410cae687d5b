"""Parity of the spectral core with librosa (float64), gradients, silence."""

import itertools
import subprocess
import sys

import librosa
import numpy as np
import pytest
import torch

from ddsp.spectral import LogMelSpectrogram, MelSpectrogram, Spectrogram, a_weighted_loudness
from ddsp.spectral import functional as SF

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    "n_fft,win_length,hop,center,pad_mode",
    [
        (512, None, 128, True, "constant"),
        (511, 300, 100, True, "reflect"),
        (1024, 600, 160, False, "constant"),
        (255, 255, 64, True, "reflect"),
    ],
)
@pytest.mark.parametrize("real", [False, True])
def test_stft_matches_librosa(n_fft, win_length, hop, center, pad_mode, real, speech):
    x = speech[0][:8000] if real else RNG.standard_normal((2, 6000))
    ref = librosa.stft(
        x, n_fft=n_fft, hop_length=hop, win_length=win_length, center=center, pad_mode=pad_mode
    )
    ours = SF.stft(
        torch.from_numpy(x), n_fft, hop, win_length, center=center, pad_mode=pad_mode
    ).numpy()
    assert ours.shape == ref.shape
    # tolerance: 1e-9 of the peak in float64, 1e-5 in float32
    assert np.abs(ours - ref).max() <= 1e-9 * np.abs(ref).max()
    ours32 = SF.stft(
        torch.from_numpy(x).float(), n_fft, hop, win_length, center=center, pad_mode=pad_mode
    )
    assert np.abs(ours32.numpy() - ref).max() <= 1e-5 * np.abs(ref).max()


@pytest.mark.parametrize(
    "htk,norm", [(False, "slaney"), (True, None), (True, "slaney"), (False, None)]
)
def test_mel_filterbank_matches_librosa(htk, norm):
    ref = librosa.filters.mel(
        sr=22050, n_fft=1024, n_mels=80, fmin=30, fmax=8000, htk=htk, norm=norm, dtype=np.float64
    )
    ours = SF.mel_filterbank(
        22050, 1024, 80, 30, 8000, "htk" if htk else "slaney", norm, torch.float64
    )
    assert np.abs(ours.numpy() - ref).max() <= 1e-12


def test_melspectrogram_and_db_match_librosa(speech):
    x = speech[0][:10000]
    ref = librosa.feature.melspectrogram(
        y=x, sr=22050, n_fft=1024, hop_length=256, n_mels=64, dtype=np.float64
    )
    ours = MelSpectrogram(22050, 1024, 256, n_mels=64)(torch.from_numpy(x)).numpy()
    assert np.abs(ours - ref).max() <= 1e-6 * np.abs(ref).max()
    db = LogMelSpectrogram(22050, 1024, 256, n_mels=64, db=True, top_db=80.0)(
        torch.from_numpy(x)
    ).numpy()
    assert np.allclose(db, librosa.power_to_db(ref, top_db=80.0), atol=1e-6)


def test_power_to_db_floor_is_per_example():
    s = torch.stack([torch.full((4, 5), 1.0), torch.full((4, 5), 1e-6)])
    s[1, 0, 0] = 1e-12
    db = SF.power_to_db(s, top_db=20.0)
    assert db[1].min() == pytest.approx(-80.0)  # floor relative to example 1's own peak (-60 dB)
    assert db[0].min() == pytest.approx(0.0)


@pytest.mark.parametrize("ref,top_db", [(1.0, 80.0), (0.3, None)])
def test_power_to_db_in_place_equals_out_of_place(ref, top_db):
    s = torch.rand(3, 40, 50).pow(6).mT  # a transposed view, as the gradient-free mel
    want = SF.power_to_db(s, ref=ref, top_db=top_db)
    got = SF.power_to_db(s, ref=ref, top_db=top_db, inplace=True)
    assert torch.equal(got, want) and got.data_ptr() == s.data_ptr() and torch.equal(s, want)


def test_a_weighting_matches_librosa():
    f = np.linspace(10, 11025, 200)
    assert np.allclose(
        SF.a_weighting_db(torch.from_numpy(f)).numpy(),
        librosa.A_weighting(f, min_db=-80),
        atol=1e-9,
    )


def test_loudness_of_full_scale_sine_is_near_zero_db():
    t = torch.arange(16000) / 16000
    loud = a_weighted_loudness(torch.sin(2 * torch.pi * 1000 * t), 16000, 160)
    assert loud.shape == (101,)
    # 1 kHz has 0 dB A-weighting; the frame-mean over 513 bins lowers it by ~10 log10(513 / ~3)
    assert -30 < loud[50].item() < 0
    assert a_weighted_loudness(torch.zeros(1600), 16000, 160).max() == -100.0


def test_spectrogram_gradcheck_and_silence():
    x = torch.randn(2, 300, dtype=torch.float64, requires_grad=True)
    spec = Spectrogram(64, 16, power=1.0)
    assert torch.autograd.gradcheck(lambda v: spec(v), (x,))
    mel = MelSpectrogram(8000, 64, 16, n_mels=8)
    assert torch.autograd.gradcheck(lambda v: mel(v), (x,))
    z = torch.zeros(1, 300, requires_grad=True)
    spec(z).sum().backward()
    assert torch.isfinite(z.grad).all()


def test_any_batch_rank():
    x = torch.randn(2, 3, 4, 1000)
    assert MelSpectrogram(16000, 256, 64, n_mels=20)(x).shape == (2, 3, 4, 20, 16)


def test_clear_errors():
    with pytest.raises(ValueError, match="shorter than n_fft"):
        SF.stft(torch.randn(100), 512, center=False)
    with pytest.raises(ValueError, match="at least one sample"):
        SF.stft(torch.randn(0), 512)
    with pytest.raises(ValueError, match="f_min"):
        SF.mel_filterbank(16000, 512, 40, 100, 9000)


def test_window_first_built_in_inference_mode_still_backpropagates():
    # fresh process: the window cache must be empty when inference mode builds the window
    code = (
        "import torch; from ddsp.spectral import functional as SF\n"
        "with torch.inference_mode():\n    SF.stft(torch.randn(1, 1000), 256)\n"
        "x = torch.randn(1, 1000, requires_grad=True)\n"
        "SF.magnitude(SF.stft(x, 256)).sum().backward()\nprint('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


@pytest.mark.parametrize("power,eps", [(1.0, 0.0), (2.0, 0.0), (0.5, 0.0), (1.0, 1e-6)])
# whole clips grouped (6 in one block; 14 in blocks of 6, 6, 2), frame blocks, one clip
@pytest.mark.parametrize("shape", [(3, 2, 5000), (14, 20_000), (1, 300_000), (4000,)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stft_power_blocked_path_equals_magnitude_of_stft(power, eps, shape, dtype):
    x = torch.randn(shape, dtype=dtype)
    for kw in ({}, {"center": False, "normalized": True, "win_length": 300}):
        ref = SF.magnitude(SF.stft(x, 512, 128, **kw), power, eps)
        got = SF.stft_power(x, 512, 128, power=power, eps=eps, **kw)  # no gradient: blocked
        assert got.shape == ref.shape
        # compared as power spectra: FFT rounding is relative to a frame's energy, and a
        # power below 2 magnifies it in the smallest bins (blocked and batched FFTs round
        # differently, by an ulp of the frame's largest values)
        got, ref = got ** (2 / power), ref ** (2 / power)
        tol = 1e-12 if dtype == torch.float64 else 1e-6
        assert (got - ref).abs().max() <= tol * ref.abs().max()
    xg = x.clone().requires_grad_()  # with a gradient: the autograd path itself
    SF.stft_power(xg, 512, 128, power=power, eps=eps).sum().backward()
    assert torch.isfinite(xg.grad).all()


@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("n_fft,hop", [(512, 128), (511, 100), (64, 64), (100, 7), (16, 40)])
def test_frame_pieces_are_the_frames(pad_mode, n_fft, hop):
    """The centred frames as views (edge frames from padded copies of the ends) equal
    ``frames``' view of the padded signal, bitwise, for signals from one frame to many."""
    from ddsp.spectral._stft import frame_pieces, frames

    for t in (n_fft // 2 + 1, n_fft - 1, n_fft, n_fft + 1, 3 * n_fft + 5, 5000):
        x = torch.randn(3, t, dtype=torch.float64)
        for center in (True, False):
            if not center and t < n_fft:
                continue
            want = frames(x, n_fft, hop, center, pad_mode)
            pieces = frame_pieces(x, n_fft, hop, center, pad_mode)
            assert [p0 for p0, _ in pieces] == list(
                itertools.accumulate([0] + [p.shape[1] for _, p in pieces[:-1]])
            )
            assert torch.equal(torch.cat([p for _, p in pieces], dim=1), want), (t, center)
            if center and pad_mode != "circular" and t == 5000:
                assert len(pieces) == 3  # edges, interior view, edges


@pytest.mark.parametrize("power", [1.0, 2.0])
@pytest.mark.parametrize("shape", [(14, 20_000), (1, 300_000)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["mel", "dense"])  # power 2: products on (re^2, im^2) or not
def test_stft_power_with_bands_equals_the_filterbank_times_the_spectrogram(
    power, shape, dtype, kind
):
    """Projected block by block (the spectrogram never stored) = basis @ spectrogram, with and
    without gradients; ``band_split`` loses nothing of the basis."""
    x = torch.randn(shape, dtype=dtype)
    if kind == "mel":
        basis = SF.mel_filterbank(16000, 512, 40, dtype=dtype)
    else:
        basis = torch.rand(40, 257, dtype=dtype)
    bands = SF.band_split(basis)
    ref = basis @ SF.magnitude(SF.stft(x.double(), 512, 128), power).to(dtype)
    got = SF.stft_power(x, 512, 128, power=power, bands=bands)
    assert got.shape == ref.shape == (*shape[:-1], 40, ref.shape[-1])
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    assert (got - ref).abs().max() <= tol * ref.abs().max()
    xg = x.clone().requires_grad_()
    with_grad = SF.stft_power(xg, 512, 128, power=power, bands=bands)
    assert (with_grad.detach() - ref).abs().max() <= tol * ref.abs().max()
    with_grad.sum().backward()
    assert torch.isfinite(xg.grad).all()
    assert torch.equal(
        torch.cat([torch.nn.functional.pad(b, (lo, 512 // 2 + 1 - hi)) for lo, hi, b in bands]),
        basis,
    )


def test_apply_bands_gradcheck_and_bad_bands():
    basis = SF.mel_filterbank(8000, 64, 6, dtype=torch.float64)
    bands = SF.band_split(basis, group=2)
    spec = torch.rand(2, 33, 5, dtype=torch.float64, requires_grad=True)
    assert torch.allclose(SF.apply_bands(spec, bands), basis @ spec, rtol=0, atol=1e-15)
    assert torch.autograd.gradcheck(lambda v: SF.apply_bands(v, bands), (spec,))
    with pytest.raises(ValueError, match=r"bands\[0\] spans bins 0:500 .* has 129 bins"):
        SF.stft_power(torch.randn(2000), 256, 64, bands=[(0, 500, torch.rand(4, 500))])
    with pytest.raises(ValueError, match=r"bands\[0\] spans bins 0:500 .* has 33 bins"):
        SF.apply_bands(spec, [(0, 500, torch.rand(4, 500))])
    with pytest.raises(ValueError, match="no band given"):
        SF.stft_power(torch.randn(2000), 256, 64, bands=[])
    with pytest.raises(ValueError, match=r"basis must be \(n_filters, n_bins\), got \(10,\)"):
        SF.band_split(torch.rand(10))
    with pytest.raises(ValueError, match="group must be a positive int, got 0"):
        SF.band_split(basis, group=0)


def test_spectrogram_bands_need_a_magnitude():
    bands = SF.band_split(SF.mel_filterbank(16000, 512, 40))
    with pytest.raises(ValueError, match="bands apply to a magnitude"):
        Spectrogram(512, 128, output="phase")(torch.randn(4000), bands=bands)


@pytest.mark.parametrize("mel_scale,norm", [("slaney", "slaney"), ("htk", None), ("tf", None)])
def test_banded_mel_equals_the_dense_matmul(mel_scale, norm):
    """The fixed mel basis is applied as bands of filters over the bins they reach."""
    kw = {"f_max": 8000.0} if mel_scale == "tf" else {}
    mel = MelSpectrogram(16000, 512, 128, n_mels=80, mel_scale=mel_scale, norm=norm, **kw).double()
    x = torch.randn(2, 8000, dtype=torch.float64)
    dense = torch.matmul(mel.mel_basis, mel.spectrogram(x))
    assert sum(hi - lo for lo, hi, _ in mel.bands) * 16 < 0.5 * mel.mel_basis.numel()  # sparse
    assert (mel(x) - dense).abs().max() <= 1e-12 * dense.abs().max()


def test_mel_follows_writes_into_its_basis():
    """``mel_basis`` is what the output is computed with, also for the fixed basis applied in
    bands: a write in place and a new tensor both reach the next call (the bands had been
    split once at construction, so a masked basis used to leave the output unchanged)."""
    mel = MelSpectrogram(16000, 512, 128, n_mels=40).double()
    x = torch.randn(2, 8000, dtype=torch.float64)
    before = mel(x)
    with torch.no_grad():
        mel.mel_basis[:, :20] = 0.0  # mask the lowest bins
    dense = torch.matmul(mel.mel_basis, mel.spectrogram(x))
    assert not torch.allclose(mel(x), before)
    assert (mel(x) - dense).abs().max() <= 1e-12 * dense.abs().max()
    mel.mel_basis = 2 * mel.mel_basis
    assert (mel(x) - 2 * dense).abs().max() <= 1e-12 * dense.abs().max()

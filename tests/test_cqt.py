"""CQT/VQT against librosa (float64): multirate vs ``librosa.cqt``/``vqt``, direct vs one-octave librosa."""

import librosa
import numpy as np
import pytest
import torch

from ddsp.spectral import CQT, VQT
from ddsp.spectral import functional as SF


def _signal(kind: str, sr: int, speech) -> np.ndarray:
    if kind == "noise":
        return np.random.default_rng(1).standard_normal(40000)
    x, sr0 = speech
    return librosa.resample(x, orig_sr=sr0, target_sr=sr)[:60000]


def _rel_errors(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Relative magnitude errors over the bins above -60 dB of the peak."""
    mask = ref > ref.max() * 1e-3
    return np.abs(ours - ref)[mask] / ref[mask]


@pytest.mark.parametrize("sr", [22050, 44100])
@pytest.mark.parametrize("kind", ["noise", "speech"])
@pytest.mark.parametrize("gamma", [0.0, None])
def test_multirate_matches_librosa(sr, kind, gamma, speech):
    # criterion: median relative error <= 1e-3 and 99th percentile <= 1e-2 (default 84 bins)
    x = _signal(kind, sr, speech)
    if gamma == 0.0:
        ref = np.abs(librosa.cqt(x, sr=sr))
    else:
        ref = np.abs(librosa.vqt(x, sr=sr, gamma=gamma))
    ours = VQT(sr, gamma=gamma)(torch.from_numpy(x)).numpy()
    assert ours.shape == ref.shape
    rel = _rel_errors(ours, ref)
    assert np.median(rel) <= 1e-3 and np.percentile(rel, 99) <= 1e-2, (
        np.median(rel),
        np.percentile(rel, 99),
    )


@pytest.mark.parametrize("sr,hop", [(22050, 512), (44100, 511)])
def test_direct_matches_single_rate_librosa(sr, hop):
    # librosa computes all bins at the full rate when they form one "octave" (intervals=) and
    # nothing triggers its early downsampling (odd hop at 44.1 kHz): that is the direct method.
    x = np.random.default_rng(2).standard_normal(30000)
    ratios = 2.0 ** (np.arange(84) / 12)
    ref = np.abs(librosa.vqt(x, sr=sr, hop_length=hop, n_bins=84, intervals=ratios, gamma=0))
    ours = CQT(sr, hop, method="direct")(torch.from_numpy(x)).numpy()
    rel = _rel_errors(ours, ref)
    assert np.median(rel) <= 1e-6 and rel.max() <= 1e-4


def test_complex_output_and_options(speech):
    x = _signal("speech", 22050, speech)
    kw = dict(n_bins=48, bins_per_octave=24, filter_scale=0.8, hop_length=256)
    ref = librosa.cqt(x, sr=22050, fmin=55.0, norm=2, scale=False, **kw)
    ours = SF.cqt(torch.from_numpy(x), 22050, f_min=55.0, norm=2.0, scale=False, **kw).numpy()
    rel = _rel_errors(np.abs(ours), np.abs(ref))
    assert np.median(rel) <= 1e-3
    # phases agree where the magnitude is well above the noise floor
    strong = np.abs(ref) > 0.1 * np.abs(ref).max()
    assert np.median(np.abs(np.angle(ours[strong] / ref[strong]))) < 1e-3


def test_kernels_and_frequencies_match_librosa():
    freqs = librosa.cqt_frequencies(36, fmin=65.4)
    assert np.allclose(SF.cqt_frequencies(36, 65.4).numpy(), freqs, rtol=1e-14)
    ref, lengths = librosa.filters.wavelet(freqs=freqs, sr=16000, dtype=np.complex128)
    ours, ours_len = SF.cqt_kernels(torch.from_numpy(freqs), 16000)
    assert np.allclose(ours_len.numpy(), lengths, rtol=1e-14)
    assert np.abs(ours.numpy() - ref).max() <= 1e-12


def test_trainable_kernels_equal_fixed_and_learn():
    x = torch.randn(2, 16000)
    fixed, train = CQT(16000, 256, n_bins=48), CQT(16000, 256, n_bins=48, trainable=True)
    assert torch.allclose(train(x), fixed(x), rtol=1e-5, atol=1e-6 * fixed(x).abs().max())
    before = [k.detach().clone() for k in train.kernels]
    opt = torch.optim.Adam(train.parameters(), lr=1e-3)
    train(x).pow(2).mean().backward()
    assert all(k.grad is not None and k.grad.abs().sum() > 0 for k in train.kernels)
    opt.step()
    assert any(not torch.equal(b, k) for b, k in zip(before, train.kernels, strict=True))


def test_note_names():
    assert SF.note_to_hz("A4") == 440.0
    assert SF.hz_to_note(SF.note_to_hz("C#3")) == "C#3"
    assert abs(SF.note_to_hz("C1") - librosa.note_to_hz("C1")) < 1e-12


def test_cqt_errors():
    with pytest.raises(ValueError, match="Nyquist"):
        CQT(8000, n_bins=96)
    with pytest.raises(ValueError, match="method"):
        CQT(22050, method="fast")
    with pytest.raises(TypeError, match="gamma"):
        CQT(22050, gamma=3.0)


def test_vqt_module_passes_tuning_on():
    x = np.random.default_rng(0).standard_normal(22050)
    ref = np.abs(librosa.vqt(x, sr=22050, n_bins=36, fmin=55.0, tuning=0.25, gamma=10.0))
    ours = VQT(22050, n_bins=36, f_min=55.0, tuning=0.25, gamma=10.0)(torch.from_numpy(x))
    rel = _rel_errors(ours.numpy(), ref)
    assert np.median(rel) <= 1e-3
    untuned = VQT(22050, n_bins=36, f_min=55.0, gamma=10.0).frequencies
    assert torch.allclose(
        VQT(22050, n_bins=36, f_min=55.0, gamma=10.0, tuning=0.25).frequencies,
        untuned * 2 ** (0.25 / 12),
    )

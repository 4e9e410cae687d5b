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


def _tuning_signals(speech) -> dict[str, np.ndarray]:
    sr = 22050
    t = np.arange(sr) / sr
    detune = 2 ** (0.23 / 12)
    return {
        "tone 445 Hz": np.sin(2 * np.pi * 445 * t),
        "chord +0.23 bin": sum(np.sin(2 * np.pi * f * detune * t) for f in (220, 277.18, 329.63)),
        "noise": np.random.default_rng(2).standard_normal(sr),
        "speech": _signal("speech", sr, speech),
    }


def test_piptrack_and_estimate_tuning_match_librosa(speech):
    """Exact (float64): the same peaks, pitches to 1e-9 Hz, magnitudes to 1e-12 of the peak,
    and the same histogram bin of the tuning, on tones, a detuned chord, noise and speech."""
    for name, y in _tuning_signals(speech).items():
        x = torch.from_numpy(y)
        pitch, mag = librosa.piptrack(y=y, sr=22050)
        ours_pitch, ours_mag = SF.piptrack(x, 22050)
        assert np.array_equal(pitch > 0, ours_pitch.numpy() > 0), name
        assert np.abs(ours_pitch.numpy() - pitch).max() < 1e-9, name
        assert np.abs(ours_mag.numpy() - mag).max() < 1e-12 * mag.max(), name
        ref = librosa.estimate_tuning(y=y, sr=22050)
        assert abs(SF.estimate_tuning(x, 22050) - ref) < 1e-9, name
        assert abs(SF.estimate_tuning(x, 22050, bins_per_octave=24) - librosa.estimate_tuning(
            y=y, sr=22050, bins_per_octave=24)) < 1e-9, name  # fmt: skip
    assert abs(SF.estimate_tuning(torch.from_numpy(_tuning_signals(speech)["chord +0.23 bin"]),
               22050) - 0.22) < 1e-9  # fmt: skip  # the bin left of +0.23


def test_cqt_with_estimated_tuning_matches_librosa(speech):
    # the criterion of test_multirate_matches_librosa, on speech
    y = _signal("speech", 22050, speech)
    ref = np.abs(librosa.cqt(y, sr=22050, tuning=None))
    ours = SF.cqt(torch.from_numpy(y), 22050, tuning=None).abs().numpy()
    rel = _rel_errors(ours, ref)
    assert np.median(rel) <= 1e-3 and np.percentile(rel, 99) <= 1e-2
    tuning = librosa.estimate_tuning(y=y, sr=22050)
    assert tuning != 0.0  # the estimate is used, not the default
    fixed = SF.cqt(torch.from_numpy(y), 22050, tuning=tuning).abs().numpy()
    assert np.array_equal(ours, fixed)


def test_pitch_tuning_edges_and_errors():
    assert SF.pitch_tuning(torch.tensor([440.0, 880.0, 0.0])) == pytest.approx(0.0, abs=1e-12)
    quarter = 440 * 2 ** (0.25 / 12)
    for f in (quarter, 440 * 2 ** (-0.37 / 12), 431.0):  # on and off the histogram's edges
        f64 = torch.tensor([f], dtype=torch.float64)
        assert SF.pitch_tuning(f64) == librosa.pitch_tuning(np.array([f]))
    with pytest.warns(UserWarning, match="empty frequency set"):
        assert SF.pitch_tuning(torch.zeros(3)) == 0.0
    with pytest.raises(ValueError, match="resolution"):
        SF.pitch_tuning(torch.tensor([440.0]), resolution=0.0)
    with pytest.raises(ValueError, match="estimate_tuning"):
        CQT(22050, tuning=None)
    with pytest.raises(ValueError, match="n_fft"):
        SF.piptrack(torch.zeros(100), 22050, n_fft=0)
    with pytest.raises(TypeError, match="float32 or float64"):
        SF.estimate_tuning(torch.zeros(100, dtype=torch.int64), 22050)


def test_piptrack_gradcheck():
    """The peaks' interpolated magnitudes are differentiable in the signal (float64; the peak
    picking itself is piecewise constant)."""
    x = torch.randn(256, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    x = x.requires_grad_()
    assert torch.autograd.gradcheck(lambda t: SF.piptrack(t, 8000, n_fft=64)[1], (x,))


@pytest.mark.parametrize("t", [1, 2, 5, 190, 383, 3713, 3714, 3715, 9000, 20001])
def test_decimate2_is_the_direct_convolution(t):
    """Overlap-save in polyphase form against numpy's direct convolution (float64, 1e-13 of
    the peak): every block boundary and end case, a strided input and leading batch dims."""
    h = SF.decimation_filter()
    x = torch.randn(2, 3, 2 * t, dtype=torch.float64, generator=torch.Generator().manual_seed(t))
    x = x[..., ::2]  # a view with a last-dimension stride of 2
    c = h.shape[-1] // 2
    ref = np.stack([np.convolve(r, h.numpy())[c : c + t : 2] for r in x.reshape(-1, t).numpy()])
    ours = SF.decimate2(x, h)
    assert ours.shape == (2, 3, (t + 1) // 2)
    assert np.abs(ours.reshape(-1, ours.shape[-1]).numpy() - ref).max() <= 1e-13 * max(
        np.abs(ref).max(), 1e-300
    )
    # float32 against float64: the FFT's rounding, no more
    err = (SF.decimate2(x.float(), h.float()).double() - ours).abs().max()
    assert err <= 1e-6 * ours.abs().max()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_decimate2_kernels_equal_the_eager_path(dtype, monkeypatch):
    """The C++ blocks and product (no gradient) against the eager ops (float32: the same
    products and sums, to 1e-6 of the peak; float64 to 1e-13), ends and strided input included."""
    from ddsp.spectral import _decimate_cpu

    if not _decimate_cpu.usable(torch.zeros(1), torch.zeros(1)):
        pytest.skip("no C++ kernels here (no compiler or DDSP_CPP=0)")
    g = torch.Generator().manual_seed(5)
    cases = [torch.randn(3, t, dtype=dtype, generator=g) for t in (1, 2, 190, 3714, 3715, 9001)]
    cases.append(torch.randn(2, 9000, dtype=dtype, generator=g)[:, ::3])
    kernel = [SF.decimate2(x) for x in cases]
    monkeypatch.setattr(_decimate_cpu, "usable", lambda x, h: False)
    for x, k in zip(cases, kernel, strict=True):
        ref = SF.decimate2(x)
        tol = (1e-6 if dtype == torch.float32 else 1e-13) * max(ref.abs().max().item(), 1e-30)
        assert k.shape == ref.shape and (k - ref).abs().max() <= tol


def test_decimate2_one_pass_equals_the_two_passes(monkeypatch):
    """float32 with MKL: the whole decimation in one C++ pass (each block gathered, FFT'd,
    multiplied, FFT'd back and written in cache) gives the bits of the two C++ passes around
    torch's FFTs: every end case, short signals (1024-sample blocks), a strided input, leading
    dims; an empty batch (which raised MKL's "inconsistent configuration" before)."""
    from ddsp.spectral import _decimate_cpu

    if not _decimate_cpu.fusable(torch.zeros(1), torch.zeros(1)):
        pytest.skip("no C++ kernels or no MKL FFT here")
    g = torch.Generator().manual_seed(6)
    cases = [torch.randn(3, t, generator=g) for t in (1, 2, 190, 1000, 3714, 3715, 9001, 80000)]
    cases += [torch.randn(2, 9000, generator=g)[:, ::3], torch.randn(2, 2, 5000, generator=g)]
    calls = []
    real = _decimate_cpu.decimate_fused
    monkeypatch.setattr(_decimate_cpu, "decimate_fused", lambda *a: calls.append(1) or real(*a))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = [SF.decimate2(x) for x in cases]
        torch.set_num_threads(2)  # blocks spread over threads: the same bits
        assert all(torch.equal(o, SF.decimate2(x)) for x, o in zip(cases, one, strict=True))
    finally:
        torch.set_num_threads(threads)
    assert len(calls) == 2 * len(cases)
    calls.clear()
    monkeypatch.setattr(_decimate_cpu, "fusable", lambda x, h: False)
    for x, o in zip(cases, one, strict=True):
        assert torch.equal(o, SF.decimate2(x)), tuple(x.shape)
    assert not calls
    for dtype in (torch.float32, torch.float64):  # MKL refuses a batch of no FFTs: none is run
        assert SF.decimate2(torch.zeros(0, 100, dtype=dtype)).shape == (0, 50)


def test_cqt_routes_change_no_value(monkeypatch):
    """float32 CQT / VQT through the C++ decimation and the framed octave matmuls against the
    same transform with both off (eager frames and matmul, two-pass decimation): the same
    values, reflect and constant padding, a clip shorter than the lowest octave's frame."""
    from ddsp.spectral import _decimate_cpu, _framed_cpu

    g = torch.Generator().manual_seed(7)
    x = torch.randn(3, 30000, generator=g)
    short = torch.randn(2, 700, generator=g)
    runs = [
        lambda: SF.cqt(x, 22050, 512, n_bins=84),
        lambda: SF.vqt(x, 16000, 128, f_min=50.0, n_bins=60, pad_mode="reflect"),
        lambda: SF.cqt(short, 16000, 64, f_min=100.0, n_bins=36),
    ]
    ours = [r() for r in runs]
    monkeypatch.setattr(_decimate_cpu, "fusable", lambda x, h: False)
    monkeypatch.setattr(_framed_cpu, "usable", lambda *a: False)
    for o, r in zip(ours, runs, strict=True):
        ref = r()
        assert o.shape == ref.shape and (o - ref).abs().max() <= 1e-6 * ref.abs().max()


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_cqt_module_magnitudes_without_the_complex_transform(monkeypatch, power):
    """The CQT / VQT modules' magnitudes (and powers) written octave by octave into their rows
    (float32, no gradient, MKL) against the complex transform's magnitude: equal to rounding
    (1e-6 of the peak: the power's sum may be fused differently), batch dims, reflect padding,
    a clip shorter than the lowest octave's frame; a trainable CQT under autograd still takes
    the complex path and its kernels get a gradient."""
    from ddsp.spectral import _cqt, cqt

    g = torch.Generator().manual_seed(8)
    cases = [
        (CQT(22050, 512, n_bins=84, power=power), torch.randn(3, 30000, generator=g)),
        (
            VQT(16000, 128, f_min=50.0, n_bins=60, pad_mode="reflect", power=power),
            torch.randn(2, 3, 20000, generator=g),
        ),
        (CQT(16000, 64, f_min=100.0, n_bins=36, power=power), torch.randn(2, 700, generator=g)),
    ]
    calls = []
    real = _cqt.vqt_power
    monkeypatch.setattr(cqt, "vqt_power", lambda *a: calls.append(1) or real(*a))
    ours = [m(x) for m, x in cases]
    if not calls or real(*_args_of(cases[0])) is None:
        pytest.skip("no C++ kernels or no MKL FFT here")
    monkeypatch.setattr(cqt, "vqt_power", lambda *a: None)
    for o, (m, x) in zip(ours, cases, strict=True):
        ref = m(x)
        assert o.shape == ref.shape and (o - ref).abs().max() <= 1e-6 * ref.abs().max()
    monkeypatch.setattr(cqt, "vqt_power", real)
    trainable = CQT(16000, 128, f_min=100.0, n_bins=24, trainable=True, power=power)
    trainable(torch.randn(2, 4000, generator=g)).sum().backward()
    assert all(k.grad is not None and k.grad.abs().sum() > 0 for k in trainable.kernels)


def _args_of(case):
    m, x = case
    flat = x.reshape(-1, x.shape[-1])
    return flat, m.time_kernels(), m.plan, m.pad_mode, m.decimator.to(x.dtype), m.power


def test_cqt_module_keeps_its_time_kernels_until_a_basis_changes():
    """The magnitude path's time-domain kernels are built once, rebuilt after an optimiser's
    step changes a trainable basis (the next output follows the new basis), after .float()
    gives the module new buffers and after writes through ``.data``, which bump no version
    counter; the direct method has none."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4000, generator=g)
    m = CQT(16000, 128, f_min=100.0, n_bins=24, trainable=True)
    first = m.time_kernels()
    assert first is m.time_kernels() and all(not k.requires_grad for k in first)
    with torch.no_grad():
        before = m(x)
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    m(x).sum().backward()
    opt.step()
    assert m.time_kernels() is not first
    with torch.no_grad():
        after = m(x)
        ref = SF.magnitude(SF.vqt_response(x, m.bases(x.dtype), m.plan, m.pad_mode))
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, ref, rtol=0, atol=1e-6 * float(ref.abs().max()))
    fixed = CQT(16000, 128, f_min=100.0, n_bins=24).double()
    kept = fixed.time_kernels()
    assert fixed.float().time_kernels() is not kept
    # writes no version counter records (old-style initialisation through .data), on a
    # trainable kernel and on a fixed basis: the next output follows them too
    for module, tensor in ((m, m.kernels[0]), (fixed, fixed.basis0)):
        with torch.no_grad():
            before = module(x)
            tensor.data.mul_(2.0)
            after = module(x)
            ref = SF.magnitude(SF.vqt_response(x, module.bases(x.dtype), m.plan, m.pad_mode))
        assert not torch.allclose(before, after)
        torch.testing.assert_close(after, ref, rtol=0, atol=1e-6 * float(ref.abs().max()))
    assert CQT(16000, 128, f_min=100.0, n_bins=24, method="direct").time_kernels() is None
    SF.cqt_plan.cache_clear()
    try:
        with torch.inference_mode():  # a plan and buffers of inference tensors: no versions
            built = CQT(16000, 128, f_min=100.0, n_bins=24)
            assert built.basis0.is_inference() and built.time_kernels() is built.time_kernels()
    finally:
        SF.cqt_plan.cache_clear()


def test_decimate2_gradcheck_and_short_filters():
    x = torch.randn(2, 61, dtype=torch.float64, requires_grad=True)
    h = torch.tensor([0.1, 0.25, 0.3, 0.25, 0.1], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: SF.decimate2(v, h, block=16), (x,))
    ref = np.convolve(x[0].detach().numpy(), h.numpy())[2 : 2 + 61 : 2]
    assert np.allclose(SF.decimate2(x, h, block=16)[0].detach().numpy(), ref, rtol=0, atol=1e-14)


def test_time_domain_octaves_equal_the_fft_path(monkeypatch):
    """An octave as one matmul with time-domain kernels is the FFT-then-basis map: equal in
    float64 for a dense random (trained-like) basis, and its float32 error against float64 no
    worse than twice the FFT path's."""
    from ddsp.spectral import _cqt

    plan = SF.cqt_plan(16000.0, 128, 65.0, 60, 12)
    g = torch.Generator().manual_seed(4)
    bases = [torch.randn(b.shape, dtype=torch.complex128, generator=g) for b, *_ in plan.octaves]
    x = torch.randn(2, 12000, dtype=torch.float64, generator=g)
    gemm = SF.vqt_response(x, bases, plan, "reflect")
    gemm32 = SF.vqt_response(x.float(), [b.to(torch.complex64) for b in bases], plan, "reflect")
    monkeypatch.setattr(_cqt, "GEMM_MAX_FFT", 0)
    fft = SF.vqt_response(x, bases, plan, "reflect")
    fft32 = SF.vqt_response(x.float(), [b.to(torch.complex64) for b in bases], plan, "reflect")
    peak = fft.abs().max()
    assert (gemm - fft).abs().max() <= 1e-12 * peak
    err32 = (gemm32.to(torch.complex128) - fft).abs().max()
    assert err32 <= 2 * max((fft32.to(torch.complex128) - fft).abs().max(), 1e-7 * peak)


def test_decimate2_errors():
    with pytest.raises(ValueError, match="NaN"):
        SF.decimate2(torch.tensor([0.0, float("nan"), 1.0]))
    with pytest.raises(TypeError, match="float32 or float64"):
        SF.decimate2(torch.zeros(8, dtype=torch.int64))
    with pytest.raises(ValueError, match="odd length"):
        SF.decimate2(torch.zeros(8), torch.ones(4))
    with pytest.raises(ValueError, match="block"):
        SF.decimate2(torch.zeros(8), block=7)
    with pytest.raises(ValueError, match="n_fft // 2 \\+ 1 = 129"):
        SF.octave_kernels(torch.zeros(12, 128, dtype=torch.complex64), 256)

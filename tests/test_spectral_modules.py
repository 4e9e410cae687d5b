"""Modules of ddsp.spectral: trainable paths, references (librosa, nnAudio, tf.signal), autograd,
silence, dtypes, batch ranks, torch.compile, CUDA."""

import warnings

import librosa
import numpy as np
import pytest
import torch

from ddsp.spectral import (
    CQT,
    ISTFT,
    MFCC,
    STFT,
    VQT,
    Gammatonegram,
    GriffinLim,
    LogMelSpectrogram,
    MelSpectrogram,
    Spectrogram,
)
from ddsp.spectral import functional as SF

GRID = [
    dict(n_fft=512, hop_length=128),
    dict(n_fft=511, win_length=300, hop_length=100, pad_mode="reflect"),
    dict(n_fft=256, hop_length=64, center=False, normalized=True),
]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("kw", GRID)
def test_trainable_paths_equal_fft_path_float32(kw):
    x = torch.randn(2, 6000)
    fft = STFT(**kw)(x)
    assert _rel(fft, SF.stft(x, **kw)) == 0.0
    for extra in (dict(trainable=True), dict(trainable_window=True), dict(trainable=True, trainable_window=True)):  # fmt: skip
        assert _rel(STFT(**kw, **extra)(x), fft) <= 1e-5, extra


def test_gradients_reach_kernels_and_window_and_a_step_changes_them():
    stft = STFT(256, 64, trainable=True, trainable_window=True)
    before = [p.detach().clone() for p in stft.parameters()]
    opt = torch.optim.SGD(stft.parameters(), lr=1e-2)
    SF.magnitude(stft(torch.randn(2, 4000))).mean().backward()
    for p in stft.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    opt.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, stft.parameters(), strict=True))
    mel = MelSpectrogram(16000, 256, 64, n_mels=20, trainable_mel=True)
    mel(torch.randn(1, 4000)).mean().backward()
    assert mel.mel_basis.grad.abs().sum() > 0


@pytest.mark.parametrize("freq_scale", ["linear", "log"])
def test_log_and_linear_bins_match_nnaudio(freq_scale):
    from nnAudio.features import STFT as NNSTFT

    x = torch.randn(2, 8000, dtype=torch.float64)
    kw = dict(n_fft=1024, hop_length=256, freq_scale=freq_scale, sr=16000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = NNSTFT(fmin=50, fmax=6000, pad_mode="constant", output_format="Complex", verbose=False, **kw)  # fmt: skip
        ref = ref.double()(x)
    ref = torch.complex(ref[..., 0], ref[..., 1])
    ours = STFT(1024, 256, freq_scale=freq_scale, f_min=50, f_max=6000, sample_rate=16000)(x)
    assert _rel(ours, ref) <= 1e-6  # nnAudio builds its kernels in float32


@pytest.mark.parametrize("center", [True, False])
def test_istft_recovers_signal_float32(center):
    x = torch.randn(3, 8000)
    spec = STFT(512, 128, center=center)(x)
    y = ISTFT(512, 128, center=center)(spec, length=8000 if center else None)
    if not center:  # the first and last samples sit under the windows' zero ends
        x, y = x[..., 512:-512], y[..., 512 : 512 + x.shape[-1] - 1024]
    assert (y - x).abs().max() <= 1e-6 * 8  # ~1e-6 of the signal's peak (|x| <= ~4.5)
    assert _rel(y, x) <= 1e-6


def test_spectrogram_outputs(speech):
    x = torch.from_numpy(speech[0][:8000])
    ref = librosa.stft(speech[0][:8000], n_fft=512, hop_length=128)
    assert np.allclose(Spectrogram(512, 128, output="power")(x).numpy(), np.abs(ref) ** 2)
    phase = Spectrogram(512, 128, output="phase")(x).numpy()
    strong = np.abs(ref) > 1e-3 * np.abs(ref).max()
    assert np.abs(np.angle(np.exp(1j * (phase - np.angle(ref))))[strong]).max() < 1e-9


def test_amplitude_to_db_matches_librosa():
    s = torch.rand(2, 30, 40, dtype=torch.float64) * 3
    ref = np.stack([librosa.amplitude_to_db(s[i].numpy(), top_db=40) for i in range(2)])
    assert np.allclose(SF.amplitude_to_db(s, top_db=40).numpy(), ref, atol=1e-10)


def _tf_mel_reference(n_mels, n_freqs, sr, lo, hi):
    """tf.signal.linear_to_mel_weight_matrix transcribed to numpy (tensorflow is not installed)."""
    mel = lambda f: 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)  # noqa: E731
    spec_mel = mel(np.linspace(0.0, sr / 2, n_freqs)[1:])[:, None]
    edges = np.linspace(mel(lo), mel(hi), n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    w = np.maximum(0, np.minimum((spec_mel - lower) / (center - lower), (upper - spec_mel) / (upper - center)))  # fmt: skip
    return np.pad(w, [[1, 0], [0, 0]])  # (n_freqs, n_mels), DC row zero


def test_tf_mel_and_tf_mfcc():
    ref = _tf_mel_reference(20, 129, 8000, 125.0, 3800.0)
    assert np.abs(SF.tf_mel_filterbank(dtype=torch.float64).numpy() - ref.T).max() <= 1e-12
    # tf pipeline: |STFT| -> mel -> log(mel + 1e-6) -> DCT-II * sqrt(2 / N)
    x = torch.randn(2, 8000, dtype=torch.float64)
    mfcc = MFCC(16000, n_mfcc=13, dct_norm="tf", log="log", offset=1e-6, n_fft=1024, hop_length=256, n_mels=40, power=1.0, mel_scale="tf", f_min=125.0, f_max=7600.0)  # fmt: skip
    mag = SF.magnitude(SF.stft(x, 1024, 256)).numpy()
    logmel = np.log(np.einsum("fm,bft->bmt", _tf_mel_reference(40, 513, 16000, 125.0, 7600.0), mag) + 1e-6)  # fmt: skip
    n = np.arange(40)
    basis = np.cos(np.pi * np.arange(13)[:, None] * (2 * n + 1) / 80)
    ref = np.sqrt(2 / 40) * np.einsum("km,bmt->bkt", basis, logmel)
    assert _rel(mfcc(x), torch.from_numpy(ref)) <= 1e-10


@pytest.mark.parametrize("lifter", [0, 22])
@pytest.mark.parametrize("kind", ["noise", "speech"])
def test_mfcc_matches_librosa(lifter, kind, speech):
    x = speech[0][:12000] if kind == "speech" else np.random.default_rng(0).standard_normal(12000)
    kw = dict(n_fft=1024, hop_length=256, n_mels=64)
    ref = librosa.feature.mfcc(y=x, sr=22050, n_mfcc=20, lifter=lifter, **kw)
    ours = MFCC(22050, 20, lifter=lifter, **kw)(torch.from_numpy(x)).numpy()
    assert np.abs(ours - ref).max() <= 1e-6 * np.abs(ref).max()  # criterion: 1e-6 relative
    assert np.abs(SF.dct_matrix(8).numpy() @ np.eye(8) - __import__("scipy").fft.dct(np.eye(8), axis=0, norm="ortho")).max() < 1e-12  # fmt: skip


@pytest.mark.parametrize("log", ["db", "log"])
def test_mfcc_without_gradients_equals_the_autograd_path(log):
    """Without a graph the log runs in place on the mel spectrogram and the DCT on its
    frame-major memory; the values are the autograd path's."""
    mfcc = MFCC(16000, 20, n_fft=512, hop_length=128, n_mels=40, log=log)
    x = torch.randn(3, 8000)
    with torch.no_grad():
        fast = mfcc(x)
    slow = mfcc(x.clone().requires_grad_())
    assert slow.requires_grad and fast.shape == slow.shape == (3, 20, 63)
    assert (fast - slow.detach()).abs().max() <= 1e-5 * slow.abs().max()


def test_gammatone_matches_nnaudio():
    from nnAudio.features import Gammatonegram as NNGammatonegram
    from nnAudio.librosa_functions import get_gammatone

    ref = get_gammatone(16000, 1024, 64, 50.0, None)
    fb, cf = SF.gammatone_filterbank(16000, 1024, 64, 50.0, dtype=torch.float64)
    assert np.abs(fb.numpy() - ref).max() <= 1e-6 * np.abs(ref).max()  # reference is float32
    x = torch.randn(2, 8000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nn_g = NNGammatonegram(sr=16000, n_fft=1024, hop_length=256, n_bins=64, pad_mode="constant", verbose=False)  # fmt: skip
    assert _rel(Gammatonegram(16000, 1024, 256, n_bins=64)(x), nn_g(x)) <= 1e-5


def test_griffinlim_matches_librosa(speech):
    x = speech[0][:12000]
    mag = np.abs(librosa.stft(x, n_fft=512, hop_length=128))
    ref = librosa.griffinlim(mag, n_iter=16, hop_length=128, n_fft=512, init=None, length=12000)
    ours = GriffinLim(512, 128, n_iter=16)(torch.from_numpy(mag), length=12000).numpy()
    assert np.abs(ours - ref).max() <= 1e-9 * np.abs(ref).max()
    # and it converges: spectral convergence after 32 iterations, momentum helps
    sc = {}
    for m in (0.0, 0.99):
        y = GriffinLim(512, 128, n_iter=32, momentum=m)(torch.from_numpy(mag), length=12000)
        rebuilt = SF.magnitude(SF.stft(y, 512, 128)).numpy()
        sc[m] = np.linalg.norm(rebuilt - mag) / np.linalg.norm(mag)
    assert sc[0.99] < sc[0.0] < 0.5


@pytest.mark.parametrize(
    ("t", "kw"),
    [
        (20000, {"n_fft": 1024, "hop_length": 256}),
        (5000, {"n_fft": 512, "hop_length": 128, "win_length": 400}),
        (3000, {"n_fft": 500, "hop_length": 120}),
        (3000, {"n_fft": 256, "hop_length": 100, "window": "hamming"}),
        (700, {"n_fft": 1024, "hop_length": 256}),
        (4000, {"n_fft": 64, "hop_length": 64}),
        (4000, {"n_fft": 64, "hop_length": 80}),
    ],
)
def test_istft_in_one_pass_is_the_eager_path_bit_for_bit(monkeypatch, t, kw):
    """float32 with MKL: the inverse STFT's FFTs, window, overlap-add (in the eager order) and
    normalisation in C++ give the eager path's bits: odd and even frames, hops that do not
    divide the frame or exceed it, a window shorter than the frame, fewer samples than a
    frame, requested lengths shorter and longer than the frames, no centring, a spectrum not
    in the STFT's frame-major layout, one thread and two."""
    from ddsp.spectral import _ola_cpu

    if not _ola_cpu.usable(torch.zeros(1, dtype=torch.complex64)):
        pytest.skip("no C++ kernels or no MKL FFT here")
    calls = []
    real = _ola_cpu.istft_frames
    monkeypatch.setattr(_ola_cpu, "istft_frames", lambda *a: calls.append(1) or real(*a))
    x = torch.randn(2, 3, t, generator=torch.Generator().manual_seed(13))
    runs = [(SF.stft(x, **kw), {}), (SF.stft(x, **kw).contiguous(), {"length": t})]
    runs += [(SF.stft(x, **kw), {"length": t + 777}), (SF.stft(x, **kw), {"length": 10})]
    if t >= kw["n_fft"]:
        runs.append((SF.stft(x, center=False, **kw), {"center": False}))
    threads = torch.get_num_threads()
    for spec, extra in runs:
        try:
            torch.set_num_threads(1)
            one = SF.istft(spec, **kw, **extra)
            torch.set_num_threads(2)
            two = SF.istft(spec, **kw, **extra)
        finally:
            torch.set_num_threads(threads)
        with monkeypatch.context() as m:
            m.setattr(_ola_cpu, "usable", lambda s: False)
            ref = SF.istft(spec, **kw, **extra)
        assert one.shape == ref.shape and torch.equal(one, ref) and torch.equal(two, ref), extra
    assert len(calls) == 2 * len(runs)
    # a window that asks for a gradient takes autograd's path: the gradient reaches it
    window = torch.hann_window(kw.get("win_length", kw["n_fft"]), requires_grad=True)
    spec = SF.stft(x, **kw).detach()
    SF.istft(spec, window=window, **{k: v for k, v in kw.items() if k != "window"}).sum().backward()
    assert window.grad is not None and torch.isfinite(window.grad).all()
    assert len(calls) == 2 * len(runs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_griffinlim_step_in_one_pass_is_the_torch_ops(dtype):
    """The C++ update ``|S| a / (|a| + eps)``, ``a = rebuilt - c previous``, against the torch
    ops: within 2 ulp-scale of each element where the modulus's square is a normal number, and
    by ``hypot`` where it is not (tiny, huge, zero, NaN), batch dims, with and without the
    momentum's previous spectrum."""
    from ddsp.spectral import _griffinlim, _griffinlim_cpu

    g = torch.Generator().manual_seed(11)
    cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    mag = torch.rand(2, 3, 40, 9, dtype=dtype, generator=g)
    frame_major = lambda z: z.transpose(-1, -2).contiguous().transpose(-1, -2)  # noqa: E731
    rebuilt = frame_major(torch.randn(2, 3, 40, 9, dtype=cdtype, generator=g))
    previous = frame_major(torch.randn(2, 3, 40, 9, dtype=cdtype, generator=g))
    big = 1e25 if dtype == torch.float32 else 1e200
    rebuilt[0, 0, :4, 0] = torch.tensor([1e-25, big, 0, 3e-30 + 1e-31j], dtype=cdtype)
    rebuilt[0, 0, 4, 0] = complex("nan")
    if not _griffinlim_cpu.usable(mag, rebuilt, previous):
        pytest.skip("no C++ kernels here")
    mag_t = mag.reshape(-1, 40, 9).transpose(-1, -2).contiguous()
    tiny = torch.finfo(dtype).tiny
    for prev in (None, previous):
        ours = _griffinlim_cpu.step(mag_t, rebuilt, prev, 0.495, tiny)
        ref = _griffinlim.next_spectrum(mag, rebuilt, prev, 0.495, tiny)
        assert ours.shape == ref.shape and ours.transpose(-1, -2).is_contiguous()
        nan = torch.isnan(ref)
        assert torch.equal(torch.isnan(ours), nan) and nan[0, 0, 4, 0] and nan.sum() == 1
        err = (ours - ref).abs().nan_to_num(0.0)
        assert (err <= 4 * torch.finfo(dtype).eps * mag).all()
        assert ours[0, 0, 1, 0].real == pytest.approx(mag[0, 0, 1, 0].item(), rel=1e-6)


def test_griffinlim_one_pass_step_changes_no_result(monkeypatch):
    """Griffin-Lim with the C++ update against the torch ops, float64 (within 1e-10 of the
    peak after 16 iterations; float32 amplifies its own rounding over the iterations, either
    way, to ~1e-3)."""
    from ddsp.spectral import _griffinlim_cpu

    g = torch.Generator().manual_seed(12)
    mag = SF.stft(torch.randn(2, 6000, dtype=torch.float64, generator=g), 512, 128).abs()
    calls = []
    real = _griffinlim_cpu.step
    monkeypatch.setattr(_griffinlim_cpu, "step", lambda *a: calls.append(1) or real(*a))
    for momentum in (0.99, 0.0):
        ours = SF.griffinlim(mag, 512, 128, n_iter=16, momentum=momentum)
        with monkeypatch.context() as m:
            m.setattr(_griffinlim_cpu, "usable", lambda *a: False)
            ref = SF.griffinlim(mag, 512, 128, n_iter=16, momentum=momentum)
        assert (ours - ref).abs().max() <= 1e-10 * ref.abs().max()
    assert len(calls) == (32 if _griffinlim_cpu.usable(mag, mag.to(torch.complex128), None) else 0)


_MODULES = {  # built on demand: each test builds only the one it checks
    "STFT": lambda: STFT(64, 16),
    "STFT-trainable": lambda: STFT(64, 16, trainable=True, trainable_window=True),
    "STFT-log": lambda: STFT(64, 16, freq_scale="log", f_min=200, n_bins=20, sample_rate=8000),
    "Spectrogram": lambda: Spectrogram(64, 16),
    "Spectrogram-phase": lambda: Spectrogram(64, 16, output="phase"),
    "MelSpectrogram": lambda: MelSpectrogram(8000, 64, 16, n_mels=8),
    "LogMelSpectrogram": lambda: LogMelSpectrogram(8000, 64, 16, n_mels=8),
    "LogMel-db": lambda: LogMelSpectrogram(8000, 64, 16, n_mels=8, db=True),
    "MFCC": lambda: MFCC(8000, 5, n_fft=64, hop_length=16, n_mels=8),
    "CQT": lambda: CQT(8000, 16, f_min=500.0, n_bins=24),
    "VQT-direct": lambda: VQT(8000, 16, f_min=500.0, n_bins=24, method="direct"),
    "CQT-trainable": lambda: CQT(8000, 16, f_min=500.0, n_bins=24, trainable=True),
    "Gammatonegram": lambda: Gammatonegram(8000, 64, 16, n_bins=8),
}


@pytest.mark.parametrize("name", list(_MODULES))
def test_gradcheck_float64(name):
    torch.set_default_dtype(torch.float64)  # trainable parameters in float64 too
    try:
        module = _MODULES[name]()
    finally:
        torch.set_default_dtype(torch.float32)
    x = torch.randn(1, 200, dtype=torch.float64, requires_grad=True)  # batching: tested below
    out = module(x)
    fn = (lambda v: torch.view_as_real(module(v))) if out.is_complex() else module
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5)


def test_gradcheck_istft_and_griffinlim():
    spec = torch.randn(1, 33, 10, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: ISTFT(64, 16)(s), (spec,))
    mag = torch.rand(1, 33, 10, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m: GriffinLim(64, 16, n_iter=2)(m + 0.5), (mag,))


@pytest.mark.parametrize("name", list(_MODULES))
def test_silence_dtypes_and_batch_ranks(name):
    module = _MODULES[name]()
    z = torch.zeros(2, 1, 400, requires_grad=True)
    out = module(z)
    (out.abs() if out.is_complex() else out).sum().backward()
    assert torch.isfinite(z.grad).all() and torch.isfinite(out).all()
    x = torch.randn(2, 3, 400, dtype=torch.float64)
    y64, y32 = module(x), module(x.float())
    assert y64.shape[:2] == (2, 3) and y64.dtype in (torch.float64, torch.complex128)
    assert y32.dtype in (torch.float32, torch.complex64)
    assert _rel(y32.to(y64.dtype), y64) <= 1e-4
    assert torch.allclose(module(x[1, 2]), y64[1, 2])


@pytest.mark.parametrize("name", ["Spectrogram", "MFCC", "CQT", "Gammatonegram", "STFT-trainable"])
def test_torch_compile(name):
    """The modules compile; with the options ddsp's own compiled paths use, which key
    inductor's cache by the CPU's vector ISA (:func:`ddsp.dsp.keyed_by_vector_isa`)."""
    from ddsp.dsp import keyed_by_vector_isa

    module = _MODULES[name]()
    x = torch.randn(2, 400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = torch.compile(module, options=keyed_by_vector_isa())(x)
    assert _rel(out, module(x)) <= 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", list(_MODULES))
def test_cuda_matches_cpu(name):
    module = _MODULES[name]()
    x = torch.randn(2, 400, dtype=torch.float64)
    assert _rel(module.cuda()(x.cuda()).cpu(), module.cpu()(x)) <= 1e-9


def test_magnitude_is_exact_near_silence_with_finite_gradient():
    spec = torch.tensor([0.0, 1e-8, 3e-6j, 1 + 1j], dtype=torch.complex128, requires_grad=True)
    for power in (1.0, 2.0, 0.5):
        out = SF.magnitude(spec, power)
        assert torch.allclose(out, spec.detach().abs() ** power, rtol=1e-12, atol=0)
        (g,) = torch.autograd.grad(out.sum(), spec)
        assert torch.isfinite(torch.view_as_real(g)).all() and g[0] == 0
    # a floor only when asked (the losses' auraloss-compatible eps)
    assert SF.magnitude(spec, 1.0, eps=1e-8)[1].item() == pytest.approx(1e-4)


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5, 1.5])
@pytest.mark.parametrize("eps", [0.0, 1e-8])
def test_magnitude_without_gradient_is_the_same_values(power, eps):
    """Without a gradient to take, magnitude skips the gradient floor's reduction: the same
    values as with one, in place or not."""
    spec = torch.randn(3, 40, 7, dtype=torch.complex64, generator=torch.Generator().manual_seed(9))
    spec[0, :5] = 0
    with_grad = SF.magnitude(spec.clone().requires_grad_(), power, eps, floor_dims=(-2, -1))
    assert torch.equal(SF.magnitude(spec, power, eps, floor_dims=(-2, -1)), with_grad.detach())


def test_amplitude_to_db_and_dct_gradcheck():
    s = (torch.rand(2, 6, 5, dtype=torch.float64) + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: SF.amplitude_to_db(v, top_db=None), (s,))
    assert torch.autograd.gradcheck(lambda v: SF.dct(v, 4), (s,))
    with pytest.raises(ValueError, match="norm"):
        SF.dct_matrix(4, norm="bad")

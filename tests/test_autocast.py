"""Mixed precision: inside ``torch.autocast`` every DSP call of the wings (and the metrics: a
``bf16-mixed`` run's test MCD had been computed from bfloat16 mel cepstra) computes what it computes
outside it (autocast had lowered their matmuls and convolutions to bfloat16, silently), takes
half-precision inputs the way torch's float32-list ops do, and a vocoder trains with Lightning's
``precision="bf16-mixed"`` (the synthesisers had refused the encoder's bfloat16 controls)."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import ddsp.filters as F
import ddsp.losses as L
import ddsp.metrics as M
import ddsp.spectral as S
import ddsp.synth as Y
from ddsp.spectral import functional as SF

HALF = (torch.float16, torch.bfloat16)


class HalfOps(TorchDispatchMode):
    """Records every op (after autocast's casts) that produced a float16 / bfloat16 tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.dtype in HALF:
                self.ops.add(str(func))
        return out


_SEED = iter(range(10**6))


def _randn(*shape: int) -> torch.Tensor:
    """A new draw each call (a loss's two inputs differ)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(next(_SEED)))


F0 = torch.full((2, 25), 140.0)


def _synth(cls):
    s = cls(16000, 160)
    sizes = s.control_sizes
    return lambda *c: s(F0, dict(zip(sizes, c, strict=True)), generator=_gen()), [
        0.5 * _randn(2, 25, n) for n in sizes.values()
    ]


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


_golf = Y.GlottalFlowLPC(16000, 160)


def _streamed(*c):
    stream = Y.StreamingGOLF(_golf, generator=_gen())  # renders without a gradient
    return stream(F0[:, :8], dict(zip(_golf.control_sizes, c, strict=True)))


# name: (call, float32 inputs that get a gradient). Each of these ran a bfloat16 matmul or
# convolution inside autocast before, except those marked "input only" (their kernels are not on
# autocast's lists; they are here for half-precision input).
CALLS = {
    "MelSpectrogram": (S.MelSpectrogram(16000, 512, 128), [_randn(2, 4000)]),
    "LogMelSpectrogram": (S.LogMelSpectrogram(16000, 512, 128), [_randn(2, 4000)]),
    "MFCC": (S.MFCC(16000, n_fft=512, hop_length=128), [_randn(2, 4000)]),
    "CQT": (S.CQT(16000, 128, n_bins=36), [_randn(2, 4000)]),
    "VQT": (S.VQT(16000, 128, n_bins=36, gamma=10.0), [_randn(2, 4000)]),
    "Gammatonegram": (S.Gammatonegram(16000, 512, 128), [_randn(2, 4000)]),
    "Spectrogram (input only)": (S.Spectrogram(512, 128), [_randn(2, 4000)]),
    "SF.dct": (lambda m: SF.dct(m, 13), [_randn(2, 40, 10)]),
    "SF.griffinlim_cqt": (
        lambda m: SF.griffinlim_cqt(m, 16000, 128, n_iter=2, generator=_gen()),
        [_randn(2, 84, 20).abs()],
    ),
    "MelSTFTLoss": (L.MelSTFTLoss(16000), [_randn(2, 4000), _randn(2, 4000)]),
    "BandLevelLoss": (L.BandLevelLoss(16000), [_randn(2, 4000), _randn(2, 4000)]),
    "MultiResolutionSTFTLoss (input only)": (
        L.MultiResolutionSTFTLoss(),
        [_randn(2, 4000), _randn(2, 4000)],
    ),
    "mel_cepstral_distortion": (
        lambda y, x: M.mel_cepstral_distortion(y, x, alpha=0.42, n_fft=512, hop_length=80),
        [_randn(2, 4000), _randn(2, 4000)],
    ),
    "upsample": (lambda c: F.upsample(c, 160), [_randn(2, 25, 4)]),
    "interpolate_lpc": (
        lambda k: F.interpolate_lpc(k, 160),
        [0.5 * torch.tanh(_randn(2, 25, 4))],
    ),
    "allpole (input only)": (F.allpole, [_randn(2, 4000), 0.1 * torch.tanh(_randn(2, 4000, 4))]),
    "harmonic_oscillator": (
        lambda a: Y.harmonic_oscillator(F0, a, 16000, 160),
        [_randn(2, 25, 10)],
    ),
    **{
        cls.__name__: _synth(cls)
        for cls in (
            Y.GlottalFlowLPC,
            Y.HarmonicPlusNoise,
            Y.PulseTrainLPC,
            Y.SawtoothFIR,
            Y.NeuralHomomorphic,
            Y.DifferentiableWORLD,
        )
    },
    "StreamingGOLF": (_streamed, [0.5 * _randn(2, 8, n) for n in _golf.control_sizes.values()]),
}


def _forward(call, inputs):
    xs = [x.clone().requires_grad_() for x in inputs]
    return call(*xs), xs


@pytest.mark.parametrize("name", sorted(CALLS))
def test_autocast_changes_nothing(name):
    """Forward inside autocast, backward outside (as Lightning does, and torch's AMP guide
    asks): output and gradients equal to the call without autocast, and no op of the call ran in
    half precision (recorded after autocast's casts)."""
    call, inputs = CALLS[name]
    want, xs = _forward(call, inputs)
    ops = HalfOps()
    with torch.autocast("cpu", dtype=torch.bfloat16), ops:
        got, ys = _forward(call, inputs)
    want_grads = torch.autograd.grad(want.abs().sum(), xs) if want.requires_grad else ()
    grads = torch.autograd.grad(got.abs().sum(), ys) if want.requires_grad else ()
    assert not ops.ops, f"half-precision ops inside autocast: {sorted(ops.ops)}"
    assert got.dtype == want.dtype
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    for g, w in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_half_inputs_inside_autocast_are_taken_as_float32(name):
    """What a network under autocast hands over (bfloat16 audio or controls) is widened, as
    torch's float32-list ops do: the result equals the float32 call on the same values."""
    call, inputs = CALLS[name]
    half = [x.bfloat16() for x in inputs]
    want = call(*[h.float() for h in half])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = call(*half)
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_half_inputs_outside_autocast_are_still_refused():
    with pytest.raises(TypeError, match="bfloat16"):
        S.MelSpectrogram(16000, 512, 128)(_randn(2, 4000).bfloat16())
    s = Y.GlottalFlowLPC(16000, 160)
    controls = {k: _randn(2, 25, n).bfloat16() for k, n in s.control_sizes.items()}
    with pytest.raises(TypeError, match="bfloat16 but f0 is torch.float32"):
        s(F0, controls)


def _public_modules():
    for package in (S, L, Y):
        for name in package.__all__:
            obj = getattr(package, name)
            if inspect.isclass(obj) and issubclass(obj, torch.nn.Module):
                yield f"{package.__name__}.{name}", obj.forward


@pytest.mark.parametrize("name, forward", list(_public_modules()))
def test_every_public_module_runs_in_full_precision(name, forward):
    """A module added later cannot forget it: every public module's forward is wrapped."""
    assert getattr(forward, "full_precision", False), f"{name}.forward lacks @full_precision"


@pytest.mark.parametrize(
    "fn",
    [
        SF.stft,
        SF.stft_power,
        SF.istft,
        SF.cqt,
        SF.vqt,
        SF.icqt,
        SF.ivqt,
        SF.dct,
        SF.griffinlim,
        SF.griffinlim_cqt,
        SF.stft_matmul,
        S.a_weighted_loudness,
        S.frame_rms,
        F.allpole,
        F.allpole_sos,
        F.ltv_fir,
        F.ltv_iir,
        F.lfilter,
        F.upsample,
        F.interpolate_lpc,
        F.lpc_analysis,
        F.allpole_framewise_ola,
        F.allpole_frequency_sampling,
        Y.harmonic_oscillator,
        Y.glottal_oscillator,
        Y.filtered_noise,
        Y.classical_lpc_vocoder,
        Y.StreamingGOLF.__call__,
        M.mel_cepstrum,
        M.mel_cepstral_distortion,
        M.loudness_error,
        M.f0_errors,
        M.f0_track,
        M.formant_tracks,
        M.h1_h2,
    ],
    ids=lambda f: f.__qualname__,
)
def test_signal_transforms_run_in_full_precision(fn):
    assert getattr(fn, "full_precision", False)


@pytest.mark.slow
def test_vocoder_trains_with_bf16_mixed_precision(tmp_path):
    from ddsp.training import compose_config, train

    overrides = [
        "experiment=lpc_vocoder",
        "debug=fdr",
        "logger=none",
        "data.batch_size=4",
        "data.segment_seconds=0.5",
        "trainer.precision=bf16-mixed",
        f"paths.output_dir={tmp_path}",
    ]
    metrics = train(compose_config(*overrides))
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (experiments/gpu_check.py)")
@pytest.mark.parametrize("name", ["MelSpectrogram", "CQT", "MelSTFTLoss", "GlottalFlowLPC"])
def test_cuda_autocast_changes_nothing(name):
    """The same on CUDA under float16 autocast, where the matmuls run on cuBLAS (float16 would
    be ~1e-3 off; TF32 is switched off for the comparison)."""
    call, inputs = CALLS[name]
    if isinstance(call, torch.nn.Module):
        call = call.to("cuda")
    elif name == "GlottalFlowLPC":
        s = Y.GlottalFlowLPC(16000, 160).cuda()
        f0, gen = F0.cuda(), torch.Generator("cuda")
        call = lambda *c: s(f0, dict(zip(s.control_sizes, c, strict=True)), gen.manual_seed(0))  # noqa: E731
    inputs = [x.cuda() for x in inputs]
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        want = call(*inputs)
        with torch.autocast("cuda", dtype=torch.float16):
            got = call(*inputs)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
    assert got.dtype == want.dtype
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6 * float(want.abs().max()))


def test_compiled_wrappers_are_cached_apart():
    """torch.compile caches frames by code object. With one code object shared by every wrapper,
    compiling a ninth wrapped function (``torch.compile(module)`` compiles the wrapper of its
    forward first) hit dynamo's recompile limit (8) and ran it eagerly, with a warning: compiling
    the six synthesisers in turn did."""
    import types

    from ddsp.precision import full_precision

    def add(x, k):
        return x + k

    graphs = []

    def count(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    for k in range(12):  # twelve functions with code objects of their own, each wrapped
        fn = types.FunctionType(add.__code__.replace(co_name=f"add{k}"), globals())
        out = torch.compile(full_precision(fn), backend=count)(torch.zeros(3), k)
        assert torch.equal(out, torch.full((3,), float(k)))
    assert len(graphs) == 12  # each compiled (none fell back to eager)

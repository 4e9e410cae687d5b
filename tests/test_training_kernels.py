"""GOLF-ss's training kernels against the general paths they replace: the vocal-tract cascade
with gradients in two C++ passes (:mod:`ddsp.filters.cascade_grad`; the general path makes
per-sample coefficient tensors and filters section by section), the unit-power gain's C++
gradient (:func:`ddsp.filters.response.biquad_log_rms_gain`; the general path is the compiled
eager form) and the glottal oscillator's position gradient (:func:`ddsp.synth.glottal_oscillator`;
the general path is the eager oversampled table read and FFT decimation). Float64 to rounding, float32 against float64 no worse than the general float32 path
(a factor 2 and a floor), gradcheck and gradgradcheck, the render kernels' output bits, on random
biquads (moderate and saturated poles) and on the pretrained model's vocal tract for a shipped
recording."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import DATA

from ddsp.filters import _render_cpu, cascade_grad, logits_to_biquads, response
from ddsp.filters.allpole import allpole_sos
from ddsp.filters.response import biquad_log_rms_gain
from ddsp.synth import glottal
from ddsp.synth.glottal import glottal_oscillator, glottal_wavetables

pytestmark = pytest.mark.skipif(_render_cpu.ops() is None, reason="no C++ compiler here")


def _general(monkeypatch, fn):
    """``fn()`` with the training kernel switched off (the general path)."""
    with monkeypatch.context() as m:
        m.setattr(cascade_grad, "available", lambda *a: False)
        return fn()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def _inputs(dtype, lead=(3,), frames=30, hop=40, sections=5, scale=1.0):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(*lead, frames * hop, generator=g, dtype=torch.float64)
    logits = scale * torch.randn(*lead, frames, sections, 2, generator=g, dtype=torch.float64)
    gy = torch.randn(*lead, frames * hop, generator=g, dtype=torch.float64)
    sos = logits_to_biquads(logits, 0.99)
    return x.to(dtype), sos.to(dtype), gy.to(dtype)


def _run(x, sos, gy, hop=40):
    x, sos = x.clone().requires_grad_(), sos.clone().requires_grad_()
    y = allpole_sos(x, sos, hop_length=hop)
    gx, gsos = torch.autograd.grad(y, (x, sos), gy)
    return y.detach(), gx, gsos, y.grad_fn


def _kernel_used(fn, depth: int = 3) -> bool:
    """Whether the autograd graph's last ``depth`` nodes hold the training kernel's."""
    if fn is None or depth == 0:
        return False
    if type(fn).__name__ == "_CascadeBackward":
        return True
    return any(_kernel_used(f, depth - 1) for f, _ in fn.next_functions)


@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_equals_the_general_path(monkeypatch, scale):
    """Output and both gradients. Measured: float64 below 1e-14; float32 about 1e-6, the
    general float32 path alike."""
    res = {}
    for dtype in (torch.float64, torch.float32):
        x, sos, gy = _inputs(dtype, scale=scale)
        res[dtype] = _run(x, sos, gy)
        res[dtype, "general"] = _general(monkeypatch, lambda: _run(x, sos, gy))  # noqa: B023
    assert _kernel_used(res[torch.float64][3])
    assert not _kernel_used(res[torch.float64, "general"][3])
    ref = res[torch.float64, "general"]
    for k, name in enumerate(("y", "dL/dx", "dL/dsos")):
        err64 = _rel(res[torch.float64][k], ref[k])
        assert err64 <= 1e-12, f"{name} float64: {err64:.1e}"
        err32 = _rel(res[torch.float32][k], ref[k])
        general32 = _rel(res[torch.float32, "general"][k], ref[k])
        assert err32 <= max(2 * general32, 1e-5), f"{name} float32: {err32:.1e} ({general32:.1e})"


def test_forward_gives_the_render_kernels_bits():
    """The same recursion as rendering without gradients: training and inference agree."""
    for dtype in (torch.float32, torch.float64):
        x, sos, _ = _inputs(dtype)
        with torch.no_grad():
            rendered = allpole_sos(x, sos, hop_length=40)
        assert torch.equal(allpole_sos(x.requires_grad_(), sos, hop_length=40), rendered)


def test_gradcheck_and_gradgradcheck():
    """Second derivatives differentiate the general path (create_graph)."""
    x, sos, _ = _inputs(torch.float64, lead=(2,), frames=5, hop=3, sections=2, scale=2.0)
    x.requires_grad_(), sos.requires_grad_()

    def f(x, sos):
        return allpole_sos(x, sos, hop_length=3)

    assert torch.autograd.gradcheck(f, (x, sos))
    assert torch.autograd.gradgradcheck(f, (x, sos))


def test_batch_rank_and_one_frame(monkeypatch):
    for lead, frames in (((2, 3), 4), ((2,), 1)):
        x, sos, gy = _inputs(torch.float64, lead=lead, frames=frames, hop=7, sections=3)
        ours = _run(x, sos, gy, hop=7)
        ref = _general(monkeypatch, lambda: _run(x, sos, gy, hop=7))  # noqa: B023
        assert ours[0].shape == x.shape and ours[2].shape == sos.shape
        for a, b in zip(ours[:3], ref[:3], strict=True):
            assert _rel(a, b) <= 1e-12


def test_nonfinite_input_is_still_named():
    x, sos, _ = _inputs(torch.float32)
    x[1, 100] = float("nan")
    with pytest.raises(ValueError, match="x contains NaN"):
        allpole_sos(x.requires_grad_(), sos, hop_length=40)


def test_pretrained_vocal_tract_gradients(monkeypatch):
    """Real input: the pretrained GOLF-ss's biquads and excitation for 1 s of a shipped
    recording; the gradients of an MSE against the recording through the vocal tract."""
    from ddsp.models.checkpoint import load_vocoder
    from ddsp.resynth import encode_file

    model, cfg = load_vocoder(None)
    batch, voice = encode_file(model, cfg, DATA / "barrel__bar-v-genofond.ogg")
    frames, hop = 100, cfg.data.hop_length
    target = batch["audio"][:, 50 * hop : (50 + frames) * hop].double()
    with torch.no_grad():
        controls = {k: v[:, 50 : 50 + frames].double() for k, v in voice.controls.items()}
        synth = model.synth.double()
        excitation, sos = synth.excitation(
            voice.f0[:, 50 : 50 + frames].double(), controls, torch.Generator().manual_seed(0)
        )

    def run(dtype):
        x = excitation.detach().to(dtype).clone().requires_grad_()
        s = sos.detach().to(dtype).clone().requires_grad_()
        y = allpole_sos(x, s, hop_length=hop)
        loss = y.sub(target.to(dtype)).square().mean()
        return (y.detach(), *torch.autograd.grad(loss, (x, s)))

    ref = _general(monkeypatch, lambda: run(torch.float64))
    ref32 = _general(monkeypatch, lambda: run(torch.float32))
    for ours64, ours32, r, r32 in zip(
        run(torch.float64), run(torch.float32), ref, ref32, strict=True
    ):
        assert _rel(ours64, r) <= 1e-12
        assert _rel(ours32, r) <= max(2 * _rel(r32, r), 1e-5)


def _gain_general(monkeypatch, fn):
    """``fn()`` with the gain's C++ gradient switched off (the compiled eager form)."""
    with monkeypatch.context() as m:
        m.setattr(response, "_kernels_take_gradient", lambda sos: False)
        return fn()


def _gain_run(sos, g):
    sos = sos.clone().requires_grad_()
    out = biquad_log_rms_gain(sos)
    return out.detach(), torch.autograd.grad(out, sos, g)[0], out.grad_fn


@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_gain_gradient_equals_the_general_path(monkeypatch, scale):
    """A training batch's shape (16 x 100 frames of 11 biquads), moderate and saturated poles.
    Measured: float64 1e-11 relative (the frequency grid's rounding near sharp resonances);
    float32 5e-8 against float64 where the general float32 path errs by 7e-7 to 4e-6 (its logs
    are float32)."""
    g = torch.Generator().manual_seed(8)
    logits = scale * torch.randn(16, 100, 11, 2, generator=g, dtype=torch.float64)
    sos64, up = logits_to_biquads(logits, 0.99), torch.randn(16, 100, generator=g).double()
    ref = _gain_general(monkeypatch, lambda: _gain_run(sos64, up))
    ours = _gain_run(sos64, up)
    assert type(ours[2]).__name__ == "_LogRmsGainBackward"
    assert type(ref[2]).__name__ != "_LogRmsGainBackward"
    assert _rel(ours[0], ref[0]) <= 1e-9 and _rel(ours[1], ref[1]) <= 1e-9
    ours32 = _gain_run(sos64.float(), up.float())
    ref32 = _gain_general(monkeypatch, lambda: _gain_run(sos64.float(), up.float()))
    for k in range(2):
        assert _rel(ours32[k], ref[k]) <= max(2 * _rel(ref32[k], ref[k]), 1e-6)


def test_gain_gradient_where_the_product_leaves_float64(monkeypatch):
    """120 double poles at radius 0.99 near DC: prod_s P_s(0) = 1e-960 underflows and both
    passes take the log domain; the gradient still equals the eager form's."""
    a1 = torch.full((2, 120), -2 * 0.99 * math.cos(0.05), dtype=torch.float64)
    sos = torch.stack([a1, torch.full_like(a1, 0.99**2)], -1)
    up = torch.tensor([1.0, -0.5], dtype=torch.float64)
    ref = _gain_general(monkeypatch, lambda: _gain_run(sos, up))
    ours = _gain_run(sos, up)
    assert torch.isfinite(ours[1]).all()
    assert _rel(ours[0], ref[0]) <= 1e-9 and _rel(ours[1], ref[1]) <= 1e-9


def test_gain_gradcheck_and_gradgradcheck():
    """Moderate poles: near radius 0.99 the second derivatives are so steep that finite
    differences fail the eager form's gradgradcheck too."""
    g = torch.Generator().manual_seed(9)
    sos = logits_to_biquads(0.5 * torch.randn(2, 3, 4, 2, generator=g, dtype=torch.float64), 0.9)
    sos.requires_grad_()
    assert torch.autograd.gradcheck(biquad_log_rms_gain, (sos,))
    assert torch.autograd.gradgradcheck(biquad_log_rms_gain, (sos,))


def _osc_general(monkeypatch, fn):
    """``fn()`` with the oscillator's training kernel switched off (the eager ops)."""
    with monkeypatch.context() as m:
        m.setattr(glottal, "_kernels_take_gradient", lambda *t: False)
        return fn()


def _osc_run(f0, pos, gy, tables, oversample, phase):
    pos = pos.clone().requires_grad_()
    y = glottal_oscillator(f0, pos, tables.to(f0.dtype), 16000, 40, oversample, phase)
    return y.detach(), torch.autograd.grad(y, pos, gy)[0], y.grad_fn


@pytest.mark.parametrize(
    ("oversample", "with_phase"), [(4, True), (4, False), (1, False), (3, True)]
)
def test_oscillator_position_gradient_equals_the_general_path(monkeypatch, oversample, with_phase):
    """Positions partly outside [0, 1] (clamped: no gradient there). Measured: float64 2e-15;
    float32 1e-6, the eager float32 path alike."""
    tables, _ = glottal_wavetables(12, 256)
    g = torch.Generator().manual_seed(10)
    f0 = 90 + 300 * torch.rand(2, 37, generator=g, dtype=torch.float64)
    pos = 1.4 * torch.rand(2, 37, generator=g, dtype=torch.float64) - 0.2
    gy = torch.randn(2, 37 * 40, generator=g, dtype=torch.float64)
    phase = torch.tensor([0.3, -1.7], dtype=torch.float64) if with_phase else None
    args = (tables, oversample, phase)
    ours = _osc_run(f0, pos, gy, *args)
    ref = _osc_general(monkeypatch, lambda: _osc_run(f0, pos, gy, *args))
    assert type(ours[2]).__name__ == "_TrainingOscillatorBackward"
    assert type(ref[2]).__name__ != "_TrainingOscillatorBackward"
    outside = (pos < 0) | (pos > 1)
    assert outside.any() and (ours[1][outside] == 0).all()
    assert _rel(ours[0], ref[0]) <= 1e-12 and _rel(ours[1], ref[1]) <= 1e-12
    f32 = (f0.float(), pos.float(), gy.float())
    ours32 = _osc_run(*f32, *args)
    ref32 = _osc_general(monkeypatch, lambda: _osc_run(*f32, *args))
    for k in range(2):
        assert _rel(ours32[k], ref[k]) <= max(2 * _rel(ref32[k], ref[k]), 1e-5)
    with monkeypatch.context() as m:  # the AVX2 table read gives the scalar loop's bits
        m.setenv("DDSP_SIMD", "0")
        scalar32 = _osc_run(*f32, *args)
    assert torch.equal(scalar32[0], ours32[0]) and torch.equal(scalar32[1], ours32[1])


def test_oscillator_gradcheck_and_gradgradcheck():
    """f0 is data and takes no gradient here; the position's is checked."""
    tables, _ = glottal_wavetables(4, 64)
    g = torch.Generator().manual_seed(11)
    f0 = 300 + 500 * torch.rand(1, 4, generator=g, dtype=torch.float64)
    pos = (0.1 + 0.8 * torch.rand(1, 4, generator=g, dtype=torch.float64)).requires_grad_()

    def f(pos):
        return glottal_oscillator(f0, pos, tables.double(), 16000, 8, 2)

    assert type(f(pos).grad_fn).__name__ == "_TrainingOscillatorBackward"
    assert torch.autograd.gradcheck(f, (pos,))
    assert torch.autograd.gradgradcheck(f, (pos,))


def test_golf_training_gradients_equal_the_general_paths(monkeypatch):
    """The whole GOLF-ss synthesiser (oscillator, gain, noise, unit-power gain, cascade, room)
    on the pretrained model's controls for 1 s of a shipped recording: the gradient of an MSE
    against the recording with respect to every control, with the three training kernels and
    without (float64)."""
    from ddsp.models.checkpoint import load_vocoder
    from ddsp.resynth import encode_file

    model, cfg = load_vocoder(None)
    batch, voice = encode_file(model, cfg, DATA / "barrel__bar-v-genofond.ogg")
    hop, sl = cfg.data.hop_length, slice(50, 150)
    target = batch["audio"][:, sl.start * hop : sl.stop * hop].double()
    synth = model.synth.double()
    f0 = voice.f0[:, sl].double()

    def run():
        controls = {k: v[:, sl].double().requires_grad_() for k, v in voice.controls.items()}
        y = synth(f0, controls, torch.Generator().manual_seed(0))
        loss = (y - target).square().mean()
        return [y.detach(), *torch.autograd.grad(loss, list(controls.values()))]

    ours = run()
    with monkeypatch.context() as m:
        m.setattr(cascade_grad, "available", lambda *a: False)
        m.setattr(response, "_kernels_take_gradient", lambda sos: False)
        m.setattr(glottal, "_kernels_take_gradient", lambda *t: False)
        ref = run()
    for a, b in zip(ours, ref, strict=True):
        assert _rel(a, b) <= 1e-9

"""The C++ inference kernels (:mod:`ddsp.filters._render_cpu`) against the eager ops they stand in
for: each public entry point rendered with the kernels and without (the extension switched off),
float64 to rounding, and float32 against the float64 eager result no worse than the eager float32
path itself (a factor 2 and a floor of a few float32 ulps)."""

from __future__ import annotations

import pytest
import torch

from ddsp.filters import _fused_cpu, _render_cpu, logits_to_biquads
from ddsp.filters.allpole import allpole_sos
from ddsp.filters.response import biquad_log_rms_gain
from ddsp.synth import GlottalFlowLPC
from ddsp.synth.glottal import glottal_oscillator, glottal_wavetables
from ddsp.synth.reverb import LearnableReverb

pytestmark = pytest.mark.skipif(_render_cpu.ops() is None, reason="no C++ compiler here")


def _eager(monkeypatch, fn):
    """``fn()`` with the extension switched off (the eager ops)."""
    with monkeypatch.context() as m:
        m.setitem(_fused_cpu._STATE, "module", None)
        assert not _render_cpu.usable(torch.zeros(1))
        return fn()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def _check(monkeypatch, make, tol64: float, floor32: float) -> None:
    """``make(dtype)`` renders one output. Float64: kernel vs eager within ``tol64`` (relative to
    the peak). Float32: kernel vs float64 eager within ``max(2 x eager float32's error,
    floor32)``."""
    with torch.no_grad():
        ours64, ours32 = make(torch.float64), make(torch.float32)
        ref64 = _eager(monkeypatch, lambda: make(torch.float64))
        eager32 = _eager(monkeypatch, lambda: make(torch.float32))
    assert ours32.dtype == torch.float32 and ours64.shape == ref64.shape
    err64 = _rel(ours64, ref64)
    assert err64 <= tol64, f"float64: {err64:.2e} > {tol64:.0e}"
    err32, eager_err = _rel(ours32, ref64), _rel(eager32, ref64)
    assert err32 <= max(2 * eager_err, floor32), f"float32: {err32:.2e} (eager {eager_err:.2e})"


def _biquads(b: int, frames: int, dtype, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    logits = scale * torch.randn(b, frames, 5, 2, generator=g, dtype=torch.float64)
    return logits_to_biquads(logits, 0.99).to(dtype)


@pytest.mark.parametrize("with_zi", [False, True])
def test_sos_cascade_equals_eager(monkeypatch, with_zi):
    """Measured: float64 1e-15; float32 1.6e-6 (eager float32 about the same)."""
    hop, frames = 40, 30

    def make(dtype):
        g = torch.Generator().manual_seed(2)
        x = torch.randn(3, frames * hop, generator=g, dtype=torch.float64).to(dtype)
        zi = 0.1 * torch.randn(3, 5, 2, generator=g, dtype=torch.float64).to(dtype)
        y, zf = allpole_sos(
            x, _biquads(3, frames, dtype), zi if with_zi else None, True, hop_length=hop
        )
        return torch.cat([y, zf.flatten(-2)], -1)

    _check(monkeypatch, make, 1e-12, 1e-5)


@pytest.mark.parametrize(
    ("oversample", "with_phase"), [(4, True), (4, False), (1, True), (2, False)]
)
def test_wavetable_oscillator_equals_eager(monkeypatch, oversample, with_phase):
    """Phase in float64 either way; positions outside [0, 1] clamp; a length that is not a
    multiple of the kernel's block. Measured: float64 4e-15 (2.5e-12 at 1x: the phase's float64
    sum rounds differently); float32 6e-6 at 4x, 2e-5 at 1x (the steep excitation turns the
    float32 f0's rounding into amplitude; the eager float32 path errs alike)."""
    hop, frames = 40, 37
    tables, _ = glottal_wavetables(12, 256)

    def make(dtype):
        g = torch.Generator().manual_seed(3)
        f0 = (90 + 300 * torch.rand(2, frames, generator=g, dtype=torch.float64)).to(dtype)
        pos = (1.4 * torch.rand(2, frames, generator=g, dtype=torch.float64) - 0.2).to(dtype)
        phase = torch.tensor([0.3, -1.7], dtype=torch.float64) if with_phase else None
        return glottal_oscillator(f0, pos, tables, 16000, hop, oversample, phase)

    _check(monkeypatch, make, 1e-10, 1e-4)


def test_biquad_log_rms_gain_equals_eager(monkeypatch):
    """Moderate and saturated poles (radius 0.99). Measured: float64 6e-10 absolute in a log
    gain of 20 (the frequency grid's rounding near sharp resonances); float32 3e-6."""

    def make(dtype):
        sos = torch.cat([_biquads(2, 20, dtype), _biquads(2, 20, dtype, scale=40.0)], 1)
        return biquad_log_rms_gain(sos)

    _check(monkeypatch, make, 1e-9, 1e-6)


def test_room_fir_equals_eager(monkeypatch):
    """Measured: float64 1e-15, float32 6e-7."""
    room = LearnableReverb(128, 16000, decay_s=0.002)

    def make(dtype):
        g = torch.Generator().manual_seed(4)
        return room(torch.randn(2, 3, 1000, generator=g, dtype=torch.float64).to(dtype))

    _check(monkeypatch, make, 1e-13, 1e-5)


def test_golf_render_equals_eager(monkeypatch):
    """The whole GOLF-ss render (oscillator, gain, vocal tract, room) with and without the
    kernels, same noise."""
    hop, frames = 40, 25
    synth = GlottalFlowLPC(16000, hop, lpc_order=10, n_noise_bands=17, room_length=64)

    def make(dtype):
        g = torch.Generator().manual_seed(5)
        s = synth.to(dtype)
        f0 = (100 + 100 * torch.rand(1, frames, generator=g, dtype=torch.float64)).to(dtype)
        controls = {
            k: torch.randn(1, frames, n, generator=g, dtype=torch.float64).to(dtype)
            for k, n in s.control_sizes.items()
        }
        noise = (2 * torch.rand(1, frames * hop, generator=g, dtype=torch.float64) - 1).to(dtype)
        return s(f0, controls, noise=noise)

    _check(monkeypatch, make, 1e-10, 1e-4)


def test_kernels_stay_out_of_gradients():
    """With a gradient needed, the render kernels step aside (the cascade takes the training
    kernel of :mod:`ddsp.filters.cascade_grad`, tested in test_cascade_grad.py) and the gradient
    reaches every input."""
    hop = 20
    sos = _biquads(1, 10, torch.float64).requires_grad_()
    x = torch.randn(1, 10 * hop, dtype=torch.float64, requires_grad=True)
    assert not _render_cpu.usable(x, sos) and _render_cpu.usable(x.detach(), sos.detach())
    allpole_sos(x, sos, hop_length=hop).square().sum().backward()
    assert x.grad is not None and sos.grad is not None and sos.grad.abs().sum() > 0


@pytest.mark.skipif(
    _render_cpu.ops() is None or not _render_cpu.ops().simd(),
    reason="no AVX2 here: the kernels run their scalar loops only",
)
@pytest.mark.parametrize("oversample", [4, 3, 1])
def test_avx2_loops_give_the_scalar_loops_bits(monkeypatch, oversample):
    """The oscillator's table read and decimation and the room FIR have AVX2 forms chosen at
    run time; they do the scalar loops' operations in the same order, so the outputs are equal
    bit for bit (``DDSP_SIMD=0`` selects the scalar loops). Odd hops and lengths exercise the
    tails of 8 and 64; f0 up to 2 kHz steps across the tables' wrap several times a block."""
    g = torch.Generator().manual_seed(7)
    tables, _ = glottal_wavetables(20, 512)
    f0 = 60 + 1940 * torch.rand(2, 23, generator=g)
    pos = 1.4 * torch.rand(2, 23, generator=g) - 0.2
    phase = torch.tensor([0.25, -3.5], dtype=torch.float64)
    x = torch.randn(2, 1003, generator=g)

    def render():
        with torch.no_grad():
            osc = glottal_oscillator(f0, pos, tables, 16000, 37, oversample, phase)
            firs = [
                _render_cpu.causal_fir(x[:, :n], h)
                for n in (5, 127, 128, 200, 1003)
                for h in (
                    torch.randn(128, generator=torch.Generator().manual_seed(n)),
                    torch.ones(1),
                )
            ]
        return osc, firs

    fast = render()
    monkeypatch.setenv("DDSP_SIMD", "0")
    slow = render()
    assert torch.equal(fast[0], slow[0])
    for a, b in zip(fast[1], slow[1], strict=True):
        assert torch.equal(a, b)

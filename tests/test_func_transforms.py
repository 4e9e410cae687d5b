"""torch.func transforms: the calls that list a transform in ``full_precision(transforms=...)``
run under it and agree with the batched call and with torch.autograd; every other public call
refuses it with a one-line error naming itself and what to do instead (torch had raised
"Batching rule not implemented for aten::mul.out", "Cannot access data pointer of Tensor that
doesn't have storage" or "... must override the setup_context staticmethod")."""

from __future__ import annotations

import pytest
import torch
from test_autocast import CALLS

import ddsp.filters as F
import ddsp.spectral as S
import ddsp.synth as Y
from ddsp.precision import full_precision
from ddsp.spectral import functional as SF


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


X = _randn(3, 2000)
F0 = torch.full((3, 20), 140.0, dtype=torch.float64)
# name: (function, call on a batch of 3, the batch's inputs); each lists ("vmap", "grad")
# or ("vmap",) in its full_precision(transforms=...)
SUPPORTED = {
    "allpole": (F.allpole, lambda x, a: F.allpole(x, a), [X, 0.1 * torch.tanh(_randn(3, 2000, 4))]),
    "allpole_sos": (
        F.allpole_sos,
        lambda x, s: F.allpole_sos(x, s),
        [X, 0.1 * torch.tanh(_randn(3, 2000, 2, 2))],
    ),
    "ltv_iir": (
        F.ltv_iir,
        lambda x, b, a: F.ltv_iir(x, b, a),
        [X, _randn(3, 2000, 3), 0.1 * torch.tanh(_randn(3, 2000, 4))],
    ),
    "lfilter": (
        F.lfilter,
        lambda x: F.lfilter(
            torch.tensor([1.0, 0.5]).double(), torch.tensor([1.0, -0.5]).double(), x
        ),
        [X],
    ),
    "lpc_analysis": (F.lpc_analysis, lambda x: F.lpc_analysis(x, 8, 400, 160)[0], [X]),
    "frame_rms": (S.frame_rms, lambda x: S.frame_rms(x, 160, 12), [X]),
    "SF.dct": (SF.dct, lambda m: SF.dct(m, 13), [_randn(3, 40, 10)]),
    "harmonic_oscillator": (
        Y.harmonic_oscillator,
        lambda f0, a: Y.harmonic_oscillator(f0, a, 16000, 160),
        [F0, _randn(3, 20, 8).abs()],
    ),
    "ltv_fir": (F.ltv_fir, lambda x, h: F.ltv_fir(x, h, 100), [X, _randn(3, 20, 17)]),
    "upsample": (F.upsample, lambda c: F.upsample(c, 160), [_randn(3, 20, 4)]),
    "interpolate_lpc": (
        F.interpolate_lpc,
        lambda k: F.interpolate_lpc(k, 160),
        [0.5 * torch.tanh(_randn(3, 20, 4))],
    ),
}


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_listed_transforms_run_and_agree(name):
    fn, call, inputs = SUPPORTED[name]
    assert "vmap" in fn.transforms
    want = call(*inputs)
    got = torch.vmap(lambda *a: call(*[t[None] for t in a])[0])(*inputs)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    if "grad" in fn.transforms:
        got = torch.func.grad(lambda *a: call(*a).square().sum())(*inputs)
        x = inputs[0].clone().requires_grad_()
        (want,) = torch.autograd.grad(call(x, *inputs[1:]).square().sum(), x)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in sorted(CALLS) if n.split(" ")[0] not in SUPPORTED])
def test_other_calls_refuse_transforms_by_name(name):
    call, inputs = CALLS[name]
    with pytest.raises(NotImplementedError, match=r"ddsp's \w+ does not run under torch.vmap"):
        torch.vmap(lambda *a: call(*[t[None] for t in a]))(*inputs)
    with pytest.raises(NotImplementedError, match=r"does not run under torch.func's grad"):
        torch.func.grad(lambda *a: call(*a).abs().sum())(*inputs)


def test_the_error_names_the_class_called():
    """A module that inherits its forward is named as the user called it (CQT, not VQT)."""
    with pytest.raises(NotImplementedError, match="ddsp's CQT does not run under torch.vmap"):
        torch.vmap(S.CQT(16000, 128, n_bins=24))(torch.randn(2, 1, 2000))


def test_only_the_outermost_call_is_checked():
    """A call that supports a transform may use others that do not list it (they run inside
    it on what it hands them)."""
    inner = full_precision(lambda x: 2 * x)
    outer = full_precision(lambda x: inner(x) + 1, transforms=("vmap",))
    torch.testing.assert_close(torch.vmap(outer)(torch.ones(3, 2)), torch.full((3, 2), 3.0))
    with pytest.raises(NotImplementedError, match="torch.vmap"):
        torch.vmap(inner)(torch.ones(3, 2))
    with pytest.raises(NotImplementedError, match="torch.func's grad"):
        torch.func.grad(lambda x: outer(x).sum())(torch.ones(3))

"""Parameterisations, interpolation domains and LPC analysis (with hypothesis properties)."""

import numpy as np
import pytest
import scipy.linalg
import scipy.signal
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ddsp.filters import (
    allpole,
    autocorrelation,
    interpolate_lpc,
    lar_to_reflection,
    levinson_durbin,
    logits_to_biquads,
    logits_to_lsf,
    logits_to_reflection,
    lpc_analysis,
    lpc_to_lsf,
    lpc_to_reflection,
    lsf_to_lpc,
    poles_to_lpc,
    reflection_to_lar,
    reflection_to_lpc,
    sos_to_lpc,
    upsample,
)

finite = st.floats(-30, 30, allow_nan=False, width=64)


def max_root(a: torch.Tensor) -> float:
    """Largest pole radius of LPC filters (..., order), in float64 (moderate orders only)."""
    flat = a.detach().double().reshape(-1, a.shape[-1]).numpy()
    return max(np.abs(np.roots(np.r_[1.0, row])).max() for row in flat)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (3, 6), elements=finite))
def test_any_logits_give_stable_filters(logits):
    x = torch.from_numpy(logits)
    assert max_root(reflection_to_lpc(logits_to_reflection(x))) < 1
    assert max_root(lsf_to_lpc(logits_to_lsf(x))) < 1
    sos = logits_to_biquads(x.reshape(3, 3, 2))
    assert max_root(sos_to_lpc(sos)) < 1


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, (2, 11, 2), elements=st.floats(-50, 50, width=32)))
def test_biquads_stay_in_the_triangle_in_float32(logits):
    """Order 22 as 11 sections: exactly checkable and robust to float32 rounding."""
    sos = logits_to_biquads(torch.from_numpy(logits), max_radius=0.99)
    a1, a2 = sos[..., 0].double(), sos[..., 1].double()
    assert (a2 < 1).all() and (a2 > a1.abs() - 1).all()
    # interpolated per sample (convex combinations) the same holds
    up = upsample(sos.reshape(2, 11, 2)[:, :, :].transpose(0, 1).reshape(11, 2, 2), 8)
    a1, a2 = up[..., 0].double(), up[..., 1].double()
    assert (a2 < 1).all() and (a2 > a1.abs() - 1).all()


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (2, 3, 6), elements=finite))
def test_every_interpolated_sample_is_stable(logits):
    k = logits_to_reflection(torch.from_numpy(logits), 0.95)
    for domain in ("reflection", "lar"):
        assert max_root(interpolate_lpc(k, 4, domain)) < 1
    assert max_root(interpolate_lpc(logits_to_lsf(torch.from_numpy(logits)), 4, "lsf")) < 1


def test_direct_form_interpolation_can_be_unstable():
    """Why the stable domains exist: two stable order-4 filters whose direct-form average is
    not (found by random search); the reflection-domain path stays stable between them."""
    a = torch.tensor(
        [[[0.025, 1.47, -0.062, 0.652], [-1.144, -0.236, 1.185, -0.452]]], dtype=torch.float64
    )
    assert max_root(a[:, :1]) < 0.96 and max_root(a[:, 1:]) < 0.98
    assert max_root(interpolate_lpc(a, 2, "direct")[:, 1]) > 1.07  # the midpoint
    assert max_root(interpolate_lpc(lpc_to_reflection(a), 8, "reflection")) < 1


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (4, 8), elements=st.floats(-0.9, 0.9)))
def test_step_up_then_step_down_returns_the_input(k):
    # the step-down divides by 1 - k^2 at every order: errors grow like prod 1 / (1 - k^2), so
    # the bound scales with that (with all |k| = 0.97 the round trip is off by 3.5e-5)
    k = torch.from_numpy(k)
    cond = (1 / (1 - k.square())).prod(-1, keepdim=True)
    assert ((lpc_to_reflection(reflection_to_lpc(k)) - k).abs() <= 1e-13 * cond).all()
    assert (lar_to_reflection(reflection_to_lar(k)) - k).abs().max() < 1e-12


def test_lsf_roundtrip_and_poles():
    a = reflection_to_lpc(torch.rand(5, 10, dtype=torch.float64) * 1.6 - 0.8)
    lsf = lpc_to_lsf(a)
    assert (lsf.diff(dim=-1) > 0).all() and (lsf > 0).all() and (lsf < np.pi).all()
    assert (lsf_to_lpc(lsf) - a).abs().max() < 1e-10
    r, th = torch.rand(2, 3, dtype=torch.float64), torch.rand(2, 3, dtype=torch.float64) * 3
    roots = np.sort(np.abs(np.roots(np.r_[1.0, poles_to_lpc(r, th)[0].numpy()])))
    assert np.allclose(roots, np.sort(np.repeat(r[0].numpy(), 2)), atol=1e-9)


def test_parameterisations_gradcheck():
    x = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    for fn in (
        lambda v: reflection_to_lpc(logits_to_reflection(v)),
        lambda v: lpc_to_reflection(reflection_to_lpc(0.5 * torch.tanh(v))),
        lambda v: lsf_to_lpc(logits_to_lsf(v)),
        lambda v: sos_to_lpc(logits_to_biquads(v.reshape(2, 3, 2))),
        lambda v: lar_to_reflection(reflection_to_lar(0.5 * torch.tanh(v))),
        lambda v: poles_to_lpc(torch.sigmoid(v[:, :3]), v[:, 3:]),
    ):
        assert torch.autograd.gradcheck(fn, (x,))
    frames = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    for domain in ("reflection", "lar", "direct", "hold"):
        assert torch.autograd.gradcheck(
            lambda v, d=domain: interpolate_lpc(0.5 * torch.tanh(v), 4, d), (frames,)
        )
    assert torch.autograd.gradcheck(
        lambda v: interpolate_lpc(logits_to_lsf(v), 4, "lsf"), (frames,)
    )


def test_levinson_equals_solve_toeplitz():
    x = torch.randn(4, 512, dtype=torch.float64)
    r = autocorrelation(x, 16)
    assert np.allclose(
        r[0].numpy(), np.correlate(x[0].numpy(), x[0].numpy(), "full")[511 : 511 + 17], atol=1e-10
    )
    a, k, err = levinson_durbin(r)
    for i in range(4):
        ref = scipy.linalg.solve_toeplitz(r[i, :16].numpy(), -r[i, 1:17].numpy())
        assert np.abs(a[i].numpy() - ref).max() <= 1e-10
    assert (lpc_to_reflection(a) - k).abs().max() < 1e-10
    assert (err > 0).all() and (err <= r[:, 0]).all()
    assert torch.autograd.gradcheck(
        lambda v: levinson_durbin(autocorrelation(v, 4))[0], (x[:1, :40].clone().requires_grad_(),)
    )


def test_lpc_analysis_recovers_an_ar_process():
    true = reflection_to_lpc(torch.tensor([0.6, -0.4, 0.3, -0.2], dtype=torch.float64))
    e = torch.from_numpy(np.random.default_rng(1).standard_normal(48000))
    x = allpole(e[None], true)[0]
    a, _, err = lpc_analysis(x, 4, 4096, 2048, window="hann")
    assert (a[2:-2].mean(0) - true).abs().max() < 0.02
    assert torch.autograd.gradcheck(
        lambda v: lpc_analysis(
            v,
            3,
            64,
            32,
            preemphasis=0.97,
            lag_window_hz=60.0,
            sample_rate=16000,
            white_noise_db=-40,
        )[0],
        (x[None, :200].clone().requires_grad_(),),
    )
    silent, _, _ = lpc_analysis(torch.zeros(1, 1000, dtype=torch.float64), 4, 256, 128)
    assert torch.isfinite(silent).all()


def test_lag_window_needs_sample_rate():
    with pytest.raises(ValueError, match="sample_rate"):
        lpc_analysis(torch.randn(1, 1000), 4, 256, 128, lag_window_hz=60.0)

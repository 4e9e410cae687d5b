"""MultiResolutionSTFTLoss: parity with auraloss, presets, silence, per-example reduction."""

import math

import auraloss
import pytest
import torch

from ddsp.losses import MultiResolutionSTFTLoss, STFTLoss


def _parity(x, y, ours, theirs):
    x = x.clone().requires_grad_()
    a = theirs(x, y)
    (ga,) = torch.autograd.grad(a, x)
    o = ours(x, y)
    (go,) = torch.autograd.grad(o, x)
    assert o.item() == pytest.approx(a.item(), rel=1e-5)
    assert (go - ga).abs().max() <= 1e-5 * ga.abs().max()


@pytest.mark.parametrize("real", [False, True])
def test_matches_auraloss_default(real, speech):
    if real:
        s = torch.from_numpy(speech[0][:16384]).float()
        x, y = (s + 0.01 * torch.randn_like(s)).reshape(2, 1, -1), s.roll(300).reshape(2, 1, -1)
    else:
        x, y = torch.randn(4, 1, 8000), torch.randn(4, 1, 8000)
    _parity(
        x, y, MultiResolutionSTFTLoss(sc_over_batch=True), auraloss.freq.MultiResolutionSTFTLoss()
    )


def test_matches_auraloss_with_linear_term():
    x, y = torch.randn(3, 1, 6000), torch.randn(3, 1, 6000)
    kw = dict(w_sc=0.5, w_log_mag=1.0, w_lin_mag=2.0)
    _parity(
        x,
        y,
        MultiResolutionSTFTLoss(sc_over_batch=True, **kw),
        auraloss.freq.MultiResolutionSTFTLoss(**kw),
    )


def test_golf_preset_equals_float64_formula():
    x, y = torch.randn(2, 8000, dtype=torch.float64), torch.randn(2, 8000, dtype=torch.float64)
    total = 0.0
    for n in (509, 1021, 2053):
        win = torch.hann_window(n, periodic=True, dtype=torch.float64)
        mags = [
            torch.stft(
                s, n, n // 4, window=win, center=True, pad_mode="reflect", return_complex=True
            )
            .abs()
            .clamp_min(1e-4)
            for s in (x, y)
        ]
        total += (mags[0] - mags[1]).abs().mean() + (mags[0].log2() - mags[1].log2()).abs().mean()
    ours = MultiResolutionSTFTLoss(preset="golf")(x, y)
    assert ours.item() == pytest.approx(total.item(), rel=1e-10)


def test_reduction_none_is_per_example():
    x, y = torch.randn(3, 4000), torch.randn(3, 4000)
    loss = MultiResolutionSTFTLoss(reduction="none")
    per = loss(x, y)
    assert per.shape == (3,)
    for i in range(3):
        assert per[i].item() == pytest.approx(loss(x[i : i + 1], y[i : i + 1]).item(), rel=1e-5)
    assert MultiResolutionSTFTLoss()(x, y).item() == pytest.approx(per.mean().item(), rel=1e-6)


@pytest.mark.parametrize("which", ["input", "target", "both"])
def test_silence_is_finite(which):
    x, y = torch.randn(2, 4000), torch.randn(2, 4000)
    if which in ("input", "both"):
        x = torch.zeros_like(x)
    if which in ("target", "both"):
        y = torch.zeros_like(y)
    for preset in ("auraloss", "ddsp", "golf"):
        xx = x.clone().requires_grad_()
        loss = MultiResolutionSTFTLoss(preset=preset)(xx, y)
        loss.backward()
        assert math.isfinite(loss.item()) and torch.isfinite(xx.grad).all(), preset


def test_gradcheck_float64():
    loss = STFTLoss(64, 16, w_sc=1.0, w_log_mag=1.0, w_lin_mag=1.0)
    x = torch.randn(2, 256, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 256, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: loss(v, y), (x,))


def test_clear_errors():
    loss = MultiResolutionSTFTLoss()
    with pytest.raises(ValueError, match="shape"):
        loss(torch.randn(2, 4000), torch.randn(2, 4001))
    with pytest.raises(ValueError, match="too short"):
        loss(torch.randn(2, 500), torch.randn(2, 500))
    with pytest.raises(ValueError, match="NaN"):
        loss(torch.full((2, 4000), float("nan")), torch.randn(2, 4000))
    with pytest.raises(ValueError, match="preset"):
        MultiResolutionSTFTLoss(preset="nope")

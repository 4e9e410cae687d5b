"""FIR filtering against numpy/scipy references; gradients."""

import numpy as np
import pytest
import scipy.signal
import torch

from ddsp.filters import fft_convolve, ltv_fir, magnitudes_to_impulse_response

RNG = np.random.default_rng(0)


def test_fft_convolve_matches_numpy():
    x, h = RNG.standard_normal((3, 1000)), RNG.standard_normal((3, 77))
    ours = fft_convolve(torch.from_numpy(x), torch.from_numpy(h)).numpy()
    for i in range(3):
        assert np.abs(ours[i] - np.convolve(x[i], h[i])).max() < 1e-12


@pytest.mark.parametrize("delay", [0, 5])
def test_ltv_fir_matches_blockwise_lfilter(delay):
    hop, frames, taps = 16, 6, 11
    x = RNG.standard_normal((2, hop * frames))
    h = RNG.standard_normal((2, frames, taps))
    ref = np.zeros((2, hop * frames + taps - 1))
    for b in range(2):
        for k in range(frames):
            block = np.zeros(hop * frames)
            block[k * hop : (k + 1) * hop] = x[b, k * hop : (k + 1) * hop]
            ref[b] += scipy.signal.lfilter(h[b, k], [1.0], np.r_[block, np.zeros(taps - 1)])
    ours = ltv_fir(torch.from_numpy(x), torch.from_numpy(h), hop, delay=delay).numpy()
    assert np.abs(ours - ref[:, delay : delay + hop * frames]).max() < 1e-12


def test_constant_filter_equals_lti():
    x = RNG.standard_normal((1, 400))
    h = RNG.standard_normal((9,))
    hs = torch.from_numpy(np.tile(h, (1, 25, 1)))
    ours = ltv_fir(torch.from_numpy(x), hs, 16).numpy()[0]
    assert np.abs(ours - scipy.signal.lfilter(h, [1.0], x[0])).max() < 1e-12


def test_zero_phase_ir_is_symmetric_and_matches_response():
    mags = torch.rand(1, 1, 33, dtype=torch.float64)
    ir = magnitudes_to_impulse_response(mags)[0, 0]
    assert ir.shape == (64,)
    # symmetric around the centre sample 32 -> linear phase with delay 32
    assert torch.allclose(ir[1:32], ir[33:].flip(0), atol=1e-12)


def test_ltv_fir_gradcheck():
    x = torch.randn(1, 24, dtype=torch.float64, requires_grad=True)
    h = torch.randn(1, 3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ltv_fir(a, b, 8, delay=2), (x, h))


def test_ltv_fir_shape_error():
    with pytest.raises(ValueError, match="frames"):
        ltv_fir(torch.randn(1, 100), torch.randn(1, 3, 5), 32)


def test_ltv_fir_streams_block_by_block():
    from ddsp.filters import ltv_fir

    x = torch.randn(2, 12 * 32)
    h = torch.randn(2, 12, 50)  # taps > hop: tails reach over more than one block
    whole = ltv_fir(x, h, 32)
    state, out = None, []
    for k in range(0, 12, 3):
        y, state = ltv_fir(
            x[:, k * 32 : (k + 3) * 32], h[:, k : k + 3], 32, zi=state, return_zf=True
        )
        out.append(y)
    assert (torch.cat(out, -1) - whole).abs().max() <= 1e-5
    with pytest.raises(ValueError, match="delay=0"):
        ltv_fir(x, h, 32, delay=25, return_zf=True)


def test_compiled_unit_power_gain_equals_the_eager_one(monkeypatch):
    """Without the C++ kernels (no compiler, an accelerator), a training batch's unit-power gain
    runs torch.compile'd (ddsp.dsp.compiled) in a fused form; same value and gradient as the
    eager matmul form, and it did compile."""
    from ddsp.dsp import COMPILED
    from ddsp.filters import response
    from ddsp.filters.lpc import logits_to_biquads
    from ddsp.filters.response import biquad_log_rms_gain

    monkeypatch.setattr(response, "_kernels_take_gradient", lambda sos: False)
    logits = torch.randn(16, 100, 11, 2, generator=torch.Generator().manual_seed(0)) * 2
    weights = torch.linspace(0, 1, 100)
    out = {}
    for mode in ("1", "0"):
        monkeypatch.setenv("DDSP_COMPILE", mode)
        lg = logits.clone().requires_grad_()
        value = biquad_log_rms_gain(logits_to_biquads(lg))
        (value * weights).sum().backward()
        out[mode] = (value.detach(), lg.grad)
    assert "biquad_log_rms_gain" in COMPILED and not COMPILED.get("broken")
    assert (out["1"][0] - out["0"][0]).abs().max() <= 1e-5
    assert (out["1"][1] - out["0"][1]).abs().max() <= 1e-5 * out["0"][1].abs().max()


def test_cepstrum_to_minimum_phase_ir_is_exact_for_a_known_filter():
    """h = [1, -a] (zero inside the circle: minimum phase) has the real cepstrum
    c_n = -a^n / (2n); the response built from it is h again (aliasing ~ a^n_fft)."""
    from ddsp.filters import cepstrum_to_minimum_phase_ir, magnitudes_to_minimum_phase_ir

    a, n_fft = 0.5, 256
    n = torch.arange(1, 100, dtype=torch.float64)
    cep = torch.cat([torch.zeros(1, dtype=torch.float64), -(a**n) / (2 * n)])
    h = cepstrum_to_minimum_phase_ir(cep, n_fft)
    expect = torch.zeros(n_fft, dtype=torch.float64)
    expect[:2] = torch.tensor([1.0, -a])
    torch.testing.assert_close(h, expect, atol=1e-12, rtol=0)
    # the same filter from its magnitude response (one home for the folding)
    mags = torch.fft.rfft(expect).abs()
    torch.testing.assert_close(magnitudes_to_minimum_phase_ir(mags), expect, atol=1e-12, rtol=0)
    assert torch.autograd.gradcheck(
        lambda c: cepstrum_to_minimum_phase_ir(c, 16),
        torch.randn(3, 8, dtype=torch.float64, requires_grad=True),
    )
    with pytest.raises(ValueError, match="cepstrum has 9 coefficients; need 1 ... n_fft // 2 = 8"):
        cepstrum_to_minimum_phase_ir(torch.zeros(9), 16)

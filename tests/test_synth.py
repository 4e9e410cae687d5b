"""Oscillators, noise, reverb and the harmonic-plus-noise synthesiser."""

import numpy as np
import pytest
import torch

from ddsp.synth import (
    HarmonicPlusNoise,
    LearnableReverb,
    fill_unvoiced_f0,
    filtered_noise,
    harmonic_oscillator,
    remove_above_nyquist,
    upsample,
)


def test_upsample_is_linear_between_frame_centres():
    x = torch.tensor([[[0.0], [4.0], [2.0]]])
    y = upsample(x, 4)[0, :, 0]
    assert torch.allclose(y, torch.tensor([0, 1, 2, 3, 4, 3.5, 3, 2.5, 2, 2, 2, 2.0]))


@pytest.mark.parametrize("channels", [1, 2, 4, 5])  # the matmul backward up to 4, autograd's past
def test_upsample_gradients(channels):
    """float64 gradcheck and gradgradcheck (the last frame is held, so it takes both weights);
    float32: the forward and backward as matrix products equal the broadcast product's and
    autograd's through it to rounding; a NaN stays in its channel."""
    from ddsp.filters.interpolate import _upsample

    x = torch.randn(2, 6, channels, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: upsample(v, 5), (x,))
    assert torch.autograd.gradgradcheck(lambda v: upsample(v, 5), (x,))
    x32 = torch.randn(3, 40, channels)
    g = torch.randn(3, 40 * 160, channels)
    a, b = x32.clone().requires_grad_(), x32.clone().requires_grad_()
    ya, yb = upsample(a, 160), _upsample(b, 160)
    assert (ya - yb).abs().max() <= 1e-6 * yb.abs().max()
    ya.backward(g)
    yb.backward(g)
    assert (a.grad - b.grad).abs().max() <= 2e-6 * b.grad.abs().max()
    if channels > 1:
        bad = x32.clone()
        bad[0, 3, 0] = float("nan")
        y = upsample(bad.requires_grad_(), 160)
        assert y[..., 0].isnan().any() and not y[..., 1:].isnan().any()


def test_single_harmonic_is_a_sine_at_f0():
    sr, f0 = 16000, 220.0
    y = harmonic_oscillator(torch.full((1, 16000), f0), torch.ones(1, 16000, 1), sr)[0].numpy()
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert abs(np.argmax(spec) * sr / len(y) - f0) <= 1.0
    ref = np.sin(2 * np.pi * f0 * (np.arange(1, 16001) / sr))
    assert np.abs(y - ref).max() < 1e-3


def test_frame_rate_path_equals_sample_rate_path():
    f0 = torch.rand(2, 10, dtype=torch.float64) * 300 + 100
    amps = torch.rand(2, 10, 12, dtype=torch.float64)
    y = harmonic_oscillator(f0, amps, 16000, hop_length=160)
    f0n = torch.maximum(f0, torch.cat([f0[:, 1:], f0[:, -1:]], 1))
    ref = harmonic_oscillator(
        upsample(f0[..., None], 160)[..., 0],
        upsample(remove_above_nyquist(amps, f0n, 16000), 160),
        16000,
    )
    assert (y - ref).abs().max() < 1e-12


def test_no_harmonic_above_nyquist():
    amps = remove_above_nyquist(torch.ones(1, 10), torch.tensor([1000.0]), 16000)
    assert amps.tolist() == [[1.0] * 7 + [0.0] * 3]


def test_streaming_phase_continuity():
    f0 = torch.full((1, 3200), 310.0)
    amps = torch.rand(1, 3200, 4)
    whole = harmonic_oscillator(f0, amps, 16000)
    a, ph = harmonic_oscillator(f0[:, :1000], amps[:, :1000], 16000, return_phase=True)
    b = harmonic_oscillator(f0[:, 1000:], amps[:, 1000:], 16000, initial_phase=ph)
    assert (torch.cat([a, b], 1) - whole).abs().max() < 1e-4


def test_fill_unvoiced_f0():
    f0 = torch.tensor([0, 100.0, 0, 0, 400, 0])
    out = fill_unvoiced_f0(f0, (f0 > 0).float())
    assert torch.allclose(
        out,
        torch.tensor(
            [100, 100, 100 * 4 ** (1 / 3), 100 * 4 ** (2 / 3), 400, 400.0], dtype=torch.float64
        ),
    )
    assert (fill_unvoiced_f0(torch.zeros(4), torch.zeros(4)) == 150).all()


def test_filtered_noise_follows_magnitudes():
    mags = torch.zeros(1, 50, 65)
    mags[..., :16] = 1.0  # low-pass at a quarter of Nyquist
    y = filtered_noise(mags, 160, torch.Generator().manual_seed(0))
    spec = np.abs(np.fft.rfft(y[0].numpy())) ** 2
    n = len(spec)
    assert spec[: n // 5].mean() > 100 * spec[n // 2 :].mean()


def test_reverb_starts_dry_with_unit_direct_path():
    rev = LearnableReverb(400, 16000)
    x = torch.zeros(1, 1000)
    x[0, 0] = 1.0
    y = rev(x)
    assert y[0, 0] == 1.0 and y[0, 1:].abs().max() < 0.05


def test_hpn_shapes_gradients_and_silence():
    synth = HarmonicPlusNoise(
        8000, 40, n_harmonics=8, n_noise_bands=9, reverb=True, reverb_length=64
    ).double()
    f0 = torch.full((2, 5), 200.0, dtype=torch.float64)
    ctrl = {
        k: torch.randn(2, 5, n, dtype=torch.float64, requires_grad=True)
        for k, n in synth.control_sizes.items()
    }

    def run(h, n):
        return synth(f0, {"harmonic": h, "noise": n}, generator=torch.Generator().manual_seed(1))

    assert run(ctrl["harmonic"], ctrl["noise"]).shape == (2, 200)
    assert torch.autograd.gradcheck(run, (ctrl["harmonic"], ctrl["noise"]))
    quiet = {
        k: torch.full((2, 5, n), -30.0, dtype=torch.float64) for k, n in synth.control_sizes.items()
    }
    assert run(quiet["harmonic"], quiet["noise"]).abs().max() < 1e-4


def test_hpn_rejects_bad_control_shapes():
    synth = HarmonicPlusNoise(8000, 40, n_harmonics=8)
    with pytest.raises(ValueError):
        synth(
            torch.full((1, 5), 100.0),
            {"harmonic": torch.zeros(1, 4, 9), "noise": torch.zeros(1, 5, 65)},
        )


@pytest.mark.parametrize("cls", ["GlottalFlowLPC", "PulseTrainLPC"])
def test_max_gain_is_the_ceiling_of_the_vocal_tract_gain(cls):
    import ddsp.synth as S

    torch.manual_seed(0)
    low, high = getattr(S, cls)(16000, 160), getattr(S, cls)(16000, 160, max_gain=8.0)
    f0 = torch.full((1, 20), 140.0)
    controls = {k: torch.randn(1, 20, n) for k, n in low.control_sizes.items()}
    gen = (torch.Generator().manual_seed(1), torch.Generator().manual_seed(1))
    y2, y8 = low(f0, controls, generator=gen[0]), high(f0, controls, generator=gen[1])
    torch.testing.assert_close(y8, 4.0 * y2, rtol=1e-4, atol=1e-5 * float(y8.abs().max()))
    with pytest.raises(ValueError, match="max_gain must be > 0, got 0"):
        getattr(S, cls)(16000, 160, max_gain=0.0)

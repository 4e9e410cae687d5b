"""PULF, SawSing, NHV, differentiable WORLD and the classical LPC vocoder."""

import pytest
import torch

from ddsp.filters import allpole, reflection_to_lpc
from ddsp.losses import MultiResolutionSTFTLoss
from ddsp.synth import (
    DifferentiableWORLD,
    GlottalFlowLPC,
    HarmonicPlusNoise,
    NeuralHomomorphic,
    PulseTrainLPC,
    SawtoothFIR,
    classical_lpc_vocoder,
)


@pytest.mark.parametrize(
    "synth",
    [
        PulseTrainLPC(8000, 40, harmonic_order=4, noise_order=2, n_harmonics=8),
        SawtoothFIR(8000, 40, n_magnitudes=9, n_noise_bands=5, n_harmonics=8),
        NeuralHomomorphic(8000, 40, n_cepstrum=6, n_fft=16, n_noise_bands=5, n_harmonics=8),
        DifferentiableWORLD(8000, 40, n_mels=6, n_fft=16, n_noise_bands=5, n_harmonics=8),
        NeuralHomomorphic(8000, 40, 6, 16, 5, 8, room_length=8),
    ],
)
def test_shapes_and_gradients(synth):
    synth = synth.double()
    f0 = torch.full((2, 4), 210.0, dtype=torch.float64)
    names = list(synth.control_sizes)
    ctrl = [0.3 * torch.randn(2, 4, n, dtype=torch.float64) for n in synth.control_sizes.values()]

    def run(*c):
        return synth(
            f0,
            dict(zip(names, c, strict=True)),
            generator=torch.Generator().manual_seed(0),
            voiced=torch.tensor([[1.0, 0, 1, 1], [0, 1, 1, 0]], dtype=torch.float64),
        )

    assert run(*ctrl).shape == (2, 160)
    assert torch.autograd.gradcheck(run, tuple(c.requires_grad_() for c in ctrl))
    with pytest.raises(ValueError, match="control"):
        synth(f0, {})


def test_classical_lpc_vocoder_recovers_an_ar_voice():
    """A pulse train through a known all-pole filter comes back with the same spectrum."""
    sr, hop, frames = 16000, 160, 100
    f0 = torch.full((1, frames), 140.0, dtype=torch.float64)
    from ddsp.synth.harmonic import pulse_train

    src = pulse_train(f0, sr, hop, 100, 0.0) * 0.05
    a = reflection_to_lpc(torch.tensor([-0.7, 0.5, -0.3, 0.2, -0.1, 0.05], dtype=torch.float64))
    x = allpole(src, a)
    y = classical_lpc_vocoder(x, f0, torch.ones_like(f0), sr, hop, order=12)
    mss = MultiResolutionSTFTLoss(preset="golf")
    assert mss(y[None, :, 2000:], x[None, :, 2000:]) < 0.5 * mss(
        torch.zeros_like(x)[None, :, 2000:] + 1e-4 * torch.randn_like(x)[None, :, 2000:],
        x[None, :, 2000:],
    )
    assert 0.5 < float(y[:, 2000:].std() / x[:, 2000:].std()) < 2.0
    silent = classical_lpc_vocoder(
        torch.zeros(1, 1600), torch.full((1, 10), 100.0), torch.zeros(1, 10), sr, hop
    )
    assert torch.isfinite(silent).all() and silent.abs().max() < 1e-6


@pytest.mark.parametrize(
    "make",
    [
        lambda: PulseTrainLPC(8000, 40, harmonic_order=4, noise_order=2, n_harmonics=8),
        lambda: SawtoothFIR(8000, 40, n_magnitudes=9, n_noise_bands=5, n_harmonics=8),
        lambda: HarmonicPlusNoise(8000, 40, n_harmonics=8, n_noise_bands=5, reverb=False),
        lambda: NeuralHomomorphic(8000, 40, n_cepstrum=6, n_fft=16, n_noise_bands=5),
        lambda: DifferentiableWORLD(8000, 40, n_mels=6, n_fft=16, n_noise_bands=5),
        lambda: GlottalFlowLPC(8000, 40, lpc_order=4, n_noise_bands=5, n_tables=4, table_size=64),
    ],
)
def test_voicing_gate_mutes_the_periodic_source_and_ramps(make):
    """voiced=0 leaves only the noise path; a 0 -> 1 step ramps over one hop (no click)."""
    synth = make().double()
    f0 = torch.full((1, 6), 210.0, dtype=torch.float64)
    ctrl = {k: torch.zeros(1, 6, n, dtype=torch.float64) for k, n in synth.control_sizes.items()}
    silent_noise = torch.zeros(1, 240, dtype=torch.float64)
    with torch.no_grad():
        kw = {"noise": silent_noise} if isinstance(synth, GlottalFlowLPC) else {}
        if not isinstance(synth, GlottalFlowLPC):
            for k in ctrl:
                if k.startswith("noise") or k == "aperiodicity":
                    ctrl[k] -= 30.0  # noise magnitudes / gain at their floor
        on = synth(f0, ctrl, voiced=torch.ones(1, 6, dtype=torch.float64), **kw)
        off = synth(f0, ctrl, voiced=torch.zeros(1, 6, dtype=torch.float64), **kw)
        step = synth(f0, ctrl, voiced=torch.tensor([[0.0, 0, 0, 1, 1, 1]]).double(), **kw)
    assert on.abs().max() > 1e-3
    assert off.abs().max() < 1e-4 * on.abs().max()
    # before the ramp (frames 0-1, minus the filters' look-ahead) the output is silent
    assert step[0, :60].abs().max() < 1e-4 * on.abs().max()


def test_nhv_with_a_flat_cepstrum_passes_the_pulse_train_through():
    """Zero cepstra are a unit impulse: the harmonic branch is the gated pulse train itself."""
    from ddsp.synth.harmonic import pulse_train

    synth = NeuralHomomorphic(8000, 40, n_cepstrum=6, n_fft=16, n_noise_bands=5).double()
    f0 = torch.full((1, 6), 180.0, dtype=torch.float64)
    ctrl = {
        "cepstrum": torch.zeros(1, 6, 6).double(),
        "noise": torch.full((1, 6, 5), -40.0).double(),
    }
    y = synth(f0, ctrl, voiced=torch.ones(1, 6).double())
    torch.testing.assert_close(y, pulse_train(f0, 8000, 40, 100, 0.0), atol=1e-6, rtol=0)
    ctrl["cepstrum"][..., 0] = 0.5  # c0 is the log gain
    torch.testing.assert_close(
        synth(f0, ctrl, voiced=torch.ones(1, 6).double()),
        y * 0.5**0 * torch.e**0.5,
        atol=1e-6,
        rtol=0,
    )


def test_dworld_envelope_reproduces_a_smooth_spectrum():
    """The mel-band envelope, spread back by the pseudo-inverse, follows the shape of a smooth
    power spectrum (two formants 10 and 7 dB above the floor) within 1.5 dB of a constant offset
    (the cut negatives of the pseudo-inverse, which the trained gain absorbs) from 300 Hz to
    7 kHz."""
    from ddsp.spectral._mel import mel_filterbank

    synth = DifferentiableWORLD(16000, 160, n_mels=80, n_fft=512).double()
    f = torch.linspace(0, 8000, 257, dtype=torch.float64)
    power = 1e-2 * (
        1 + 9 * torch.exp(-(((f - 700) / 300) ** 2)) + 4 * torch.exp(-(((f - 2500) / 500) ** 2))
    )
    fb = mel_filterbank(16000, 512, 80, norm=None, dtype=torch.float64)
    amp = synth.envelope(torch.log(fb @ power)[None, None])[0, 0]
    band = (f > 300) & (f < 7000)
    err = 20 * torch.log10(amp[band] / power[band].sqrt())
    assert (err - err.median()).abs().max() < 1.5, err.tolist()
    assert err.median().abs() < 2.0

"""Glottal wavetables against the LF model's equations; the wavetable oscillator."""

import numpy as np
import pytest
import torch

from ddsp.synth.glottal import glottal_oscillator, glottal_wavetables, lf_waveform, rd_to_lf

RDS = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
FINE = (torch.arange(400_000, dtype=torch.float64) + 0.5) / 400_000


def test_timing_follows_fants_regression():
    p = rd_to_lf(RDS)
    ra = (-1 + 4.8 * RDS) / 100
    rk = (22.4 + 11.8 * RDS) / 100
    rg = rk / (4 * (0.11 * RDS / (0.5 + 1.2 * rk) - ra))
    # open quotient te/T0 = (1 + Rk) / (2 Rg); return phase ta/T0 = Ra
    assert torch.allclose(p["te"], (1 + rk) / (2 * rg), atol=1e-12)
    assert torch.allclose(p["ta"], ra, atol=1e-12)
    # and back: Rd = (1 / 0.11) (0.5 + 1.2 Rk) (Rk / (4 Rg) + Ra)
    assert torch.allclose(
        (0.5 + 1.2 * p["rk"]) * (p["rk"] / (4 * p["rg"]) + p["ra"]) / 0.11, RDS, atol=1e-12
    )
    assert (p["te"].diff() > 0).all()  # a larger Rd opens the glottis longer


@pytest.mark.parametrize("i", range(3))
def test_lf_waveform_satisfies_the_model(i):
    rd = RDS[i : i + 1]
    p = rd_to_lf(rd)
    te, ta = float(p["te"]), float(p["ta"])
    w = lf_waveform(rd, FINE)[0]
    assert abs(float(w.mean())) < 1e-8  # zero net flow over the period
    e_te = lf_waveform(rd, torch.tensor([te], dtype=torch.float64))[0, 0]
    assert float(e_te) == pytest.approx(-1.0, abs=1e-9)  # E(te) = -Ee
    # continuous at te
    left, right = lf_waveform(rd, torch.tensor([te - 1e-9, te + 1e-9], dtype=torch.float64))[0]
    assert float(left - right) == pytest.approx(0.0, abs=1e-6)
    # return phase: the tangent at te+ reaches 0 after ta (the definition of ta)
    d = 1e-7
    slope = float(lf_waveform(rd, torch.tensor([te + d], dtype=torch.float64))[0, 0] - e_te) / d
    assert 1.0 / slope == pytest.approx(ta, rel=1e-3)
    assert abs(float(w[-1])) < 1e-4  # back to (almost) zero at the end of the period
    # flow (integral) is non-negative over the period, as a glottal flow is
    flow = torch.cumsum(w, 0) / len(w)
    assert float(flow.min()) > -1e-6


def test_tables_are_aligned_and_equal_power():
    tables, rd = glottal_wavetables(n_tables=20, table_size=1024)
    assert (
        tables.shape == (20, 1024) and rd[0] == pytest.approx(0.3) and rd[-1] == pytest.approx(2.7)
    )
    assert torch.allclose(tables.square().mean(-1), torch.ones(20), atol=1e-5)
    # the excitation E(te) = -Ee sits at the wrap point of every table. (It is the minimum up to
    # 0.3 %: for Rd near 2.7 the LF open phase dips to -1.002 Ee just before te.)
    at_te = torch.minimum(tables[:, 0], tables[:, -1])
    assert ((at_te - tables.min(-1).values).abs() <= 0.01 * tables.min(-1).values.abs()).all()


def test_oscillator_pitch_interpolation_and_aliasing():
    tables, _ = glottal_wavetables()
    y = glottal_oscillator(
        torch.full((1, 100), 220.0), torch.full((1, 100), 0.5), tables, 16000, 160
    )
    spec = np.abs(np.fft.rfft(y[0].numpy() * np.hanning(16000)))
    assert abs(np.argmax(spec) * 16000 / 16000 - 220.0) <= 1.0

    def off_harmonic(o):
        y = glottal_oscillator(
            torch.full((1, 100), 1130.0),
            torch.full((1, 100), 0.1),
            tables,
            16000,
            160,
            oversample=o,
        )
        s = np.abs(np.fft.rfft(y[0].numpy() * np.hanning(16000))) ** 2
        fr = np.arange(len(s))
        harm = np.abs(((fr + 565) % 1130) - 565) < 3
        return s[~harm & (fr > 50)].sum() / s.sum()

    assert off_harmonic(4) < 0.01 < off_harmonic(1)  # 0.11 % vs 13.9 % measured


def test_oscillator_gradients():
    tables, _ = glottal_wavetables(n_tables=8, table_size=256)
    pos = torch.full((1, 4), 0.4, dtype=torch.float64, requires_grad=True)
    f0 = torch.full((1, 4), 300.0, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda p: glottal_oscillator(f0, p, tables.double(), 8000, 20, oversample=2), (pos,)
    )


@pytest.mark.parametrize("mode", ["sample", "frame"])
def test_golf_synth_shapes_gradients_and_stability(mode):
    from ddsp.synth import GlottalFlowLPC

    synth = GlottalFlowLPC(
        8000,
        40,
        lpc_order=6,
        n_noise_bands=9,
        n_tables=6,
        table_size=128,
        oversample=2,
        mode=mode,
        room_length=16,
    ).double()
    f0 = torch.full((2, 5), 180.0, dtype=torch.float64)
    voiced = torch.tensor([[1.0, 1, 0, 0, 1], [0, 1, 1, 1, 1]], dtype=torch.float64)

    def run(src, noise, vt):
        return synth(
            f0,
            {"source": src, "noise": noise, "vocal_tract": vt},
            generator=torch.Generator().manual_seed(0),
            voiced=voiced,  # a voicing step inside the clip: the gate's ramp is in the check
        )

    ctrl = [
        torch.randn(2, 5, n, dtype=torch.float64, requires_grad=True)
        for n in synth.control_sizes.values()
    ]
    assert run(*ctrl).shape == (2, 200)
    assert torch.autograd.gradcheck(run, tuple(c.detach().mul(0.3).requires_grad_() for c in ctrl))
    # random (even extreme) encoder outputs: every sample's vocal tract stays in the triangle
    for scale in (1.0, 30.0):
        sos = synth.biquads(torch.randn(2, 5, 7, dtype=torch.float64) * scale)
        a1, a2 = sos[..., 0], sos[..., 1]
        assert (a2 < 1).all() and (a2 > a1.abs() - 1).all()
        assert torch.isfinite(
            run(
                *(
                    torch.randn(2, 5, n, dtype=torch.float64) * scale
                    for n in synth.control_sizes.values()
                )
            )
        ).all()


def test_golf_silent_and_unvoiced_input_is_finite():
    from ddsp.synth import GlottalFlowLPC

    synth = GlottalFlowLPC(16000, 160)
    f0 = torch.full((1, 20), 150.0)  # unvoiced frames carry a filled f0 (data pipeline)
    quiet = {k: torch.full((1, 20, n), -30.0) for k, n in synth.control_sizes.items()}
    y = synth(f0, quiet)
    assert torch.isfinite(y).all() and y.abs().max() < 1e-3
    # unvoiced only, through the voicing gate, with random controls: finite output and gradients
    ctrl = {k: torch.randn(1, 20, n, requires_grad=True) for k, n in synth.control_sizes.items()}
    y = synth(f0, ctrl, voiced=torch.zeros(1, 20))
    y.square().mean().backward()
    assert torch.isfinite(y).all()
    assert all(torch.isfinite(c.grad).all() for c in ctrl.values())
    assert ctrl["source"].grad.abs().max() == 0  # the gated glottal source has no say
    with pytest.raises(ValueError, match="vocal_tract"):
        synth(f0, {**quiet, "vocal_tract": torch.zeros(1, 20, 5)})


def test_vocal_tract_is_normalised_to_unit_power_gain():
    from ddsp.filters import allpole_sos, logits_to_biquads
    from ddsp.synth import GlottalFlowLPC

    sos = logits_to_biquads(torch.randn(3, 11, 2, dtype=torch.float64) * 2)
    gain = torch.exp(-GlottalFlowLPC.log_rms_gain(sos, n_freqs=4096))
    x = torch.randn(3, 200_000, dtype=torch.float64)
    y = allpole_sos(x * gain[:, None], sos.unsqueeze(1).expand(3, 200_000, 11, 2))
    ratio = y[:, 20_000:].square().mean(-1) / x.square().mean(-1)
    assert torch.allclose(ratio, torch.ones(3, dtype=torch.float64), rtol=0.1)

"""MultiResolutionSTFTLoss: parity with auraloss, presets, silence, per-example reduction."""

import math

import auraloss
import numpy as np
import pytest
import torch

from ddsp.losses import (
    MelSTFTLoss,
    MultiResolutionSTFTLoss,
    RandomResolutionSTFTLoss,
    STFTLoss,
    SumAndDifferenceSTFTLoss,
)

# ours with these settings computes auraloss's formula (clamped power, plain L1): values
# are compared in float32, gradients in float64, where auraloss's gradient is well defined (in
# float32 it is partly FFT rounding, see tests/test_conditioning.py)
EXACT = dict(floor_db=None, smooth_l1=0.0)


def _parity(x, y, ours, theirs, value_rel=1e-5):
    def value_and_grad(fn, v):
        v = v.clone().requires_grad_()
        out = fn(v, y.to(v.dtype))
        return out.item(), torch.autograd.grad(out, v)[0]

    a, _ = value_and_grad(theirs, x)
    o, _ = value_and_grad(ours, x)
    assert o == pytest.approx(a, rel=value_rel)
    theirs = theirs.double()
    for m in theirs.modules():  # auraloss keeps its window as a plain float32 attribute
        if isinstance(getattr(m, "window", None), torch.Tensor):
            m.window = torch.hann_window(m.win_length, dtype=torch.float64)
    _, ga = value_and_grad(theirs, x.double())
    _, go = value_and_grad(ours.double(), x.double())
    assert (go - ga).abs().max() <= 1e-6 * ga.abs().max()


@pytest.mark.parametrize("real", [False, True])
def test_matches_auraloss_default(real, speech):
    if real:
        s = torch.from_numpy(speech[0][:16384]).float()
        x, y = (s + 0.01 * torch.randn_like(s)).reshape(2, 1, -1), s.roll(300).reshape(2, 1, -1)
    else:
        x, y = torch.randn(4, 1, 8000), torch.randn(4, 1, 8000)
    _parity(
        x,
        y,
        MultiResolutionSTFTLoss(sc_over_batch=True, **EXACT),
        auraloss.freq.MultiResolutionSTFTLoss(),
    )
    # the default (floored, smoothed) loss departs from auraloss's value by design: by little
    # where auraloss is well conditioned (noise: every bin far above the floor); on speech the
    # bins 50 dB below their frame's mean no longer count (-6 % here)
    default = MultiResolutionSTFTLoss(sc_over_batch=True)(x, y).item()
    theirs = auraloss.freq.MultiResolutionSTFTLoss()(x, y).item()
    assert default == pytest.approx(theirs, rel=0.1 if real else 1e-3)


def test_matches_auraloss_with_linear_term():
    x, y = torch.randn(3, 1, 6000), torch.randn(3, 1, 6000)
    kw = dict(w_sc=0.5, w_log_mag=1.0, w_lin_mag=2.0)
    _parity(
        x,
        y,
        MultiResolutionSTFTLoss(sc_over_batch=True, **EXACT, **kw),
        auraloss.freq.MultiResolutionSTFTLoss(**kw),
    )


def _golf_formula(x, y, floor_db=None, delta=0.0):
    """GOLF's loss written out in float64: clamped magnitudes (GOLF's code) or, with
    ``floor_db``, ours: power floored per frame, smoothed L1 of width ``delta``."""

    def l1(d, width):
        a = d.abs()
        return torch.where(a < width, a * a * (2 - a / width) / width, a) if delta else a

    total = 0.0
    for n in (509, 1021, 2053):
        win = torch.hann_window(n, periodic=True, dtype=torch.float64)
        mags = []
        for s in (x, y):
            spec = torch.stft(
                s, n, n // 4, window=win, center=True, pad_mode="reflect", return_complex=True
            )
            p = spec.abs().square()
            if floor_db is None:
                mags.append(p.clamp_min(1e-8).sqrt())
            else:
                floor = (p.mean(-2, keepdim=True) * 10 ** (floor_db / 10)).clamp_min(1e-8)
                mags.append((p + floor).sqrt())
        lin = l1(mags[0] - mags[1], delta * (mags[0] + mags[1]) / 2).mean()
        log = l1((mags[0] / mags[1]).log(), delta).mean() / math.log(2)
        total += lin + log
    return total


def test_golf_preset_equals_float64_formula():
    x, y = torch.randn(2, 8000, dtype=torch.float64), torch.randn(2, 8000, dtype=torch.float64)
    exact = MultiResolutionSTFTLoss(preset="golf", floor_db=None, smooth_l1=0.0)(x, y)
    assert exact.item() == pytest.approx(_golf_formula(x, y).item(), rel=1e-10)
    ours = MultiResolutionSTFTLoss(preset="golf")(x, y)
    assert ours.item() == pytest.approx(_golf_formula(x, y, -50.0, 0.03).item(), rel=1e-10)


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


def test_mel_scaled_matches_auraloss(speech):
    s = torch.from_numpy(speech[0][:16384]).float()
    x, y = (s + 0.01 * torch.randn_like(s)).reshape(2, 1, -1), s.roll(300).reshape(2, 1, -1)
    kw = dict(scale="mel", n_bins=64, sample_rate=22050)
    _parity(
        x,
        y,
        MultiResolutionSTFTLoss(sc_over_batch=True, **EXACT, **kw),
        auraloss.freq.MultiResolutionSTFTLoss(**kw),
    )
    ours = MelSTFTLoss(22050, 2048, 512, n_mels=64, sc_over_batch=True, **EXACT)
    theirs = auraloss.freq.MelSTFTLoss(22050, 2048, 512, 2048, n_mels=64)
    _parity(x, y, ours, theirs)


def test_phase_term_matches_auraloss_and_is_finite_at_silence():
    x, y = torch.randn(2, 1, 6000), torch.randn(2, 1, 6000)
    kw = dict(w_sc=0.0, w_log_mag=0.0, w_phs=1.0)
    _parity(x, y, STFTLoss(512, 128, **EXACT, **kw), auraloss.freq.STFTLoss(512, 128, 512, **kw))
    z = torch.zeros(2, 1, 6000, requires_grad=True)
    STFTLoss(512, 128, **kw)(z, y).backward()
    assert torch.isfinite(z.grad).all()


def test_sum_and_difference_matches_auraloss():
    x, y = torch.randn(2, 2, 8000), torch.randn(2, 2, 8000)
    sizes = dict(fft_sizes=[512, 1024], hop_sizes=[128, 256], win_lengths=[512, 1024])
    _parity(
        x,
        y,
        SumAndDifferenceSTFTLoss(sc_over_batch=True, **EXACT, **sizes),
        auraloss.freq.SumAndDifferenceSTFTLoss(**sizes),
    )
    with pytest.raises(ValueError, match="stereo"):
        SumAndDifferenceSTFTLoss()(torch.randn(2, 1, 8000), torch.randn(2, 1, 8000))


def test_scale_invariance_ignores_gain():
    y = torch.randn(2, 8000)
    loss = MultiResolutionSTFTLoss(scale_invariance=True)
    assert loss(3.0 * y, y).item() < 1e-4
    assert MultiResolutionSTFTLoss()(3.0 * y, y).item() > 0.5


def test_perceptual_weighting_discounts_low_frequencies():
    t = torch.arange(16000) / 16000
    y = torch.randn(1, 16000) * 0.1
    low, mid = 0.1 * torch.sin(2 * torch.pi * 40 * t), 0.1 * torch.sin(2 * torch.pi * 1000 * t)
    kw = dict(w_sc=0.0, w_log_mag=0.0, w_lin_mag=1.0, sample_rate=16000)
    weighted = STFTLoss(1024, 256, perceptual_weighting=True, **kw)
    plain = STFTLoss(1024, 256, **kw)
    ratio_w = weighted(y + low, y) / weighted(y + mid, y)
    ratio_p = plain(y + low, y) / plain(y + mid, y)
    assert ratio_w < 0.1 * ratio_p  # A-weighting: about -35 dB at 40 Hz, 0 dB at 1 kHz


def test_random_resolution_is_repeatable_and_matches_its_draws():
    x, y = torch.randn(2, 4000), torch.randn(2, 4000)
    a = RandomResolutionSTFTLoss(seed=3, max_fft_size=8192)
    b = RandomResolutionSTFTLoss(seed=3, max_fft_size=8192)
    va, vb = a(x, y), b(x, y)
    assert va.item() == vb.item()
    assert all(16 <= loss.fft_size <= 4096 for loss in a.losses)
    direct = sum(loss(x, y) for loss in a.losses) / len(a.losses)
    assert va.item() == pytest.approx(direct.item(), rel=1e-6)
    assert a(x, y).item() != va.item()  # redrawn on every call by default


def test_random_resolution_refuses_bad_settings_when_built():
    """Its STFTLosses are built when drawn, so a bad window name or STFTLoss argument used to
    fail at some later call (a bad window only when drawn: at random), and bad sizes at the
    first; they are all refused at construction now."""
    cases = [
        (dict(windows=("hann", "nope")), ValueError, "unknown window 'nope'"),
        (dict(windows="hann"), ValueError, "windows must be a non-empty sequence"),
        (dict(bogus=1), TypeError, "unexpected keyword argument 'bogus'"),
        (dict(min_fft_size=64, max_fft_size=64), ValueError, "max_fft_size must be above"),
        (dict(min_hop_size=0.0), ValueError, "0 < min_hop_size <= max_hop_size <= 1"),
        (dict(min_hop_size=0.5, max_hop_size=0.25), ValueError, "min_hop_size <= max_hop_size"),
        (dict(resolutions=0), ValueError, "resolutions must be a positive int"),
        (dict(randomize_rate=1.5), ValueError, "randomize_rate must be a positive int"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            RandomResolutionSTFTLoss(**kwargs)
    with pytest.raises(ValueError, match="unknown window 'nope'"):  # STFTLoss itself, too
        STFTLoss(512, 128, window="nope")


def test_loss_weights_are_finite_and_not_negative():
    """A NaN weight (or floor_db) made the loss NaN and a negative one a loss without a floor,
    both without a word; a negative smoothing width was taken too."""
    from ddsp.losses import CombinedLoss, FrameLevelLoss

    for name in ("w_sc", "w_log_mag", "w_lin_mag", "w_phs", "w_complex", "smooth_l1"):
        for bad in (-1.0, math.nan, math.inf):
            with pytest.raises(ValueError, match=rf"{name} must be a finite number >= 0"):
                STFTLoss(512, 128, **{name: bad})
    with pytest.raises(ValueError, match="floor_db must be a finite number"):
        STFTLoss(512, 128, floor_db=math.nan)
    with pytest.raises(ValueError, match="weight of 'level' must be a finite number >= 0"):
        CombinedLoss({"level": FrameLevelLoss()}, {"level": math.nan})
    assert STFTLoss(512, 128, w_sc=0.0, floor_db=None).w_sc == 0.0


def test_gradcheck_all_terms_float64():
    # the phase term (w_phs) wraps at +-pi, so finite differences cannot check it; its gradient
    # is atan2's and its parity with auraloss is tested above
    loss = STFTLoss(64, 16, w_sc=1.0, w_log_mag=1.0, w_lin_mag=1.0, w_complex=1.0, log_base=2)
    x = torch.randn(2, 256, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 256, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: loss(v, y), (x,))
    mel = STFTLoss(64, 16, scale="mel", n_bins=8, sample_rate=8000, perceptual_weighting=True)
    assert torch.autograd.gradcheck(lambda v: mel(v, y), (x,))


def test_time_domain_losses_are_auralosses():
    from ddsp.losses import time as tl

    z = torch.zeros(2, 1, 1000, requires_grad=True)
    for cls in (tl.ESRLoss, tl.DCLoss, tl.SNRLoss, tl.SISDRLoss, tl.L1Loss):
        value = cls()(z, torch.zeros(2, 1, 1000))
        value.backward()
        assert math.isfinite(value.item()) and torch.isfinite(z.grad).all(), cls.__name__


def _assert_fused_equals_general(loss, x: torch.Tensor, y: torch.Tensor) -> None:
    """The loss's value and gradient equal its general (plain autograd) path's, float64."""
    xs = x.clone().requires_grad_()
    fused = loss(xs, y)
    (g_fused,) = torch.autograd.grad(fused, xs)
    general = loss._compute_general(loss.spectrum(xs), loss.spectrum(y), False).mean()
    (g_general,) = torch.autograd.grad(general, xs)
    assert fused.item() == pytest.approx(general.item(), rel=1e-12)
    assert (g_fused - g_general).abs().max() <= 1e-10 * g_general.abs().max()


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(w_lin_mag=1.0, log_base=2, w_sc=0.0),
        dict(floor_db=None, smooth_l1=0.0, w_lin_mag=0.5),
        dict(smooth_l1=0.0),
        dict(w_phs=1.0, w_complex=0.5),
    ],
)
def test_fused_path_equals_the_general_one(kw, speech):
    # the common case runs as one autograd function; the general path is plain autograd
    s = torch.from_numpy(speech[0][:16384])
    s[3000:5000] = 0.0
    x = (s + 1e-3 * torch.randn_like(s)).reshape(2, -1)
    y = (0.7 * s.roll(150)).reshape(2, -1)
    loss = STFTLoss(512, 128, **kw)
    assert loss._fusable()
    _assert_fused_equals_general(loss, x, y)
    if "w_phs" in kw:  # the phase term wraps at +-pi: finite differences cannot check it
        return
    one = STFTLoss(64, 16, **kw)
    v = torch.randn(2, 256, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 256, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: one(t, w), (v,))
    # double backward (create_graph) recomputes from X: the fused function's second
    # derivative is the loss's, not that of a backward whose per-bin factors were constants
    assert torch.autograd.gradgradcheck(lambda t: one(t, w), (v,))


def test_prime_fft_sizes_equal_the_general_path(speech):
    """GOLF's prime FFT sizes (509 / 1021 / 2053) through the fused path: same value and
    gradient as the general path (float64), and a float64 gradcheck at a small prime size."""
    s = torch.from_numpy(speech[0][:16384])
    x = (s + 1e-3 * torch.randn_like(s)).reshape(2, -1)
    y = (0.7 * s.roll(150)).reshape(2, -1)
    loss = STFTLoss(509, 127, floor_db=None, smooth_l1=0.0, w_lin_mag=1.0, w_sc=0.0)
    assert loss._fusable()
    _assert_fused_equals_general(loss, x, y)
    one = STFTLoss(31, 8)
    v = torch.randn(2, 256, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 256, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: one(t, w), (v,))


def test_compiled_terms_equal_the_eager_ones(monkeypatch):
    """Large spectra run the fused terms torch.compile'd (ddsp.dsp.compiled): same values and
    gradients as eager, to float32 rounding; and it did compile rather than fall back."""
    from ddsp.dsp import COMPILED
    from ddsp.losses import MultiResolutionSTFTLoss

    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 1, 32000, generator=g)
    y = torch.roll(x, 5, -1) + 0.1 * torch.randn(8, 1, 32000, generator=g)
    out = {}
    for mode in ("1", "0"):  # compiled, then eager
        monkeypatch.setenv("DDSP_COMPILE", mode)
        xx = x.clone().requires_grad_()
        value = MultiResolutionSTFTLoss(preset="ddsp")(xx, y)
        value.backward()
        out[mode] = (value.detach(), xx.grad)
    assert {"loss.forward", "loss.backward"} <= set(COMPILED) and not COMPILED.get("broken")
    assert torch.allclose(out["1"][0], out["0"][0], rtol=1e-5)
    assert (out["1"][1] - out["0"][1]).abs().max() <= 1e-4 * out["0"][1].abs().max()


def _refuses_bad_pairs(loss, x: torch.Tensor) -> None:
    """The level losses' input errors, as the spectral losses' (``x``: ``(2, 1, >= 1200)``)."""
    for n in (100, 400):  # the pair's check, then the levels' own
        with pytest.raises(ValueError, match=f"signals of {n} samples are too short for frames"):
            loss(x[..., :n], x[..., :n])
    with pytest.raises(ValueError, match=r"input shape \(2, 1, 1000\) != target shape"):
        loss(x[..., :1000], x[..., :1200])
    bad = x.clone()
    bad[1, 0, 7] = math.nan
    with pytest.raises(ValueError, match="input contains NaN or Inf"):
        loss(bad, x)
    with pytest.raises(ValueError, match="target contains NaN or Inf"):
        loss(x, bad.nan_to_num(posinf=math.inf, nan=math.inf))
    with pytest.raises(TypeError, match="input must be a real float32 or float64"):
        loss((100 * x).long(), x)


def test_frame_level_loss_measures_the_level_error_in_db():
    from ddsp.losses import FrameLevelLoss

    torch.manual_seed(0)
    x = torch.randn(2, 1, 4000, dtype=torch.float64)
    loss = FrameLevelLoss(640, 160)
    assert float(loss(x, x)) == 0.0
    torch.testing.assert_close(
        loss(0.5 * x, x), torch.tensor(20 * math.log10(2), dtype=torch.float64)
    )
    # the target's digital silence: levels floored range_db below its loudest frame, finite
    x[..., 2000:] = 0.0
    y = x.clone()
    y[..., 2000:] = 1e-9 * torch.randn(2, 1, 2000, dtype=torch.float64)
    assert torch.isfinite(loss(y, x)) and float(loss(y, x)) < 1e-9
    assert torch.autograd.gradcheck(
        lambda a: FrameLevelLoss(64, 16)(a, x[..., :256]),
        (torch.randn(2, 1, 256, dtype=torch.float64, requires_grad=True),),
    )
    _refuses_bad_pairs(loss, x)
    with pytest.raises(ValueError, match="range_db must be > 0"):
        FrameLevelLoss(range_db=0.0)


def test_band_level_loss_measures_each_bands_level_error_in_db(speech):
    from ddsp.losses import BandLevelLoss, FrameLevelLoss
    from ddsp.spectral.loudness import butterworth_highpass

    torch.manual_seed(0)
    sr = 16000
    x = torch.randn(2, 1, 8000, dtype=torch.float64)
    loss = BandLevelLoss(sr)  # six bands, 60 Hz to 8 kHz
    assert float(loss(x, x)) == 0.0
    six_db = torch.tensor(20 * math.log10(2), dtype=torch.float64)
    torch.testing.assert_close(loss(0.5 * x, x), six_db)  # a level error: every band
    # a balance error the one-band level hardly sees: the top band (4-8 kHz) 6 dB down
    top = butterworth_highpass(x, 4000 / sr, order=8)
    tilted = x - 0.5 * top
    per_band = (loss.levels(tilted) - loss.levels(x)).mean((0, 1, 3))
    assert -6.5 < float(per_band[-1]) < -5.0 and per_band[:-2].abs().max() < 0.3
    tilted = tilted * x.norm() / tilted.norm()  # the same overall level, the balance off
    assert float(FrameLevelLoss(640, 160)(tilted, x)) < 0.3 < 1.5 < float(loss(tilted, x))
    # one band from 0 to Nyquist measures the level with a Hann window: a gain error only
    broad = BandLevelLoss(sr, (0.0, 8000.0))
    torch.testing.assert_close(broad(2.0 * x, x), six_db)
    # the target's digital silence: floored range_db below each band's loudest frame, finite
    x[..., 4000:] = 0.0
    y = x.clone()
    y[..., 4000:] = 1e-9 * torch.randn(2, 1, 4000, dtype=torch.float64)
    assert torch.isfinite(loss(y, x)) and float(loss(y, x)) < 1e-6
    assert torch.autograd.gradcheck(
        lambda a: BandLevelLoss(sr, (0.0, 2000.0, 8000.0), 64, 16)(a, x[..., :256]),
        (torch.randn(2, 1, 256, dtype=torch.float64, requires_grad=True),),
    )
    # float32 against float64 on real speech (the shipped recordings)
    audio, rate = speech
    real = torch.from_numpy(audio[: 2 * rate])[None, None]
    filt = butterworth_highpass(real, 1000 / rate)  # a balance error on real speech
    at_rate = BandLevelLoss(rate)
    ref = at_rate(filt, real)
    assert float(ref) > 1.0
    torch.testing.assert_close(at_rate(filt.float(), real.float()).double(), ref, rtol=1e-4, atol=0)
    _refuses_bad_pairs(loss, x)
    with pytest.raises(ValueError, match=r"band_edges_hz must be .* got \(100, 50\)"):
        BandLevelLoss(sr, (100, 50))
    with pytest.raises(ValueError, match=r"sample_rate / 2 = 8000.0\], got \(0, 9000\)"):
        BandLevelLoss(sr, (0, 9000))
    with pytest.raises(ValueError, match=r"band 0 \[60.0, 70.0\) Hz holds no FFT bin"):
        BandLevelLoss(sr, (60, 70, 8000))
    with pytest.raises(ValueError, match="range_db must be > 0"):
        BandLevelLoss(sr, range_db=-1.0)


def test_band_level_loss_equals_a_numpy_reference(speech):
    """Parity with the definition written out in numpy (centred Hann frames, zero padding,
    power summed over each band's rfft bins, 10 log10, floored per band and example), on
    real speech and on white noise, float64: 1e-10."""
    from ddsp.losses import BandLevelLoss

    def reference(a, b, sr, edges, n, hop, range_db):
        def levels(x):
            x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(n // 2, n // 2)])
            idx = np.arange(0, x.shape[-1] - n + 1, hop)[:, None] + np.arange(n)
            spec = np.abs(np.fft.rfft(x[..., idx] * np.hanning(n + 1)[:-1], axis=-1)) ** 2
            f = np.fft.rfftfreq(n, 1 / sr)
            bands = [(f >= lo) & ((f <= hi) if hi == edges[-1] else (f < hi))
                     for lo, hi in zip(edges[:-1], edges[1:], strict=True)]  # fmt: skip
            return np.stack([10 * np.log10(spec[..., m].sum(-1) + 1e-20) for m in bands], -2)

        lb = levels(b)
        floor = lb.max(-1, keepdims=True) - range_db
        return np.abs(np.maximum(levels(a), floor) - np.maximum(lb, floor)).mean()

    audio, rate = speech
    real = audio[rate // 2 : rate // 2 + 2 * rate][None, None]
    noise = np.random.default_rng(0).standard_normal((2, 1, 16000))
    for x, sr in ((real, rate), (noise, 16000)):
        y = 0.6 * np.roll(x, 41, -1) + 0.01 * np.random.default_rng(1).standard_normal(x.shape)
        edges = (60.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
        loss = BandLevelLoss(sr, edges, 640, 160, 60.0)
        ours = float(loss(torch.from_numpy(y), torch.from_numpy(x)))
        assert math.isclose(ours, reference(y, x, sr, edges, 640, 160, 60.0), rel_tol=1e-10)


def test_combined_loss_is_the_weighted_sum_of_its_terms():
    from ddsp.losses import CombinedLoss, FrameLevelLoss

    x, y = torch.randn(2, 1, 4000), torch.randn(2, 1, 4000)
    mss, level = MultiResolutionSTFTLoss(preset="golf"), FrameLevelLoss()
    both = CombinedLoss({"mss": mss, "level": level}, {"level": 0.5})
    torch.testing.assert_close(both(x, y), mss(x, y) + 0.5 * level(x, y))
    with pytest.raises(ValueError, match=r"weights for unknown terms \['lvl'\]"):
        CombinedLoss({"mss": mss}, {"lvl": 1.0})

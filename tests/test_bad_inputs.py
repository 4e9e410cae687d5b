"""Every bad input gets a clear error (type, and a message naming the argument and its value)
or a documented handling, never a silent NaN or a silently wrong result."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
import torch

from ddsp.filters import UnstableFilterError, allpole, allpole_sos, reflection_to_lpc
from ddsp.losses import MelSTFTLoss, MultiResolutionSTFTLoss, STFTLoss
from ddsp.spectral import CQT, MFCC, STFT, Gammatonegram, MelSpectrogram, Spectrogram
from ddsp.spectral import functional as SF

# --- all-pole filter ---------------------------------------------------------------------


def test_allpole_unbatched_frames_with_hop_are_per_frame_filters():
    torch.manual_seed(0)
    a = reflection_to_lpc(torch.rand(2, 3, dtype=torch.float64) - 0.5)  # (frames=2, order=3)
    for batch in (2, 3):  # B == frames was once taken as one fixed filter per example
        x = torch.randn(batch, 40, dtype=torch.float64)
        y = allpole(x, a, hop_length=20)
        z = allpole(x, a[None].expand(batch, -1, -1), hop_length=20)
        torch.testing.assert_close(y, z)  # equal to the explicitly batched frames
        first = allpole(x[:, :20], a[0])  # the first frame's filter alone
        torch.testing.assert_close(y[:, :20], first)


def test_allpole_bad_hop_and_shapes():
    x = torch.randn(2, 100)
    for hop in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="hop_length must be a positive int"):
            allpole(x, torch.zeros(2, 4, 2), hop_length=hop)
    with pytest.raises(ValueError, match="with hop_length, a must be"):
        allpole(x, torch.zeros(2), hop_length=50)
    with pytest.raises(ValueError, match="do not broadcast.*hop_length"):
        allpole(x, torch.zeros(3, 2))  # (3, order) for 2 examples


def test_allpole_unstable_is_named_not_nan():
    radius = 1.1  # poles outside the unit circle, as in the issue
    a = torch.tensor([-2 * radius * math.cos(0.3), radius**2]).expand(4, 2).clone()
    x = torch.randn(1, 16000)
    with pytest.raises(UnstableFilterError, match=r"allpole: a is unstable.*k_2 = 1\.21"):
        allpole(x, a[0])  # overflows: the output check finds the unstable filter
    with pytest.raises(UnstableFilterError, match=r"a\[0, 3\] \(of leading shape \(1, 4\)\)"):
        good = reflection_to_lpc(torch.tensor([0.5, 0.5]))
        frames = torch.stack([good, good, good, a[0]])[None]
        allpole(torch.randn(1, 16000), frames, hop_length=4000)  # overflows in the last frame
    with pytest.raises(UnstableFilterError, match=r"a\[0, 2\]"):
        good = reflection_to_lpc(torch.tensor([0.5, 0.5]))
        frames = torch.stack([good, good, a[0], good])  # frame 2 unstable
        allpole(torch.randn(1, 40), frames[None], hop_length=10, check_stability=True)


def test_allpole_refuses_complex_and_integer_input():
    a = torch.zeros(2)
    with pytest.raises(TypeError, match="x must be a real float32 or float64.*complex"):
        allpole(torch.randn(2, 10, dtype=torch.complex128), a.double())
    with pytest.raises(TypeError, match="a must be a real"):
        allpole(torch.randn(2, 10), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(TypeError, match="sos must be a real"):
        allpole_sos(torch.randn(1, 10), torch.zeros(1, 10, 1, 2, dtype=torch.complex64))


def test_allpole_zi_must_match_the_order():
    with pytest.raises(ValueError, match=r"zi must be \(\.\.\., order=2\).*\(2, 1\)"):
        allpole(torch.randn(2, 10), torch.zeros(2, 2), zi=torch.zeros(2, 1))


def test_allpole_nan_input_named():
    with pytest.raises(ValueError, match="a contains NaN"):
        allpole(torch.randn(2, 10), torch.tensor([0.1, float("nan")]))
    with pytest.raises(ValueError, match="zi contains NaN"):
        allpole(torch.randn(2, 10), torch.zeros(2), zi=torch.tensor([0.0, float("inf")]))


def test_allpole_forward_ad_and_vmap():
    torch.manual_seed(0)
    x = torch.randn(2, 30, dtype=torch.float64, requires_grad=True)
    a = reflection_to_lpc(0.8 * torch.rand(2, 30, 3, dtype=torch.float64) - 0.4)
    a.requires_grad_()
    zi = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(allpole, (x, a, zi), check_forward_ad=True)
    frames = a.detach()[:, ::10].clone().requires_grad_()
    held = lambda x, a, zi: allpole(x, a, zi, hop_length=10)  # noqa: E731
    assert torch.autograd.gradcheck(held, (x, frames, zi), check_forward_ad=True)
    batched = torch.vmap(allpole)(x[:, None], a[:, None], zi[:, None])[:, 0]
    torch.testing.assert_close(batched, allpole(x, a, zi))
    shared = torch.vmap(allpole, in_dims=(0, None, None))(x[:, None], a, zi)
    torch.testing.assert_close(shared, torch.stack([allpole(x[i : i + 1], a, zi) for i in (0, 1)]))


# --- losses ------------------------------------------------------------------------------


def test_accelerator_checks_are_queued_not_read(monkeypatch):
    """Off the CPU the hot paths' NaN/Inf checks are device assertions (no host stall per
    call): run here as if off the CPU, a finite call passes and a NaN still raises, with the
    message the device assertion carries (on the CPU ``_assert_async`` raises at once)."""
    import sys

    import ddsp.dsp

    reads = []
    for name in ("ddsp.filters.allpole", "ddsp.losses.stft"):  # the modules, not the functions
        module = sys.modules[name]
        monkeypatch.setattr(module, "host_reads_free", lambda t: reads.append(t.device) and False)
    x, a = torch.randn(1, 400), 0.1 * torch.randn(1, 400, 4)
    loss = STFTLoss(256, 64)
    assert torch.isfinite(allpole(x, a)).all() and torch.isfinite(loss(x[:, None], x[:, None]))
    assert len(reads) == 3  # the filter's output, the loss's input and target
    x[0, 7] = math.nan
    with pytest.raises(RuntimeError, match="allpole: the output holds NaN or Inf"):
        allpole(x, a)
    with pytest.raises(RuntimeError, match="input contains NaN or Inf, or peaks beyond"):
        loss(x[:, None], torch.zeros(1, 1, 400))
    ddsp.dsp.device_assert(torch.tensor(False, device="meta"), "meta tensors hold no values")


def test_mel_loss_with_empty_bands_warns_and_stays_finite():
    with pytest.warns(UserWarning, match="mel bands hold no FFT bin"):
        loss = MultiResolutionSTFTLoss(scale="mel", n_bins=128, sample_rate=44100)
    x = torch.randn(2, 1, 8000, requires_grad=True)
    value = loss(x, torch.randn(2, 1, 8000))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    "dtype", [torch.int64, torch.float16, torch.bfloat16, torch.complex64, torch.int16]
)
def test_loss_refuses_unsupported_dtypes(dtype):
    x = torch.ones(2, 4000).to(dtype)
    with pytest.raises(TypeError, match=rf"input must be a real float32 or float64.*{dtype}"):
        MultiResolutionSTFTLoss()(x, x)


def test_loss_refuses_values_that_overflow():
    x = torch.full((2, 4000), 1e20)
    with pytest.raises(ValueError, match="input peaks at 1e\\+20.*scale the signals down"):
        MultiResolutionSTFTLoss()(x, torch.randn(2, 4000))
    with pytest.raises(ValueError, match="target contains NaN"):
        MultiResolutionSTFTLoss()(torch.randn(2, 4000), torch.full((2, 4000), float("nan")))


def test_loss_sizes_validated():
    for kw, arg in [
        (dict(fft_size=0), "fft_size"),
        (dict(fft_size=1024.0), "fft_size"),
        (dict(hop_size=-1), "hop_size"),
        (dict(win_length=2048), "win_length"),
    ]:
        with pytest.raises(ValueError, match=arg):
            STFTLoss(**kw)
    with pytest.raises(ValueError, match="equal lengths, got 2, 3 and 3"):
        MultiResolutionSTFTLoss(fft_sizes=[512, 1024])


def test_loss_takes_auraloss_keywords_and_defaults():
    import auraloss

    x, y = torch.randn(2, 1, 8000), torch.randn(2, 1, 8000)
    exact = dict(floor_db=None, smooth_l1=0.0)
    ours = STFTLoss(mag_distance="L2", window="hann_window", w_lin_mag=1.0, **exact)
    theirs = auraloss.freq.STFTLoss(mag_distance="L2", w_lin_mag=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ours(x, y).item() == pytest.approx(theirs(x, y).item(), rel=1e-5)
        mel = MelSTFTLoss(22050, n_mels=64, sc_over_batch=True, **exact)
        ref = auraloss.freq.MelSTFTLoss(22050, n_mels=64)
        assert (mel.fft_size, mel.hop_size, mel.win_length) == (1024, 256, 1024)
        assert mel(x, y).item() == pytest.approx(ref(x, y).item(), rel=1e-5)


# --- front-ends --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, arg",
    [
        (lambda: STFT(0), "n_fft"),
        (lambda: STFT(-8), "n_fft"),
        (lambda: STFT(1024.0), "n_fft"),
        (lambda: STFT(1024, hop_length=0), "hop_length"),
        (lambda: STFT(1024, hop_length=-256), "hop_length"),
        (lambda: STFT(1024, win_length=2048), "win_length"),
        (lambda: Spectrogram(512, 128.0), "hop_length"),
        (lambda: STFT(1024, freq_scale="log", f_min=50.0, sample_rate=0), "sample_rate"),
        (lambda: STFT(1024, freq_scale="log", f_min=50.0, f_max=12000, sample_rate=16000), "f_max"),
        (lambda: MelSpectrogram(16000, 512, n_mels=0), "n_mels"),
        (lambda: MelSpectrogram(16000, 512, f_max=9000.0), "f_max"),
        (lambda: MelSpectrogram(0, 512), "sample_rate"),
        (lambda: MFCC(16000, 13, n_fft=512, hop_length=0), "hop_length"),
        (lambda: Gammatonegram(16000, 512, f_max=8001.0), "f_max"),
        (lambda: CQT(22050, hop_length=0), "hop_length"),
        (lambda: CQT(0), "sample_rate"),
        (lambda: CQT(22050, n_bins=0), "n_bins"),
    ],
)
def test_front_end_arguments_are_validated_at_construction(make, arg):
    with pytest.raises(ValueError, match=arg):
        make()


FRONT_ENDS = [
    lambda: Spectrogram(512, 128),
    lambda: MelSpectrogram(16000, 512, 128),
    lambda: MFCC(16000, n_fft=512, hop_length=128),
    lambda: CQT(16000, 128, n_bins=36),
    lambda: Gammatonegram(16000, 512, 128),
]


@pytest.mark.parametrize("make", FRONT_ENDS)
def test_front_ends_name_nan_inf_and_empty_input(make):
    """librosa refuses non-finite audio; ours did not and returned NaN spectra."""
    m = make()
    x = torch.randn(2, 4000)
    x[1, 123] = math.inf
    with pytest.raises(
        ValueError, match=r"NaN or Inf in signals \(first at flat index 4123 of shape"
    ):
        m(x)
    x[1, 123] = math.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        m(x)
    with pytest.raises(ValueError, match="at least one sample"):
        m(torch.zeros(2, 0))
    with pytest.raises(ValueError, match=r"at least one sample.*got shape \(\)"):
        m(torch.tensor(1.0))  # was an IndexError
    for value, kind in (([[0.0] * 400], "list"), (np.zeros((1, 400), np.float32), "ndarray")):
        with pytest.raises(TypeError, match=f"must be a torch.Tensor, got {kind}"):
            m(value)  # was an AttributeError


_EMPTY_BATCH = {  # name: (transform, one item's input)
    "stft": (lambda x: SF.stft(x, 512, 128), torch.randn(4000)),
    "istft": (lambda s: SF.istft(s, 512, 128), torch.randn(257, 32, dtype=torch.complex64)),
    "griffinlim": (lambda m: SF.griffinlim(m, 512, 128, n_iter=2), torch.rand(257, 32)),
    "cqt": (lambda x: SF.cqt(x, 16000, 128, n_bins=24), torch.randn(4000)),
    "icqt": (lambda s: SF.icqt(s, 16000, 128), torch.randn(24, 32, dtype=torch.complex64)),
    "griffinlim_cqt": (lambda m: SF.griffinlim_cqt(m, 16000, 128, n_iter=2), torch.rand(24, 32)),
    "STFT": (STFT(512, 128), torch.randn(4000)),
    "Spectrogram": (Spectrogram(512, 128), torch.randn(4000)),
    "MelSpectrogram": (MelSpectrogram(16000, 512, 128), torch.randn(4000)),
    "MFCC": (MFCC(16000, n_fft=512, hop_length=128), torch.randn(4000)),
    "CQT": (CQT(16000, 128, n_bins=36), torch.randn(4000)),
    "Gammatonegram": (Gammatonegram(16000, 512, 128), torch.randn(4000)),
}


@pytest.mark.parametrize("name", sorted(_EMPTY_BATCH))
def test_front_ends_take_an_empty_batch(name):
    """A batch of no signals gives no outputs of the right shape (MKL's FFT rejected it with
    "Inconsistent configuration parameters" in stft, istft, the CQT and Griffin-Lim), and a
    gradient of the input's shape."""
    fn, one = _EMPTY_BATCH[name]
    want = fn(one[None]).shape[1:]
    for batch in ((0,), (3, 0)):
        x = one.new_zeros(*batch, *one.shape)
        out = fn(x)
        assert out.shape == (*batch, *want) and out.dtype == fn(one[None]).dtype
    if not one.is_complex():
        x = torch.zeros(0, *one.shape, requires_grad=True)
        fn(x).abs().sum().backward()
        assert x.grad.shape == x.shape


def test_front_end_finite_check_is_queued_off_the_cpu_and_off_in_vmap(monkeypatch):
    import ddsp.dsp

    spec, x = Spectrogram(256, 64), torch.randn(3, 1000)
    monkeypatch.setattr(ddsp.dsp, "host_reads_free", lambda t: False)
    assert torch.isfinite(spec(x)).all()
    bad = x.clone()
    bad[0, 5] = math.nan
    with pytest.raises(RuntimeError, match="NaN or Inf in signals"):
        spec(bad)
    monkeypatch.undo()
    from ddsp.dsp import finite_values

    def check(t):
        finite_values(t)  # would raise on reading a value under vmap
        return 2 * t

    assert torch.equal(torch.vmap(check)(x), 2 * x)


def test_levinson_durbin_names_a_zero_energy_frame():
    from ddsp.filters import levinson_durbin, lpc_analysis

    r = torch.tensor([[1.0, 0.5, 0.1], [0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"r\[\.\.\., 0\] .* must be > 0, got 0.0 at flat index 1"):
        levinson_durbin(r)
    with pytest.raises(ValueError, match="must be > 0, got nan"):
        levinson_durbin(torch.tensor([math.nan, 0.1]))
    a, _, _ = lpc_analysis(torch.zeros(1, 1000), 4, 256, 128)  # silence: floored, a = 0
    assert torch.equal(a, torch.zeros_like(a))


def test_synthesisers_name_bad_f0_and_controls():
    """NaN f0 used to surface as an error about the all-pole filter's input; negative f0 ran
    the oscillator backwards without a word."""
    from ddsp.synth import GlottalFlowLPC, HarmonicPlusNoise

    for synth in (GlottalFlowLPC(16000, 160), HarmonicPlusNoise(16000, 160)):
        f0 = 100 + 50 * torch.rand(1, 20)
        controls = {k: torch.randn(1, 20, n) for k, n in synth.control_sizes.items()}
        assert torch.isfinite(synth(f0, controls)).all()
        bad_f0 = f0.clone()
        bad_f0[0, 3] = math.nan
        with pytest.raises(ValueError, match=r"NaN or Inf in f0 \(first at flat index 3"):
            synth(bad_f0, controls)
        with pytest.raises(ValueError, match=r"f0 must be >= 0 Hz, got -100.0 at flat index 0"):
            synth(torch.cat([torch.tensor([[-100.0]]), f0[:, 1:]], 1), controls)
        name = next(iter(controls))
        bad = dict(
            controls, **{name: controls[name].clone().index_fill_(1, torch.tensor([2]), math.inf)}
        )
        with pytest.raises(ValueError, match=f"NaN or Inf in control '{name}'"):
            synth(f0, bad)

    from ddsp.synth import DifferentiableWORLD, NeuralHomomorphic, PulseTrainLPC, SawtoothFIR

    for cls in (GlottalFlowLPC, HarmonicPlusNoise, PulseTrainLPC, SawtoothFIR, NeuralHomomorphic):
        synth = cls(16000, 160)  # each raised MKL, IndexError, lerp or dtype errors from inside
        f0 = torch.full((2, 20), 120.0)
        controls = {k: torch.randn(2, 20, n) for k, n in synth.control_sizes.items()}
        with pytest.raises(
            TypeError, match="f0 must be a float32 or float64 tensor, got torch.int64"
        ):
            synth(f0.long(), controls)
        with pytest.raises(TypeError, match="is torch.float32 but f0 is torch.float64"):
            synth(f0.double(), controls)
        with pytest.raises(ValueError, match=r"f0 must be \(batch, frames\).*f0\[None\]"):
            synth(f0[0], {k: v[0] for k, v in controls.items()})
        for empty in (f0[:0], f0[:, :0]):
            part = {k: v[: empty.shape[0], : empty.shape[1]] for k, v in controls.items()}
            with pytest.raises(ValueError, match="with at least one of each, got shape"):
                synth(empty, part)
    synth = DifferentiableWORLD(16000, 160)
    with pytest.raises(TypeError, match="float32 or float64 tensor, got torch.float16"):
        synth(f0.half(), {k: torch.randn(2, 20, n).half() for k, n in synth.control_sizes.items()})


def test_analysis_functions_name_nan_input():
    import numpy as np

    from ddsp.f0 import extract_f0
    from ddsp.filters import lpc_analysis
    from ddsp.metrics.voice import formant_tracks
    from ddsp.spectral import functional as SF

    x = torch.randn(1, 4000)
    spec = SF.stft(x, 512, 128)
    spec[0, 3, 3] = complex(math.nan, 0.0)
    with pytest.raises(ValueError, match="NaN or Inf in spec"):
        SF.istft(spec, 512, 128)
    x[0, 9] = math.inf
    with pytest.raises(ValueError, match=r"NaN or Inf in x \(first at flat index 9"):
        lpc_analysis(x, 10, 400, 160)
    with pytest.raises(ValueError, match="NaN or Inf in audio"):
        formant_tracks(x[0], 16000, 160)
    with pytest.raises(ValueError, match=r"NaN or Inf in the audio \(first at sample 9: inf\)"):
        extract_f0(x[0].numpy().astype(np.float64), 16000, 160)


def test_allpole_refuses_empty_signals():
    for call in (
        lambda: allpole(torch.zeros(1, 0), torch.zeros(1, 0, 2)),
        lambda: allpole_sos(torch.zeros(1, 0), torch.zeros(1, 0, 1, 2)),
    ):
        with pytest.raises(ValueError, match=r"at least one sample .* got shape \(1, 0\)"):
            call()


def test_functional_stft_arguments_and_dtypes():
    from ddsp.spectral import functional as SF

    with pytest.raises(ValueError, match="hop_length must be a positive int, got 0"):
        SF.stft(torch.randn(1000), 256, 0)
    with pytest.raises(TypeError, match="float32 or float64.*int64"):
        SF.stft(torch.ones(1000, dtype=torch.int64), 256)
    with pytest.warns(
        UserWarning, match="n_fft=2048 is too large for an input signal of length=1500"
    ):
        SF.stft(torch.randn(1500), 2048, 512)


def test_cqt_single_bin_and_short_reflect_match_librosa():
    librosa = pytest.importorskip("librosa")
    import numpy as np

    y = np.random.default_rng(0).standard_normal(22050) * 0.1

    def close(ours, ref):  # the criterion of tests/test_cqt.py (resampling differs at edges)
        assert ours.shape == ref.shape
        strong = ref > 1e-3 * ref.max()
        rel = np.abs(ours - ref)[strong] / ref[strong]
        assert np.median(rel) <= 1e-3 and np.percentile(rel, 90) <= 1e-2, np.median(rel)

    ours = CQT(22050, 512, n_bins=1, f_min=440.0)(torch.from_numpy(y)).numpy()
    close(ours, np.abs(librosa.cqt(y, sr=22050, hop_length=512, n_bins=1, fmin=440.0)))
    short = y[:4096]  # the lowest octaves see fewer samples than the reflect padding needs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_fft longer than the decimated signal: both warn
        ours = CQT(22050, 512, n_bins=48, pad_mode="reflect")(torch.from_numpy(short)).numpy()
        ref = np.abs(librosa.cqt(short, sr=22050, hop_length=512, n_bins=48, pad_mode="reflect"))
    close(ours, ref)


# --- command-line tools ------------------------------------------------------------------


def _cli_error(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_resynth_user_errors_are_one_line(tmp_path, capsys):
    from conftest import DATA

    from ddsp.resynth import main

    wav = str(sorted(DATA.glob("*.ogg"))[0])
    fake = tmp_path / "model.ckpt"
    fake.write_text("not a checkpoint")
    out = str(tmp_path / "out.wav")
    assert "not a checkpoint file" in _cli_error(main, [wav, out, f"ckpt={fake}"], capsys)
    err = _cli_error(main, [wav, str(tmp_path / "missing" / "out.wav"), str(fake)], capsys)
    assert "does not exist" in err and "missing" in err
    for bad in ("0", "-1"):
        err = _cli_error(main, [wav, out, str(fake), "--f0-scale", bad], capsys)
        assert "--f0-scale must be a finite number > 0, got" in err and bad in err
    for flags, message in [
        (["--rd", "5"], "--rd must lie in the wavetables' range [0.3, 2.7], got 5.0"),
        (["--time-stretch", "0"], "--time-stretch must be > 0, got 0"),
        (["--formant-scale", "-1"], "--formant-scale must be a finite number > 0"),
        (["--formant-factors", "1,2"], "--formant-factors takes F1,F2,F3"),
        (["--formant-factors", "1,0,1"], "--formant-factors[1] (F2) must be"),
        (["--formant-method", "lpc"], "--formant-method must be 'envelope' or 'poles'"),
        (["--noise-scale", "-1"], "--noise-scale must be a finite number >= 0"),
        (["--pitch-shift", "up"], "--pitch-shift must be a number, got 'up'"),
        (["--f0-file", "nope.txt"], "--f0-file nope.txt: no such file"),
    ]:  # checked before the checkpoint is read
        assert message in _cli_error(main, [wav, out, str(fake), *flags], capsys), flags
    assert "no such input file" in _cli_error(main, ["nope.wav", out, str(fake)], capsys)
    assert "unsupported file type" in _cli_error(
        main, [wav, str(tmp_path / "o.mp4"), str(fake)], capsys
    )


def test_resynth_curve_files_errors_name_their_flag(tmp_path, capsys):
    """A curve file's error named a flag made of its own file name ("--f0.txt: an empty f0
    file"), and numpy's "input contained no data" warning came first."""
    from conftest import DATA

    from ddsp.resynth import main

    wav = str(sorted(DATA.glob("*.ogg"))[0])
    out, curve = str(tmp_path / "out.wav"), tmp_path / "curve.txt"
    for flag, text, message in (
        ("--f0-file", "", f"--f0-file {curve}: an empty f0 file"),
        ("--f0-file", "abc\n", f"--f0-file {curve}: not a readable f0 file"),
        ("--f0-file", "120\n130\n", f"--f0-file {curve}: 2 values, but the output has"),
        ("--gain-db", "0 1 2 3\n", f"--gain-db {curve}: 4 columns; a gain file has 1 or 2"),
    ):
        curve.write_text(text)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert message in _cli_error(main, [wav, out, flag, str(curve)], capsys), text


def test_curve_times_that_cannot_be_seconds_are_warned(tmp_path):
    """Milliseconds given for seconds took the curve's first sliver for the whole output."""
    from ddsp.resynth import read_curve

    curve = tmp_path / "f0.txt"
    for text in ("0 120\n500 130\n1000 140\n", "5 120\n6 130\n", "5 6 60\n"):
        curve.write_text(text)
        with pytest.warns(UserWarning, match=r"but the output lasts 4.00 s \(times are in seconds"):
            read_curve(curve, 400, 100.0, "f0")
    curve.write_text("0 120\n4 140\n9 150\n")  # running on past the end is fine
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_curve(curve, 400, 100.0, "f0").shape == (400,)


def test_evaluate_on_a_folder_split_by_time_says_what_to_compare_on(tmp_path, capsys):
    """The test split of one recording (split by time) is evaluated; the whole-file comparison
    has no whole file to hold out and says so (it said "no files in the 'valid' split")."""
    import shutil

    from conftest import DATA

    from ddsp.evaluate import main as evaluate_main

    folder = tmp_path / "me"
    folder.mkdir()
    shutil.copy(DATA / "alibaba__kni-m-mise.ogg", folder)
    argv = ["--data-root", str(folder), "--quick", "--media-dir", str(tmp_path / "media")]
    with pytest.warns(UserWarning, match="split by time"), pytest.raises(SystemExit) as info:
        evaluate_main(argv)  # after the test split's evaluation and its progress output
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "too few files to hold whole ones out" in last and "data.root=FOLDER" in last


def test_evaluate_and_prepare_user_errors_are_one_line(tmp_path, capsys):
    from ddsp.data.prepare import main as prepare_main
    from ddsp.evaluate import main as evaluate_main

    assert "no such checkpoint" in _cli_error(evaluate_main, [str(tmp_path / "x.ckpt")], capsys)
    err = _cli_error(prepare_main, [str(tmp_path / "nowhere")], capsys)
    assert "audio folder does not exist" in err
    from ddsp.evaluate import evaluate

    with pytest.raises(ValueError, match="rtf_repeats must be at least 1, got 0"):
        evaluate(str(tmp_path / "x.ckpt"), rtf_repeats=0)  # before any work, not a NaN


def test_train_user_error_is_one_line(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    run = subprocess.run(
        [sys.executable, "train.py", "experiment=ddsp_hpn", f"data.root={tmp_path / 'none'}",
         "logger=csv", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr[-2000:]
    assert "train.py: error:" in run.stderr and "does not exist" in run.stderr
    assert "Traceback" not in run.stderr


# --- primitives where a bad value spread, or turned into finite garbage -----------------------


def test_lpc_roots_and_lsf_name_nan_instead_of_returning_garbage():
    """LAPACK's eigvals turned NaN coefficients into finite roots (and printed an MKL error)."""
    from ddsp.filters import lpc_roots, lpc_to_lsf

    a = torch.tensor([[-0.5, 0.2], [math.nan, 0.1]])
    for fn in (lpc_roots, lpc_to_lsf):
        with pytest.raises(ValueError, match=r"NaN or Inf in a \(first at flat index 2"):
            fn(a)


def test_interpolate_lpc_refuses_unstable_or_unsorted_parameters_and_bad_hops():
    from ddsp.filters import interpolate_lpc, reflection_to_lar, upsample

    k = torch.full((1, 4, 2), 0.3)
    k[0, 2, 1] = 1.5  # was stepped up into an unstable filter without a word
    for domain in ("reflection", "lar"):
        with pytest.raises(ValueError, match=r"reflection coefficients.*\(-1, 1\), got 1.5"):
            interpolate_lpc(k, 10, domain)
    with pytest.raises(ValueError, match=r"must be in \(-1, 1\), got 1.0"):
        reflection_to_lar(torch.tensor([0.2, 1.0]))  # was inf
    lsf = torch.tensor([[[0.3, 0.2, 1.0]]])
    with pytest.raises(ValueError, match="LSFs must increase"):
        interpolate_lpc(lsf, 10, "lsf")
    with pytest.raises(ValueError, match=r"LSFs.*\(0, 3.14159\), got 4.0"):
        interpolate_lpc(torch.tensor([[[0.3, 1.0, 4.0]]]), 10, "lsf")
    with pytest.raises(ValueError, match="NaN or Inf in params"):
        interpolate_lpc(torch.tensor([[[0.1, math.nan]]]), 10, "direct")
    for hop in (0, -1, 2.0):  # hop 0 returned an empty tensor
        with pytest.raises(ValueError, match="hop_length must be a positive int"):
            interpolate_lpc(torch.zeros(1, 4, 2), hop)
        with pytest.raises(ValueError, match="hop_length must be a positive int"):
            upsample(torch.zeros(1, 4, 2), hop)
    with pytest.raises(ValueError, match="params must be"):
        interpolate_lpc(torch.zeros(4, 2), 10)
    torch.testing.assert_close(  # valid input unchanged
        interpolate_lpc(torch.full((1, 2, 1), 0.5), 2, "lar")[0, :, 0],
        torch.full((4,), 0.5),
    )


def test_inverse_stft_and_griffin_lim_check_bins_and_signs():
    """A spectrum with the wrong number of bins was zero-padded by irfft (a silently wrong
    signal); negative magnitudes flipped phases silently."""
    from ddsp.spectral import ISTFT, GriffinLim, GriffinLimCQT

    with pytest.raises(ValueError, match=r"spec must be \(\.\.\., n_fft // 2 \+ 1 = 257"):
        ISTFT(512, 128)(torch.zeros(2, 200, 20, dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"magnitude must be \(\.\.\., n_fft // 2 \+ 1 = 257"):
        GriffinLim(512, 128, n_iter=1)(torch.rand(2, 200, 20))
    mag = torch.rand(2, 257, 20)
    mag[1, 3, 4] = -0.5
    with pytest.raises(ValueError, match=r"magnitude must be in \[0, inf\], got -0.5"):
        GriffinLim(512, 128, n_iter=1)(mag)
    cqt_mag = torch.rand(1, 24, 40)
    cqt_mag[0, 0, 0] = -1.0
    with pytest.raises(ValueError, match=r"magnitude must be in \[0, inf\], got -1.0"):
        GriffinLimCQT(16000, 128, n_iter=1, f_min=100.0, n_bins=24)(cqt_mag)


def test_lf_pulse_refuses_an_rd_without_one():
    from ddsp.synth import lf_waveform, rd_to_lf

    t = torch.linspace(0, 0.99, 16, dtype=torch.float64)
    for rd in (0.0, 0.2, 12.0, math.nan):  # 0 gave NaN samples, 0.2 a negative return phase
        with pytest.raises(ValueError, match=r"gives no LF pulse.*0.208 < rd < 11.07"):
            lf_waveform(torch.tensor([1.0, rd]), t)
        with pytest.raises(ValueError, match="gives no LF pulse"):
            rd_to_lf(torch.tensor(rd))
    assert torch.isfinite(lf_waveform(torch.tensor([0.21, 0.3, 2.7, 11.0]), t)).all()


def test_filter_and_oscillator_primitives_name_bad_values():
    """One NaN spread over a whole FFT convolution's output; a negative amplitude was clamped
    (minimum phase) and a negative f0 ran the oscillator backwards, silently."""
    from ddsp.filters import (
        cepstrum_to_minimum_phase_ir,
        fft_convolve,
        ltv_fir,
        magnitudes_to_impulse_response,
        magnitudes_to_minimum_phase_ir,
    )
    from ddsp.synth import filtered_noise, harmonic_oscillator

    x, h = torch.randn(2, 400), torch.randn(2, 4, 16)
    bad = x.clone()
    bad[1, 7] = math.nan
    with pytest.raises(ValueError, match=r"NaN or Inf in x \(first at flat index 407"):
        fft_convolve(bad, torch.randn(2, 9))
    with pytest.raises(ValueError, match=r"NaN or Inf in h"):
        fft_convolve(x, torch.tensor([1.0, math.inf]))
    with pytest.raises(ValueError, match=r"NaN or Inf in x"):
        ltv_fir(bad, h, 100)
    bad_h = h.clone()
    bad_h[0, 1, 3] = math.nan
    with pytest.raises(ValueError, match=r"NaN or Inf in h"):
        ltv_fir(x, bad_h, 100)
    mags = torch.rand(2, 4, 33)
    neg = mags.clone()
    neg[0, 1, 2] = -0.25
    for fn in (magnitudes_to_minimum_phase_ir, lambda m: filtered_noise(m, 100)):
        with pytest.raises(
            ValueError, match=r"magnitudes must be in \[0, 3.40282e\+38\], got -0.25"
        ):
            fn(neg)
    inf = mags.clone()
    inf[1, 0, 0] = math.inf
    for fn in (magnitudes_to_impulse_response, magnitudes_to_minimum_phase_ir):
        with pytest.raises(ValueError, match=r"magnitudes must be in .*, got inf.*finite and >= 0"):
            fn(inf)
    with pytest.raises(ValueError, match=r"NaN or Inf in cepstrum"):
        cepstrum_to_minimum_phase_ir(torch.tensor([[0.1, math.nan]]), 16)
    f0, amps = torch.full((1, 8), 100.0), torch.rand(1, 8, 4)
    with pytest.raises(ValueError, match=r"f0 must be in \[0, inf\], got -100.0"):
        harmonic_oscillator(-f0, amps, 16000, hop_length=10)
    with pytest.raises(ValueError, match=r"NaN or Inf in f0"):
        harmonic_oscillator(f0.index_fill(1, torch.tensor([3]), math.nan), amps, 16000, 10)
    with pytest.raises(ValueError, match=r"NaN or Inf in amplitudes"):
        harmonic_oscillator(f0, amps.index_fill(2, torch.tensor([1]), math.inf), 16000, 10)


def test_metrics_check_their_pair():
    """MCD on clips of two lengths failed inside its subtraction; PESQ on NaN inside the
    package ("cannot convert float NaN to integer")."""
    from ddsp.metrics import mel_cepstral_distortion
    from ddsp.metrics.pesq import pesq_wb

    x = torch.randn(1, 16000)
    with pytest.raises(ValueError, match=r"input shape \(1, 16000\) != target shape \(1, 12000\)"):
        mel_cepstral_distortion(x, x[:, :12000])
    bad = x.clone()
    bad[0, 5] = math.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        mel_cepstral_distortion(bad, x)
    pytest.importorskip("pesq")
    with pytest.raises(ValueError, match="NaN or Inf"):
        pesq_wb(bad, x, 16000)
    assert math.isnan(float(pesq_wb(x[:, :1000], x[:, :1000], 16000)[0]))  # documented: too short


@pytest.mark.parametrize("make", FRONT_ENDS)
def test_front_ends_say_when_the_power_overflows(make):
    """A finite signal whose power overflows float32 came back as inf without a word."""
    x = torch.randn(2, 4000) * 1e30
    with pytest.raises(ValueError, match=r"overflows torch.float32 for signals peaking at"):
        make()(x)
    assert torch.isfinite(make().double()(x.double())).all()


def test_preparation_settings_are_checked_up_front():
    """data.hop_length=0 reached the training run as a ZeroDivisionError."""
    from ddsp.data.datamodule import SpeechDataModule
    from ddsp.data.prepare import PrepConfig

    for kwargs, message in (
        ({"hop_length": 0}, "hop_length must be a positive int, got 0"),
        ({"sample_rate": 16000.5}, "sample_rate must be a positive int"),
        ({"f0_max": 10.0}, r"need 0 < f0_min < f0_max <= sample_rate / 2"),
        ({"f0_max": 9000.0}, r"need 0 < f0_min < f0_max <= sample_rate / 2"),
        ({"f0_method": "yin"}, "f0_method must be 'dio' or 'harvest'"),
        ({"valid_fraction": 0.6, "test_fraction": 0.5}, "with a sum below 1"),
    ):
        with pytest.raises(ValueError, match=message):
            PrepConfig(**kwargs)
    with pytest.raises(ValueError, match="segment_seconds must be > 0, got 0"):
        SpeechDataModule("data", segment_seconds=0)


def test_front_ends_refuse_a_power_of_zero_or_below():
    """``power=-1`` turned silent bins into inf and ``power=0`` made every bin 1, without a
    word; now a ValueError at construction (and in ``magnitude``). ``None`` (complex) only where
    the module can return a complex spectrum."""
    from ddsp.spectral import (
        CQT,
        Gammatonegram,
        GriffinLim,
        MelSpectrogram,
        Spectrogram,
    )
    from ddsp.spectral import functional as SF

    makers = {
        "spectrogram": lambda p: Spectrogram(512, power=p),
        "mel": lambda p: MelSpectrogram(16000, 512, power=p),
        "gammatone": lambda p: Gammatonegram(16000, 512, power=p),
        "griffinlim": lambda p: GriffinLim(512, power=p),
        "cqt": lambda p: CQT(16000, 128, f_min=100.0, n_bins=24, power=p),
        "magnitude": lambda p: SF.magnitude(torch.ones(3, 3, dtype=torch.complex64), p),
    }
    for name, make in makers.items():
        for bad in (-1.0, 0, math.nan, True, "2"):
            with pytest.raises(ValueError, match="power must be a finite number > 0"):
                make(bad)
        make(0.5)
        if name in ("spectrogram", "cqt"):
            make(None)
        else:
            with pytest.raises(ValueError, match="power must be a finite number > 0"):
                make(None)
    silent = Spectrogram(512, power=0.5)(torch.zeros(1, 2048))
    assert torch.isfinite(silent).all()


def test_modules_refuse_a_bad_padding_or_window_when_built():
    """The modules checked their padding mode and (for the inverses) window name at the first
    call only; a bad one is refused at construction now, with the same message."""
    from ddsp.losses import MultiResolutionSTFTLoss
    from ddsp.spectral import CQT, ISTFT, GriffinLim, GriffinLimCQT, MelSpectrogram, Spectrogram

    pad = "pad_mode must be 'constant', 'reflect', 'replicate' or 'circular', got 'nope'"
    for make in (
        lambda: Spectrogram(512, pad_mode="nope"),
        lambda: MelSpectrogram(16000, 512, pad_mode="nope"),
        lambda: GriffinLim(512, pad_mode="nope"),
        lambda: CQT(16000, 128, f_min=100.0, n_bins=24, pad_mode="nope"),
        lambda: GriffinLimCQT(16000, 128, f_min=100.0, pad_mode="nope"),
        lambda: MultiResolutionSTFTLoss(pad_mode="nope"),
    ):
        with pytest.raises(ValueError, match=pad):
            make()
    for make in (lambda: ISTFT(512, window="nope"), lambda: GriffinLim(512, window="nope")):
        with pytest.raises(ValueError, match="unknown window 'nope'"):
            make()
    with pytest.raises(ValueError, match="hop_length must be a positive int, got 0"):
        GriffinLim(512, hop_length=0)
    assert Spectrogram(512, pad_mode="edge")(torch.randn(1, 2048)).isfinite().all()  # numpy's


def test_synthesisers_refuse_bad_settings_when_built():
    """``GlottalFlowLPC(table_size=0)`` crashed the render kernel (segmentation fault), and
    ``n_tables=1``, ``hop_length=0``, ``lpc_order=0``, ``n_noise_bands=1``, a negative sample
    rate ... were accepted and failed inside torch at the first call, or rendered; every
    synthesiser now refuses them when built, and renders finite audio at its smallest
    settings."""
    from ddsp import synth as Y

    base = dict(sample_rate=16000, hop_length=160)
    smallest = {
        Y.GlottalFlowLPC: dict(lpc_order=2, n_noise_bands=2, n_tables=2, table_size=1),
        Y.HarmonicPlusNoise: dict(n_harmonics=1, n_noise_bands=2, reverb=True, reverb_length=1),
        Y.PulseTrainLPC: dict(harmonic_order=2, noise_order=2, n_harmonics=1),
        Y.SawtoothFIR: dict(n_magnitudes=2, n_noise_bands=2, n_harmonics=1),
        Y.NeuralHomomorphic: dict(n_cepstrum=1, n_fft=2, n_noise_bands=2, room_length=1),
        Y.DifferentiableWORLD: dict(n_mels=1, n_fft=2, n_noise_bands=2, room_length=1),
    }
    bad = dict(
        sample_rate=-16000.0, hop_length=0, table_size=0, n_tables=1, lpc_order=0,
        n_noise_bands=1, oversample=0, max_radius=1.0, room_length=-1, n_harmonics=0,
        harmonic_order=0, n_magnitudes=1, n_fft=1, n_mels=0,
    )  # fmt: skip
    for cls, small in smallest.items():
        m = cls(**base, **small)
        f0 = torch.full((1, 20), 150.0)
        controls = {k: torch.randn(1, 20, n) for k, n in m.control_sizes.items()}
        with torch.no_grad():
            assert torch.isfinite(m(f0, controls)).all(), cls.__name__
        params = inspect.signature(cls.__init__).parameters
        for name, value in bad.items():
            if name in params:
                with pytest.raises(ValueError, match=rf"{name} must be .*got {value!r}"):
                    cls(**{**base, name: value})
    with pytest.raises(ValueError, match="length must be an int >= 1, got 0"):
        Y.LearnableReverb(0)


def test_oscillator_and_filters_refuse_empty_sizes():
    """Tables of no samples crashed the C++ oscillator (segmentation fault); one table, a hop or
    oversampling of 0, a position track of another shape, order-0 all-pole coefficients and
    sections failed inside torch; an FIR of no taps returned a signal one sample short; a
    one-band noise response said "window_size must be in (0, 0]". Each now names its input."""
    from ddsp.filters import allpole, allpole_sos, ltv_fir
    from ddsp.synth import filtered_noise, glottal_oscillator

    f0, pos = torch.full((1, 10), 150.0), torch.zeros(1, 10)
    tables = torch.randn(4, 64)
    cases = [
        (lambda: glottal_oscillator(f0, pos, torch.zeros(2, 0), 16000, 160), "tables must be"),
        (lambda: glottal_oscillator(f0, pos, torch.zeros(1, 64), 16000, 160), "n_tables >= 2"),
        (lambda: glottal_oscillator(f0, pos, tables, 16000, 0), "hop_length must be a positive"),
        (lambda: glottal_oscillator(f0, pos, tables, 16000, 160, 0), "oversample must be an int"),
        (lambda: glottal_oscillator(f0, pos[:, :7], tables, 16000, 160), "of one shape"),
        (lambda: glottal_oscillator(f0, pos * math.nan, tables, 16000, 160), "NaN or Inf in pos"),
        (lambda: allpole(torch.randn(1, 100), torch.zeros(1, 100, 0)), "order >= 1"),
        (lambda: allpole_sos(torch.randn(1, 100), torch.zeros(1, 100, 0, 2)), "one section"),
        (lambda: ltv_fir(torch.randn(1, 100), torch.zeros(1, 10, 0), 10), "at least one tap"),
        (lambda: filtered_noise(torch.ones(1, 10, 1), 160), "n_bins >= 2 frequencies"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    # outside [0, 1] the position is clamped, as documented
    edge = glottal_oscillator(f0, pos + 1.0, tables, 16000, 160)
    assert torch.equal(glottal_oscillator(f0, pos + 3.0, tables, 16000, 160), edge)


def test_tiny_frames_and_one_frame_spectra_behave_as_librosa():
    """n_fft=2 failed inside the C++ power kernel (its frequency-domain window needs more than
    twice as many bins as taps); a window under 4 samples got a default hop of 0 and an error
    about a hop_length never passed; the inverse STFT and Griffin-Lim of one centred frame
    failed in a max() over nothing, where librosa returns no samples."""
    import librosa

    from ddsp.spectral import ISTFT, STFT, GriffinLim, Spectrogram

    x = torch.randn(2, 300, dtype=torch.float64)
    for n_fft in (2, 4, 8, 12):
        ours = Spectrogram(n_fft, hop_length=1, window="blackman", power=2.0)(x.float())
        ref = librosa.stft(
            x.numpy(), n_fft=n_fft, hop_length=1, window="blackman", pad_mode="constant"
        )
        ref = np.abs(ref) ** 2
        assert np.abs(ours.numpy() - ref).max() <= 1e-5 * ref.max(), n_fft
    with pytest.raises(ValueError, match=r"hop_length defaults to win_length // 4, which is 0"):
        Spectrogram(64, win_length=2)
    one = STFT(64)(torch.randn(2, 1))  # one centred frame
    assert (
        ISTFT(64)(one).shape == (2, 0) == librosa.istft(one.numpy(), n_fft=64, hop_length=16).shape
    )
    assert torch.allclose(
        ISTFT(64)(one, length=5),
        torch.from_numpy(librosa.istft(one.numpy(), n_fft=64, hop_length=16, length=5)),
        atol=1e-6,
    )
    assert GriffinLim(64, n_iter=2)(one.abs()).shape == (2, 0)


def test_encoder_and_model_refuse_bad_sizes_when_built():
    """``conv_layers=0`` or an odd ``hidden`` were accepted and failed at the first training
    step inside the GRU or a head ("input.size(-1) must be equal to input_size"), ``hidden=0``
    said "input_size must be greater than zero" and ``n_audio_examples=-1`` was taken; each is
    now refused by name when built."""
    from ddsp.models import ControlEncoder

    sizes = {"source": 2, "noise": 8}
    for name, value, message in (
        ("conv_layers", 0, "conv_layers must be an int >= 1, got 0"),
        ("gru_layers", 0, "gru_layers must be an int >= 1, got 0"),
        ("hidden", 0, "hidden must be an int >= 2, got 0"),
        ("hidden", 1.5, "hidden must be an int >= 2, got 1.5"),
        ("hidden", 3, "hidden must be even"),
    ):
        with pytest.raises(ValueError, match=message):
            ControlEncoder(16000, 160, sizes, **{name: value})
    encoder = ControlEncoder(16000, 160, sizes, hidden=4, conv_layers=1)  # the smallest
    out = encoder(torch.randn(1, 1600), torch.full((1, 10), 150.0), torch.ones(1, 10),
                  torch.zeros(1, 10))  # fmt: skip
    assert {k: v.shape[-1] for k, v in out.items()} == sizes
    assert all(torch.isfinite(v).all() for v in out.values())
    from hydra.utils import instantiate

    from ddsp.training import compose_config

    cfg = compose_config("experiment=lpc_vocoder", "model.n_audio_examples=-1")
    with pytest.raises(Exception, match="n_audio_examples must be an int >= 0, got -1"):
        instantiate(cfg.model, loss=instantiate(cfg.loss), metric=instantiate(cfg.metric))


def test_metrics_name_bad_settings():
    """Found failing deep inside, or returning NaN / finite nonsense:
    - ``f0_track(f0_min > f0_max)``: WORLD's ``std::bad_array_new_length``;
    - ``mel_cepstrum(order=-1)``: an IndexError; ``alpha=nan``: NaN cepstra; ``alpha=1``: taken;
    - ``loudness_error(sample_rate=0)``: a finite number;
    - ``smoothed_f0(frames=2)``: an average half a frame off centre;
    - ``formant_tracks(frame_ms=0)``: NaN;
    - ``real_time_factor(seconds_of_audio=0)``: ZeroDivisionError.
    Each now names its argument."""
    from ddsp import metrics as M

    x = torch.randn(2, 4000) * 0.1
    voice = 0.3 * torch.sin(2 * math.pi * 150 * torch.arange(4000) / 16000)
    cases = [
        (lambda: M.f0_track(voice, 16000, 160, f0_min=500.0, f0_max=100.0), "0 < f0_min < f0_max"),
        (lambda: M.f0_track(voice, 16000, 0), "hop_length must be a positive int, got 0"),
        (lambda: M.mel_cepstrum(x, order=-1), "order must be an int >= 0, got -1"),
        (lambda: M.mel_cepstrum(x, alpha=math.nan), r"alpha must be in \(-1, 1\), got nan"),
        (lambda: M.mel_cepstrum(x, alpha=1.0), r"alpha must be in \(-1, 1\), got 1.0"),
        (lambda: M.loudness_error(x, x, 0, 160), "sample_rate must be a positive number"),
        (lambda: M.smoothed_f0(torch.full((1, 10), 100.0), frames=2), "odd int >= 1"),
        (lambda: M.formant_tracks(voice, 16000, 160, n_poles=0), "n_poles must be a positive"),
        (lambda: M.formant_tracks(voice, 16000, 160, frame_ms=0.0), "fewer than an order-10"),
        (lambda: M.h1_h2(voice, torch.full((26,), 150.0), 16000, 160, oversample=0), "oversample"),
        (lambda: M.real_time_factor(lambda: None, 0.0), "seconds_of_audio must be a positive"),
        (lambda: M.real_time_factor(lambda: None, 1.0, repeats=0), "repeats must be a positive"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()

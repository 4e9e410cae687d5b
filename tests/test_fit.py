"""Fitting a synthesiser's controls to one recording (ddsp.synth.fit.fit_controls)."""

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import DATA

from ddsp.losses import golf_mss
from ddsp.models.checkpoint import load_vocoder
from ddsp.resynth import encode_file, fit_file, main, tract_response_db
from ddsp.synth.edit import VoiceControls, render
from ddsp.synth.fit import fit_controls

FRAMES = 60  # 0.6 s of a shipped recording


@pytest.fixture(scope="module")
def setup():
    model, cfg = load_vocoder()
    batch, voice = encode_file(model, cfg, sorted(DATA.glob("*.ogg"))[5])
    cut = VoiceControls(
        voice.f0[:, :FRAMES],
        {k: v[:, :FRAMES] for k, v in voice.controls.items()},
        voice.voiced[:, :FRAMES],
        voice.gain[:, :FRAMES],
    )
    return model, batch, voice, cut


def _mss(synth, voice: VoiceControls, target: torch.Tensor) -> float:
    with torch.no_grad():
        y = render(synth, voice, torch.Generator().manual_seed(0))
    return float(golf_mss()(y[:, None], target[:, None]))


def test_fit_recovers_a_perturbed_vocal_tract(setup):
    """The target is rendered from known controls; the fit starts from their vocal tract
    perturbed and fits it alone. The gap to the floor (the true controls with another noise
    signal: MSS 3.4) closes by more than 75 % (11.2 -> 4.5 when written), the response comes
    closer to the true one, and nothing else moves."""
    model, _, _, true = setup
    synth = model.synth
    target = render(synth, true, torch.Generator().manual_seed(1)).detach()
    vt = true.controls["vocal_tract"]
    noise = 0.5 * torch.randn(vt.shape, generator=torch.Generator().manual_seed(2))
    start = VoiceControls(
        true.f0, {**true.controls, "vocal_tract": vt + noise}, true.voiced, true.gain
    )
    weights = {k: v.clone() for k, v in synth.state_dict().items()}
    fitted = fit_controls(
        synth,
        start,
        target,
        steps=100,
        lr=0.03,
        controls=["vocal_tract"],
        generator=torch.Generator().manual_seed(3),
    )
    floor, before, after = (_mss(synth, v, target) for v in (true, start, fitted))
    assert after - floor < 0.25 * (before - floor), (floor, before, after)

    def response_error(v: VoiceControls) -> float:
        a = tract_response_db(synth, v.controls["vocal_tract"][0], "vocal_tract")[1]
        b = tract_response_db(synth, true.controls["vocal_tract"][0], "vocal_tract")[1]
        return float((a - b)[true.voiced[0] > 0.5].abs().mean())

    assert response_error(fitted) < 0.8 * response_error(start)
    for name in ("source", "noise"):
        assert torch.equal(fitted.controls[name], start.controls[name])
    assert fitted.f0 is start.f0 and fitted.voiced is start.voiced and fitted.gain is start.gain
    assert not any(v.requires_grad for v in fitted.controls.values())
    for k, v in synth.state_dict().items():  # the synthesiser's weights are not trained
        assert torch.equal(v, weights[k]), k
    assert all(p.requires_grad for p in synth.parameters())  # and are left trainable


def test_fit_file_lowers_the_models_loss_on_a_recording(setup):
    model, batch, _, voice = setup
    x = batch["audio"][:, : FRAMES * model.synth.hop_length]
    short = {**batch, "audio": x}
    before = _mss(model.synth, voice, x)
    after = _mss(model.synth, fit_file(model, short, voice, 30), x)
    assert after < before - 0.1, (before, after)
    assert fit_file(model, short, voice, 0) is voice  # 0 steps: unchanged


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(steps=-1), r"steps must be an int >= 0, got -1"),
        (dict(steps=2.5), r"steps must be an int >= 0, got 2.5"),
        (dict(steps=True), r"steps must be an int >= 0, got True"),
        (dict(lr=0.0), r"lr must be a finite number > 0, got 0.0"),
        (dict(lr=float("nan")), r"lr must be a finite number > 0, got nan"),
        (dict(controls=["glottis"]), r"controls=\['glottis'\]: each must be one of"),
        (dict(controls=[]), r"controls=\[\]: each must be one of"),
    ],
)
def test_fit_names_bad_settings(setup, kwargs, message):
    model, _, _, voice = setup
    target = torch.zeros(1, FRAMES * model.synth.hop_length)
    with pytest.raises(ValueError, match=message):
        fit_controls(model.synth, voice, target, **kwargs)


def test_fit_names_a_bad_target(setup):
    model, _, _, voice = setup
    hop = model.synth.hop_length
    with pytest.raises(ValueError, match=r"target must be the recording as .* = \(1, 9600\)"):
        fit_controls(model.synth, voice, torch.zeros(1, FRAMES * hop - 1))
    nan = torch.zeros(1, FRAMES * hop)
    nan[0, 7] = float("nan")
    with pytest.raises(ValueError, match="target"):
        fit_controls(model.synth, voice, nan)


@pytest.mark.filterwarnings("ignore:.*(too short|too large|no voiced frame).*:UserWarning")
def test_resynth_fit_flag(tmp_path, capsys):
    wav = sorted(DATA.glob("*.ogg"))[5]
    with pytest.raises(SystemExit):
        main([str(wav), str(tmp_path / "out.wav"), "--fit", "-3"])
    assert "--fit must be >= 0 steps, got -3" in capsys.readouterr().err
    main([str(wav), str(tmp_path / "out.wav"), "--fit", "2", "--fit-controls", "source,noise"])
    assert (tmp_path / "out.wav").is_file()
    for flags, message in (
        (["--fit-controls", "noise"], "--fit-controls needs --fit STEPS"),
        (["--fit", "2", "--fit-controls", "glottis"], "--fit: controls=['glottis']: each must"),
    ):
        with pytest.raises(SystemExit):
            main([str(wav), str(tmp_path / "o.wav"), *flags])
        assert message in capsys.readouterr().err
    short = tmp_path / "short.wav"  # 50 ms: renders, but GOLF's MSS has frames of 2053 samples
    sf.write(short, 0.1 * np.random.default_rng(0).standard_normal(800), 16000)
    main([str(short), str(tmp_path / "o.wav")])
    with pytest.raises(SystemExit):
        main([str(short), str(tmp_path / "o.wav"), "--fit", "2"])
    err = capsys.readouterr().err
    assert "--fit: the loss cannot score a target of 800 samples" in err
    assert "fit a longer recording" in err


def test_evaluate_fit_flag_adds_the_fitted_system(tmp_path, monkeypatch):
    import shutil

    import ddsp.compare
    from ddsp.evaluate import main as evaluate

    monkeypatch.setattr(ddsp.compare, "FIT_STEPS", 3)
    shutil.copy(sorted(DATA.glob("*.ogg"))[5], tmp_path)
    results = evaluate([f"data.root={tmp_path}", "--fit"])
    assert list(results["comparison"]) == ["ours", "ours, fitted", "WORLD", "classical LPC"]
    assert list(evaluate([f"data.root={tmp_path}"])["comparison"]) == [
        "ours",
        "WORLD",
        "classical LPC",
    ]


def test_fit_in_float64_as_in_float32(setup):
    """The fit follows the synthesiser's gradients, which are gradchecked in float64 and checked
    float32 against float64 where they are made (tests/test_training_kernels.py). Here: a
    float64 fit stays float64 and lowers the MSS as the float32 fit does (their noise signals
    differ, so their paths do; within 5 %: 5.79 and 5.71 from 6.83 when written)."""
    import copy

    model, batch, _, voice = setup
    x = batch["audio"][:, : FRAMES * model.synth.hop_length]
    before = _mss(model.synth, voice, x)
    after = {}
    for dtype in (torch.float32, torch.float64):
        synth = copy.deepcopy(model.synth).to(dtype)
        gen = torch.Generator().manual_seed(3)
        fitted = fit_controls(synth, voice.to(dtype), x.to(dtype), steps=30, generator=gen)
        assert all(c.dtype == dtype for c in fitted.controls.values())
        after[dtype] = _mss(synth, fitted, x.to(dtype))
    assert max(after.values()) < before - 0.3, (before, after)
    assert abs(after[torch.float64] / after[torch.float32] - 1) < 0.05, after

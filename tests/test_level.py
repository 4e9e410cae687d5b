"""Level-equivariant vocoders (``level="frame"``): the output follows the input's level on any
recording by construction, and digital silence renders as (near) silence."""

from __future__ import annotations

import pytest
import soundfile as sf
import torch
from conftest import DATA
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from ddsp.data.prepare import PrepConfig, analyse_file
from ddsp.spectral import frame_rms
from ddsp.training import ROOT


def _model(experiment: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={experiment}"])
    torch.manual_seed(0)
    model = instantiate(cfg.model, loss=instantiate(cfg.loss), metric=instantiate(cfg.metric))
    return model.eval(), cfg


def _batch(path, cfg, gain: float = 1.0) -> dict[str, torch.Tensor]:
    d = cfg.data
    item = analyse_file(path, PrepConfig(d.sample_rate, d.hop_length))
    frames = min(len(item["audio"]) // d.hop_length, 150)
    audio = gain * item["audio"][: frames * d.hop_length]
    loud = item["loudness"][:frames] + 20 * torch.log10(torch.tensor(gain))
    return {
        "audio": audio[None],
        "f0": item["f0"][:frames][None],
        "voiced": item["voiced"][:frames][None],
        "loudness": loud[None],
    }


@pytest.mark.parametrize("experiment", ["lpc_vocoder", "ddsp_hpn"])
def test_output_scales_with_the_input(experiment):
    model, cfg = _model(experiment)
    assert model.level == "frame"
    path = sorted(DATA.glob("*.ogg"))[3]
    with torch.no_grad():
        ref = model(_batch(path, cfg), generator=torch.Generator().manual_seed(0))
        for gain in (0.05, 4.0):  # -26 dB and +12 dB
            batch = _batch(path, cfg, gain)
            out = model(batch, generator=torch.Generator().manual_seed(0))
            peak = (gain * ref).abs().max()
            torch.testing.assert_close(out, gain * ref, rtol=1e-4, atol=1e-5 * peak)


def test_frame_rms_scales_and_floors():
    x = torch.randn(2, 16000)
    r = frame_rms(x, 160, 101)
    assert r.shape == (2, 101)
    x[:, 4000:8000] = 0.0  # digital silence: floored 80 dB below the loudest frame
    r = frame_rms(x, 160, 101)
    torch.testing.assert_close(frame_rms(3e-3 * x, 160, 101), 3e-3 * r)
    torch.testing.assert_close(r[:, 40].min(), r.amax() * 1e-4)
    assert torch.all(frame_rms(torch.zeros(1, 1600), 160, 11) == 1e-10)


def test_digital_silence_renders_near_silent(tmp_path):
    model, cfg = _model("lpc_vocoder")
    path = sorted(DATA.glob("*.ogg"))[3]
    x, sr = sf.read(str(path))
    x[8000:16000] = 0.0  # half a second of digital silence at 22.05 kHz
    sf.write(tmp_path / "gap.wav", x, sr)
    batch = _batch(tmp_path / "gap.wav", cfg)
    with torch.no_grad():
        out = model(batch, generator=torch.Generator().manual_seed(0))[0]
    # the silent stretch at 16 kHz, away from its edges (the level window is 40 ms)
    start, end = int(8000 * 16000 / sr) + 800, int(16000 * 16000 / sr) - 800
    rms = out[start:end].square().mean().sqrt()
    assert 20 * torch.log10(rms) < -80.0  # input: digital silence; untrained model's output

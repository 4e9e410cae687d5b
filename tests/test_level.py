"""Level-equivariant vocoders (``level="frame"``): the output follows the input's level on any
recording by construction, and digital silence renders as (near) silence."""

from __future__ import annotations

import pytest
import soundfile as sf
import torch
from conftest import DATA
from hydra.utils import instantiate

from ddsp.data.prepare import PrepConfig, analyse_file
from ddsp.losses import FrameLevelLoss
from ddsp.spectral import butterworth_highpass, frame_rms
from ddsp.training import compose_config


def _model(experiment: str):
    cfg = compose_config(f"experiment={experiment}")
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


@pytest.mark.parametrize("order", [2, 4])
@pytest.mark.parametrize("cutoff_hz", [60.0, 500.0])
def test_butterworth_highpass_matches_scipys_butterworth_magnitude(order, cutoff_hz):
    from scipy import signal

    sr, n = 16000, 32000
    impulse = torch.zeros(1, n, dtype=torch.float64)
    impulse[0, n // 2] = 1.0  # the response decays within a few periods of the cutoff
    h = butterworth_highpass(impulse, cutoff_hz / sr, order)[0]
    torch.testing.assert_close(h.flip(0)[: n - 1], h[1:], atol=1e-12, rtol=0)  # zero phase
    ours = torch.fft.rfft(h).abs().numpy()
    freqs = torch.fft.rfftfreq(n, 1 / sr).numpy()
    sos = signal.butter(order, cutoff_hz, "highpass", fs=sr, output="sos")
    ref = abs(signal.sosfreqz(sos, worN=freqs[1:], fs=sr)[1])  # scipy's analogue-matched design
    band = freqs[1:] < sr / 4  # the bilinear transform warps scipy's response near Nyquist
    assert abs(ours[1:][band] - ref[band]).max() < 2e-3
    assert ours[0] < 1e-12  # DC removed exactly


def test_butterworth_highpass_float32_gradcheck_and_bad_cutoff():
    x = torch.randn(2, 3000, dtype=torch.float64)
    y64 = butterworth_highpass(x, 0.01)
    y32 = butterworth_highpass(x.float(), 0.01)
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32.double(), y64, atol=1e-5 * y64.abs().max(), rtol=0)
    v = torch.randn(1, 200, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: butterworth_highpass(t, 0.05), (v,))
    for bad in (0.0, -0.1, 0.5, float("nan")):
        with pytest.raises(ValueError, match="cutoff"):
            butterworth_highpass(x, bad)


def test_level_track_ignores_rumble_below_the_voice():
    """Real speech plus 30 Hz rumble 10 dB above it: the high-passed level track of the voiced
    frames stays within 1 dB of the clean recording's; the full-band one does not."""
    path = sorted(DATA.glob("*.ogg"))[3]
    item = analyse_file(path, PrepConfig(16000, 160))
    x = item["audio"][None]
    frames = x.shape[-1] // 160
    t = torch.arange(x.shape[-1]) / 16000
    rumble = 10 ** (10 / 20) * x.square().mean().sqrt() * 2**0.5 * torch.sin(2 * torch.pi * 30 * t)
    voiced = item["voiced"][:frames] > 0.5

    def db(track):
        return 20 * torch.log10(track[0, voiced])

    hp = 60 / 16000
    clean = db(frame_rms(x, 160, frames, highpass=hp))
    noisy = db(frame_rms(x + rumble, 160, frames, highpass=hp))
    full = db(frame_rms(x + rumble, 160, frames))
    assert (noisy - clean).abs().median() < 1.0
    assert (full - clean).median() > 5.0


def test_level_highpass_is_validated_and_shared_by_the_level_loss():
    model, _ = _model("lpc_vocoder")
    assert model.level_highpass_hz == 60.0  # the configs use the data's f0_min
    parts = (model.synth, lambda **k: model.encoder, model.loss, None)
    with pytest.raises(ValueError, match="level_highpass_hz"):
        type(model)(*parts, level="frame", level_highpass_hz=9000.0)  # above Nyquist at 16 kHz
    with pytest.raises(ValueError, match="sample_rate"):
        FrameLevelLoss(highpass_hz=60.0)
    with pytest.raises(ValueError, match="Nyquist"):  # it failed at the first call
        FrameLevelLoss(highpass_hz=9000.0, sample_rate=16000)
    torch.manual_seed(0)
    voice = torch.randn(2, 16000) * 0.1
    t = torch.arange(16000) / 16000
    target = voice + torch.sin(2 * torch.pi * 20 * t)  # 17 dB above the voice, 38 dB cut
    plain, hp = FrameLevelLoss(), FrameLevelLoss(highpass_hz=60.0, sample_rate=16000)
    assert plain(voice, target) > 10.0  # full band: asks for the rumble's energy
    assert hp(voice, target) < 0.1

"""The pretrained model shipped in pretrained/ loads by default and resynthesises shipped speech
at the input's level."""

import pytest
import soundfile as sf
import torch
from conftest import DATA

from ddsp.models.checkpoint import PRETRAINED, load_vocoder
from ddsp.resynth import main, resynthesize


def test_pretrained_model_resynthesises_a_shipped_file(tmp_path):
    assert PRETRAINED.is_file()
    model, cfg = load_vocoder()  # no ckpt: the shipped one
    assert model.level == "frame"
    wav = sorted(DATA.glob("*.ogg"))[5]
    result = resynthesize(model, cfg, wav)
    x, y = result["audio"], result["output"]
    assert torch.isfinite(y).all() and y.shape == x.shape
    level = 20 * torch.log10(y.square().mean().sqrt() / x.square().mean().sqrt())
    assert abs(float(level)) < 1.5, float(level)  # level-true by construction
    out = tmp_path / "out.wav"
    main([str(wav), str(out)])  # the command line without ckpt= uses it too
    assert sf.info(str(out)).samplerate == cfg.data.sample_rate


def test_strip_checkpoint_points_the_test_split_at_shipped_data(tmp_path):
    """A shipped checkpoint trained elsewhere evaluates on the checkout's data by default and
    keeps where it was trained."""
    import torch

    from ddsp.models.checkpoint import strip_checkpoint

    out = strip_checkpoint(PRETRAINED, tmp_path / "m.ckpt", data_root="data/fillets_cs", note=1)
    saved = torch.load(out, weights_only=False)
    assert set(saved) == {"state_dict", "ddsp_config", "trained_on_root", "note"}
    assert "optimizer_states" not in saved
    _, cfg = load_vocoder(out)
    assert cfg.data.root == str(PRETRAINED.parents[1] / "data" / "fillets_cs")


def test_comparison_rows_per_file_and_their_summary():
    """``compare_files`` gives one row per file with every system's metrics; ``summarise``
    averages them (NaN-skipping) and ``compare`` is the two together."""
    import math

    from ddsp.compare import METRICS, SYSTEMS, compare, compare_files, summarise

    model, cfg = load_vocoder()
    files = sorted(DATA.glob("*.ogg"))[:2]
    rows = compare_files(model, cfg, files, progress=False)
    assert [r["file"] for r in rows] == [str(f) for f in files]
    summary = summarise(rows)
    for system in SYSTEMS:
        for key, _, _ in METRICS[:-1]:  # the RTF is total time over total duration
            values = [r[system][key] for r in rows if not math.isnan(r[system][key])]
            if values:
                assert math.isclose(summary[system][key], sum(values) / len(values))
        assert summary[system]["files"] == 2
        total = sum(r[system]["rtf_seconds"] for r in rows) / sum(r["seconds"] for r in rows)
        assert math.isclose(summary[system]["rtf"], total)
    again = compare(model, cfg, files, progress=False)  # same noise seed: same outputs
    assert math.isclose(again["ours"]["mss"], summary["ours"]["mss"], rel_tol=1e-6)
    with pytest.raises(ValueError, match="no file long enough"):
        summarise([])
    ours = compare_files(model, cfg, files[:1], progress=False, systems=("ours",))
    assert set(ours[0]) == {"file", "seconds", "ours"}
    assert {k: v for k, v in ours[0]["ours"].items() if k != "rtf_seconds"} == {
        k: v for k, v in rows[0]["ours"].items() if k != "rtf_seconds"
    }
    assert list(summarise(ours)) == ["ours"]
    with pytest.raises(ValueError, match=r"systems=\['wavenet'\]: each must be one of"):
        compare_files(model, cfg, files, progress=False, systems=("wavenet",))
    with pytest.raises(ValueError, match=r"systems='ours': each must be one of"):
        compare_files(model, cfg, files, progress=False, systems="ours")


def test_comparison_of_fitted_controls(monkeypatch):
    """The optional system fits the controls to each file first: with a few steps it is closer
    to the input than the encoder's controls alone, and summarise keeps the table's order."""
    import ddsp.compare
    from ddsp.compare import ALL_SYSTEMS, compare_files, summarise

    monkeypatch.setattr(ddsp.compare, "FIT_STEPS", 20)
    model, cfg = load_vocoder()
    files = sorted(DATA.glob("*.ogg"))[5:6]
    rows = compare_files(model, cfg, files, progress=False, systems=("ours, fitted", "ours"))
    assert list(summarise(rows)) == ["ours", "ours, fitted"] == list(ALL_SYSTEMS[:2])
    assert rows[0]["ours, fitted"]["mss"] < rows[0]["ours"]["mss"] - 0.05


def test_unvoiced_loudness_error_sees_the_noise_a_vocoder_drops():
    """The comparison's unvoiced column: 0 for the input itself, the gain in dB when the
    consonant's noise is scaled, NaN for a file without unvoiced frames above the silences."""
    import math

    from ddsp.compare import _unvoiced_loudness_error

    sr, hop = 16000, 160
    t = torch.arange(sr) / sr
    x = 0.3 * torch.sin(2 * math.pi * 150 * t)
    x[8000:] = 0.05 * (torch.rand(8000, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    voiced = torch.zeros(sr // hop + 1)
    voiced[:56] = 1.0  # the noise's first frame whose 1024-sample window holds no sine
    assert _unvoiced_loudness_error(x, x, voiced, sr, hop) == 0.0
    quieter = torch.cat([x[:8000], 0.5 * x[8000:]])
    six = 20 * math.log10(2)  # float32 loudness: 1e-5 relative
    assert math.isclose(_unvoiced_loudness_error(quieter, x, voiced, sr, hop), six, rel_tol=1e-5)
    dropped = torch.cat([x[:8000], torch.zeros(8000)])
    assert _unvoiced_loudness_error(dropped, x, voiced, sr, hop) > 40.0
    assert math.isnan(_unvoiced_loudness_error(x, x, torch.ones_like(voiced), sr, hop))

"""experiments/finetune_voice.py: one speaker's data folder, and its --quick run end to end
(the pretrained model fine-tuned for 20 steps on a minute of a voice it never heard)."""

from __future__ import annotations

import csv
import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "experiments"))

import finetune_voice  # noqa: E402


def test_speaker_folder_holds_one_voice_and_its_first_minutes(tmp_path):
    folder, seconds, test = finetune_voice.speaker_folder("male", 1.0, tmp_path / "d")
    with open(finetune_voice.SHIPPED / "splits.csv", newline="") as f:
        shipped = {r["file"]: r for r in csv.DictReader(f)}
    with open(folder / "splits.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {shipped[r["file"]]["speaker"] for r in rows} == {"male"}
    assert all(r["split"] == shipped[r["file"]]["split"] for r in rows)
    train = [float(shipped[r["file"]]["duration_s"]) for r in rows if r["split"] == "train"]
    assert 60 <= seconds == sum(train) < 60 + max(train)  # a minute, by whole files
    for split in ("valid", "test"):  # whole
        want = {f for f, r in shipped.items() if r["speaker"] == "male" and r["split"] == split}
        assert {r["file"] for r in rows if r["split"] == split} == want
    assert sorted(p.name for p in test) == sorted(r["file"] for r in rows if r["split"] == "test")
    assert all((folder / r["file"]).is_file() for r in rows)


def test_quick_run_improves_on_the_pretrained_model(tmp_path, monkeypatch):
    monkeypatch.setenv("DDSP_RESULTS_DIR", str(tmp_path))
    finetune_voice.main(["--quick"])
    results = json.loads((tmp_path / "finetune_voice.json").read_text())
    curve = results["female, 1 min"]["val_curve"]
    assert curve[0][0] == 0 and min(m for _, m in curve[1:]) < curve[0][1] - 0.05, curve
    assert (tmp_path / "finetune_voice.png").is_file()
    assert set(results) == {
        "female, 1 min",
        "female: pretrained, as it is",
        "female: WORLD",
        "female: classical LPC",
    }

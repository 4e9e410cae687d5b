"""The multi-speaker data recipe (``python -m ddsp.data.voices``) on small packages built here
in the Debian format: languages map to speakers and splits, low-rate files are left out,
provenance is written, and the reserved packages are refused."""

from __future__ import annotations

import csv
import io
import lzma
import tarfile

import numpy as np
import pytest
import soundfile as sf

from ddsp.data.voices import KTUBERLING_LANGUAGES, LANGUAGES, RESERVED, build, main, read_deb

STAMPS = "./usr/share/tuxpaint/stamps/"


def _ogg(seconds: float, rate: int, f0: float) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * f0 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
    buf = io.BytesIO()
    sf.write(buf, np.stack([x, x], 1), rate, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def _wav(seconds: float, rate: int, f0: float) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    sf.write(buf, 0.3 * np.sin(2 * np.pi * f0 * t), rate, format="WAV")
    return buf.getvalue()


def _deb(path, files: dict[str, bytes]) -> None:
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    members = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", lzma.compress(b"")),
        ("data.tar.xz", lzma.compress(tar.getvalue())),
    ]
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
        out += header.encode() + data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(bytes(out))


@pytest.fixture
def deb(tmp_path):
    path = tmp_path / "tuxpaint-stamps-default_2022.06.04-1_all.deb"
    _deb(
        path,
        {
            STAMPS + "animals/cat_desc_fr.ogg": _ogg(1.2, 44100, 130.0),
            STAMPS + "animals/cat_desc.ogg": _ogg(1.0, 44100, 170.0),
            STAMPS + "food/apple_desc_el.ogg": _ogg(0.8, 22050, 210.0),
            STAMPS + "town/inukshuk_desc_da.ogg.ogg": _ogg(0.9, 44100, 110.0),
            STAMPS + "animals/cat_desc_ca.ogg": _ogg(1.0, 8000, 140.0),  # too low a rate
            STAMPS + "animals/cat_desc_xx.ogg": _ogg(1.0, 44100, 140.0),  # not in the recipe
            STAMPS + "animals/cat.ogg": _ogg(1.0, 44100, 140.0),  # a sound effect, not speech
        },
    )
    return path


def test_builds_splits_by_speaker(deb, tmp_path):
    out = tmp_path / "voices"
    summary = build(out, deb)
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert {r["file"] for r in rows} == {
        "fr/animals__cat_desc_fr.flac",
        "en/animals__cat_desc.flac",
        "el/food__apple_desc_el.flac",
        "da/town__inukshuk_desc_da.flac",
    }
    for r in rows:
        voice = LANGUAGES[r["file"].split("/")[0]]
        assert (r["language"], r["speaker"], r["split"]) == (
            voice.language,
            voice.speaker,
            voice.split,
        )
        info = sf.info(str(out / r["file"]))
        assert info.samplerate == 16000 and info.channels == 1
        assert abs(info.duration - float(r["seconds"])) < 1e-3
    splits = dict(csv.reader(open(out / "splits.csv")))
    assert splits.pop("file") == "split" and splits == {r["file"]: r["split"] for r in rows}
    assert summary["train"]["files"] == 1 and summary["valid"]["files"] == 1
    assert summary["test"] == {"files": 2, "minutes": 0.0, "voices": 2}
    sources = (out / "SOURCES.md").read_text()
    assert "2022.06.04-1" in sources and "GPL" in sources
    assert "recorded at 8000 Hz" in sources and "'xx' not in the recipe" in sources
    level = 20 * np.log10(np.abs(sf.read(str(out / rows[0]["file"]))[0]).max())
    assert abs(level - 20 * np.log10(0.39)) < 0.5  # the recorded level is kept (peak 0.3 x 1.3)


def test_speakers_are_disjoint_across_splits():
    by_split: dict[str, set[str]] = {}
    for v in LANGUAGES.values():
        by_split.setdefault(v.split, set()).add(v.speaker)
    assert set(by_split) == {"train", "valid", "test"}
    assert not (by_split["train"] & by_split["valid"] or by_split["train"] & by_split["test"])
    assert len({v.speaker for v in LANGUAGES.values()}) >= 10
    assert len({v.language for v in LANGUAGES.values() if v.split == "train"}) >= 2


@pytest.mark.parametrize("package", RESERVED)
def test_refuses_the_reserved_packages(tmp_path, package, capsys):
    path = tmp_path / f"{package}_1.0_all.deb"
    path.write_bytes(b"!<arch>\n")
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "out"), "--deb", str(path)])
    assert e.value.code == 2
    assert "reserved for independent evaluation" in capsys.readouterr().err
    assert not (tmp_path / "out" / "splits.csv").exists()


def test_rejects_what_is_not_a_package(tmp_path):
    path = tmp_path / "tuxpaint-stamps-default_1_all.deb"
    path.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="not a Debian package"):
        read_deb(path)


def test_adds_ktuberling_words_to_training_only(deb, tmp_path):
    kt = tmp_path / "ktuberling-data_4%3a22.12.3-1_all.deb"
    sounds = "./usr/share/ktuberling/sounds/"
    _deb(
        kt,
        {
            sounds + "de/ball.ogg": _ogg(0.7, 44100, 120.0),
            sounds + "fr/bouche.wav": _wav(0.6, 44100, 150.0),
            sounds + "el/ball.ogg": _ogg(0.7, 44100, 200.0),  # a test language: left out
            sounds + "sr@latin/brkovi.ogg": _ogg(0.7, 22050, 180.0),  # a copy of sr
            sounds + "pt/bola.ogg": _ogg(0.7, 8000, 180.0),  # 8 kHz only: not in the recipe
            sounds + "de.soundtheme": b"<language code='de'/>",  # not audio
        },
    )
    out = tmp_path / "voices"
    summary = build(out, [deb, kt])
    rows = {r["file"]: r for r in csv.DictReader(open(out / "manifest.csv"))}
    assert {"de/ktuberling__ball.flac", "fr/ktuberling__bouche.flac"} <= set(rows)
    assert not any("ktuberling" in f and not f.startswith(("de/", "fr/")) for f in rows)
    for f in ("de/ktuberling__ball.flac", "fr/ktuberling__bouche.flac"):
        voice = KTUBERLING_LANGUAGES[f.split("/")[0]]
        assert (rows[f]["split"], rows[f]["speaker"]) == ("train", voice.speaker)
        assert rows[f]["source"].startswith("ktuberling-data:")
    assert summary["train"]["voices"] == 3  # PaulK (Tux Paint French) and two KTuberling voices
    sources = (out / "SOURCES.md").read_text()
    assert "`ktuberling-data` 4:22.12.3-1" in sources  # the epoch, decoded from the file name
    assert "'el': a validation / test language" in sources
    assert "'pt' not in the recipe (recorded at 8 kHz only)" in sources


def test_training_voices_are_many_and_never_held_out_languages():
    held_out = {c for c, v in LANGUAGES.items() if v.split != "train"}
    assert not held_out & set(KTUBERLING_LANGUAGES)
    assert all(v.split == "train" for v in KTUBERLING_LANGUAGES.values())
    train = {v.speaker for v in [*LANGUAGES.values(), *KTUBERLING_LANGUAGES.values()]}
    train -= {v.speaker for v in LANGUAGES.values() if v.split != "train"}
    assert len(train) >= 10

"""Audio loading errors, f0 accuracy, preparation and segments."""

import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from ddsp.data.audio import AudioFileError, load_audio
from ddsp.data.dataset import SegmentDataset
from ddsp.data.f0 import extract_f0
from ddsp.data.prepare import (
    PrepConfig,
    analyse_file,
    assign_splits,
    find_audio_files,
    prepare,
    split_by_time,
)


def _tone(f0, sr=16000, seconds=1.0, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * f0 * t) + 0.2 * np.sin(2 * np.pi * 2 * f0 * t)
    return np.stack([x] * channels, 1) if channels > 1 else x


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioFileError, match=r"empty.wav: empty file"):
        load_audio(p)


def test_audio_without_samples(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros(0), 16000)
    with pytest.raises(AudioFileError, match=r"zero.wav: audio has no samples"):
        load_audio(p)


@pytest.mark.parametrize("content", [b"this is not audio at all\n" * 50, bytes(range(256)) * 20])
def test_non_audio_file(tmp_path, content):
    p = tmp_path / "text.wav"
    p.write_bytes(content)
    with pytest.raises(AudioFileError, match=r"text.wav: not a readable audio file"):
        load_audio(p)


def test_nan_samples(tmp_path):
    x = np.zeros(1000, dtype=np.float32)
    x[500] = np.nan
    p = tmp_path / "nan.wav"
    sf.write(p, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=r"nan.wav: 1 NaN/Inf samples \(first at sample 500"):
        load_audio(p)


def test_multichannel_is_mixed_down_with_warning(tmp_path):
    p = tmp_path / "stereo.wav"
    sf.write(p, _tone(200, channels=2), 16000)
    with pytest.warns(UserWarning, match="stereo.wav: 2 channels mixed down to mono"):
        x, sr = load_audio(p)
    assert x.ndim == 1 and sr == 16000


def test_resampling(tmp_path):
    p = tmp_path / "a.wav"
    sf.write(p, _tone(200, sr=22050), 22050)
    x, sr = load_audio(p, 16000)
    assert sr == 16000 and len(x) == 16000


@pytest.mark.parametrize(
    "method,noise", [("dio", 0.0), ("dio", 0.01), ("harvest", 0.01)]
)  # harvest finds nothing in a noiseless synthetic tone (documented in extract_f0)
@pytest.mark.parametrize("f0", [110.0, 220.0, 330.0])
def test_f0_of_a_tone_within_one_percent(f0, method, noise):
    x = _tone(f0)
    x = x + noise * x.std() * np.random.default_rng(0).standard_normal(len(x))
    est, voiced = extract_f0(x, 16000, 160, method=method)
    assert est.shape == (101,) and voiced.shape == (101,)
    assert voiced[10:-10].all()
    assert abs(np.median(est[voiced]) / f0 - 1) < 0.01


def test_f0_of_silence_is_unvoiced():
    f0, voiced = extract_f0(np.zeros(8000), 16000, 160)
    assert not voiced.any() and (f0 == 0).all()


def _folder(tmp_path, n=12):
    tmp_path.mkdir(parents=True)
    for i in range(n):
        sf.write(tmp_path / f"clip{i:02d}.wav", _tone(100 + 20 * i, seconds=0.6), 16000)
    return tmp_path


def test_prepare_user_folder_with_hash_split(tmp_path):
    root = _folder(tmp_path / "audio")
    paths = prepare(
        root, PrepConfig(valid_fraction=0.3, test_fraction=0.3), tmp_path / "cache", progress=False
    )
    counts = {s: len(torch.load(p)["items"]) for s, p in paths.items()}
    assert sum(counts.values()) == 12 and all(counts.values())
    item = torch.load(paths["train"])["items"][0]
    frames = len(item["audio"]) // 160 + 1
    assert item["f0"].shape == item["voiced"].shape == item["loudness"].shape == (frames,)
    # cached: a second call returns the same files without recomputing
    assert (
        prepare(
            root,
            PrepConfig(valid_fraction=0.3, test_fraction=0.3),
            tmp_path / "cache",
            progress=False,
        )
        == paths
    )


def test_prepare_names_the_bad_file(tmp_path):
    root = _folder(tmp_path / "audio", n=4)
    (root / "broken.wav").write_bytes(b"garbage" * 100)
    (root / "splits.csv").write_text(
        "file,split\nclip00.wav,train\nclip01.wav,valid\nclip02.wav,test\nbroken.wav,train\n"
    )
    with pytest.raises(AudioFileError, match="broken.wav"):
        prepare(root, cache_dir=tmp_path / "cache", progress=False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        paths = prepare(root, cache_dir=tmp_path / "cache2", skip_bad_files=True, progress=False)
    assert any("broken.wav" in str(x.message) for x in w)
    assert len(torch.load(paths["train"])["items"]) == 1


def test_splits_csv_mistakes_are_named(tmp_path):
    """A listed file that is not there was dropped silently (a typo, another case, a Windows
    path); a missing column raised KeyError('split'); a file listed in two splits took the
    last; an unknown split was only noticed for files present."""
    from ddsp.data.prepare import assign_splits, find_audio_files

    root = _folder(tmp_path / "audio", n=4)
    files = find_audio_files(root)
    table = root / "splits.csv"
    table.write_text(
        "file,split\nclip00.wav,train\n.\\clip01.wav,valid\n./clip02.wav,test\n"
        "Clip03.wav,train\ngone.wav,test\n"
    )
    with pytest.warns(UserWarning, match=r"2 listed file\(s\) not found .*: Clip03.wav, gone.wav"):
        out = assign_splits(root, files, PrepConfig())
    assert [[p.name for p in out[s]] for s in ("train", "valid", "test")] == [
        ["clip00.wav"],
        ["clip01.wav"],
        ["clip02.wav"],
    ]
    for text, message in (
        ("name,split\nclip00.wav,train\n", "needs the columns file and split .missing file"),
        ("file,split\nclip00.wav,train\nclip00.wav,test\n", "line 3: 'clip00.wav' is listed"),
        ("file,split\ngone.wav,validation\n", "line 2: unknown split 'validation'"),
    ):
        table.write_text(text)
        with pytest.raises(ValueError, match=message):
            assign_splits(root, files, PrepConfig())


def test_too_few_files_are_split_by_time(tmp_path):
    """One long recording of a voice (what a user fine-tunes on) held no file for the
    validation and test splits, and training stopped with an error; now each file is cut by
    time, and the parts put back together are the whole file with its features."""
    root = tmp_path / "audio"
    root.mkdir()
    sf.write(root / "me.wav", _tone(150, seconds=3.0), 16000)
    cfg = PrepConfig(valid_fraction=0.1, test_fraction=0.2)
    with pytest.warns(UserWarning, match="1 file.s., too few .* first 70% to train, the next 10%"):
        paths = prepare(root, cfg, tmp_path / "cache", progress=False)
    (whole,) = [analyse_file(root / "me.wav", cfg)]
    parts = [torch.load(paths[s])["items"] for s in ("train", "valid", "test")]
    assert [len(p) for p in parts] == [1, 1, 1]
    parts = [p[0] for p in parts]
    assert [len(p["audio"]) // 160 for p in parts] == [210, 30, 60]
    assert torch.equal(torch.cat([p["audio"] for p in parts]), whole["audio"][: 300 * 160])
    for p in parts:
        assert p["f0"].shape == p["voiced"].shape == p["loudness"].shape
        assert len(p["f0"]) == len(p["audio"]) // 160 + 1
    assert torch.equal(torch.cat([parts[0]["loudness"][:-1], parts[1]["loudness"][:-1],
                                  parts[2]["loudness"]]), whole["loudness"])  # fmt: skip
    # a longer recording: every 10 s block gives each split a part, so validation and test
    # sample the whole recording rather than its end alone
    long = {k: whole[k].repeat(11) if k != "name" else "long" for k in whole}
    long["audio"] = long["audio"][: 33 * 16000]
    split = split_by_time(long, cfg)
    assert [len(split[s]) for s in ("train", "valid", "test")] == [3, 3, 3]
    in_order = [split[s][i] for i in range(3) for s in ("train", "valid", "test")]
    assert torch.equal(torch.cat([p["audio"] for p in in_order]), long["audio"])
    assert split["test"][0]["name"] == "long (test, 8.8 s)"


def test_what_cannot_be_split_is_explained(tmp_path):
    root = _folder(tmp_path / "audio", n=2)
    with pytest.raises(ValueError, match="no files in the 'valid' split"):  # no validation asked
        prepare(root, PrepConfig(valid_fraction=0.0), tmp_path / "cache", progress=False)
    with pytest.raises(ValueError, match="no files in the '(valid|test)' split"):
        assign_splits(root, find_audio_files(root), PrepConfig())  # by file, as ddsp.evaluate
    short = tmp_path / "short"
    short.mkdir()
    sf.write(short / "a.wav", _tone(150, seconds=0.05), 16000)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="too little audio to split"):
        prepare(short, cache_dir=tmp_path / "cache", progress=False)
    (root / "splits.csv").write_text("file,split\nclip00.wav,train\nclip01.wav,test\n")
    with pytest.raises(ValueError, match="no files in the 'valid' split"):  # the table's word
        prepare(root, cache_dir=tmp_path / "cache", progress=False)


def test_segments_are_frame_aligned_and_end_at_the_file_end():
    item = {
        "audio": torch.arange(1000.0),
        "f0": torch.full((11,), 200.0),
        "voiced": torch.ones(11),
        "loudness": torch.full((11,), -20.0),
    }
    ds = SegmentDataset([item], segment_frames=4, hop_length=100)
    assert len(ds) == 3
    # the last segment ends at the last full frame (overlapping the previous one), no padding
    last = ds[2]
    assert last["audio"].tolist() == list(range(600, 1000)) and last["voiced"].min() == 1
    # an item shorter than a segment is padded with unvoiced silence at floor loudness
    short = {k: v[: 3 if k != "audio" else 250] for k, v in item.items()}
    (pad,) = SegmentDataset([short], 4, 100)
    assert pad["audio"][:250].tolist() == list(range(250)) and pad["audio"][250:].abs().max() == 0
    assert pad["voiced"][3] == 0 and pad["loudness"][3] == -20.0
    crop = SegmentDataset([item], 4, 100, random_crop=True)[0]
    start = int(crop["audio"][0]) // 100
    assert crop["audio"][0] % 100 == 0 and crop["audio"].tolist() == list(
        range(start * 100, start * 100 + 400)
    )


def test_short_and_silent_files_are_warned_about(tmp_path):
    from ddsp.data.prepare import analyse_file

    cfg = PrepConfig()
    short, silent = tmp_path / "short.wav", tmp_path / "silent.wav"
    sf.write(short, _tone(200.0, seconds=0.005), 16000)  # 5 ms
    sf.write(silent, np.zeros(16000), 16000)
    with pytest.warns(UserWarning, match=r"short.wav: 5 ms long, shorter than 100 ms"):
        analyse_file(short, cfg)
    with pytest.warns(UserWarning, match="silent.wav: digital silence throughout"):
        analyse_file(silent, cfg)


def test_one_cache_location_outside_the_data(tmp_path, monkeypatch):
    from ddsp.data.prepare import default_cache_dir

    monkeypatch.setenv("DDSP_CACHE_DIR", str(tmp_path / "cache"))
    assert default_cache_dir() == tmp_path / "cache"
    root = _folder(tmp_path / "audio", n=6)
    (root / "splits.csv").write_text(
        "file,split\n"
        + "".join(f"clip{i:02d}.wav,{s}\n" for i, s in enumerate("ttvvee"))
        .replace(",t\n", ",train\n")
        .replace(",v\n", ",valid\n")
        .replace(",e\n", ",test\n")
    )
    paths = prepare(root, progress=False)  # the CLI and training both call this
    assert all(p.is_relative_to(tmp_path / "cache") for p in paths.values())
    assert not (root / ".cache").exists()
    monkeypatch.delenv("DDSP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "ddsp" / "data"

"""Prepare a folder of audio for training: resample, f0 + voicing, loudness; cache per split.

Usage::

    python -m ddsp.data.prepare data/fillets_cs --sample-rate 16000 --hop-length 160

Training runs this automatically (``SpeechDataModule.prepare_data``); results are cached in one
place for both (:func:`default_cache_dir`: ``$DDSP_CACHE_DIR``, else ``~/.cache/ddsp/data``),
keyed by the folder, its file list and the settings, so a second run loads in a second.

Splits: ``<root>/splits.csv`` (columns ``file,split`` with ``train``/``valid``/``test``) when it
exists, otherwise a fixed pseudo-random split by the SHA-1 of each file's relative path; a
folder with too few files for that (one long recording of a voice) is split by time instead:
in every 10 s block of every file, the first part trains, the next validates, the last tests
(with a warning).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .. import cli
from ..dsp import _positive
from ..f0 import fill_unvoiced_f0
from ..spectral.loudness import a_weighted_loudness
from .audio import AUDIO_EXTENSIONS, AudioFileError, load_audio
from .f0 import extract_f0

__all__ = [
    "PrepConfig",
    "prepare",
    "find_audio_files",
    "assign_splits",
    "split_by_time",
    "TooFewFilesError",
    "default_cache_dir",
    "SPLITS",
]

SPLITS = ("train", "valid", "test")
_VERSION = 2  # bump when the cached content changes (2: too few files split by time)


@dataclass(frozen=True)
class PrepConfig:
    """Settings that determine the prepared features (and the cache key)."""

    sample_rate: int = 16000
    hop_length: int = 160
    f0_min: float = 60.0
    f0_max: float = 800.0
    f0_method: str = "dio"
    loudness_n_fft: int = 1024
    valid_fraction: float = 0.1
    test_fraction: float = 0.1

    def __post_init__(self) -> None:
        """A clear error for settings that would fail later as a division by zero or an
        empty split (``data.hop_length=0`` raised ZeroDivisionError)."""
        for name in ("sample_rate", "hop_length", "loudness_n_fft"):
            _positive(name, getattr(self, name))
        if not 0 < self.f0_min < self.f0_max <= self.sample_rate / 2:
            raise ValueError(
                f"need 0 < f0_min < f0_max <= sample_rate / 2, got f0_min={self.f0_min}, "
                f"f0_max={self.f0_max}, sample_rate={self.sample_rate}"
            )
        if self.f0_method not in ("dio", "harvest"):
            raise ValueError(f"f0_method must be 'dio' or 'harvest', got {self.f0_method!r}")
        fractions = (self.valid_fraction, self.test_fraction)
        if not (all(0 <= f < 1 for f in fractions) and sum(fractions) < 1):
            raise ValueError(
                f"valid_fraction and test_fraction must be in [0, 1) with a sum below 1, got "
                f"{self.valid_fraction} and {self.test_fraction}"
            )


def default_cache_dir() -> Path:
    """Where prepared features are cached unless a ``cache_dir`` is given: ``$DDSP_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/ddsp/data`` (``~/.cache/ddsp/data``); never inside the data folder
    or the repository."""
    env = os.environ.get("DDSP_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ddsp" / "data"


def find_audio_files(root: str | Path) -> list[Path]:
    """All audio files under ``root`` (recursively), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: audio folder does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"{root}: no audio files ({', '.join(AUDIO_EXTENSIONS)})")
    return files


def assign_splits(root: Path, files: list[Path], cfg: PrepConfig) -> dict[str, list[Path]]:
    """Split files into train/valid/test from ``splits.csv`` or by hash."""
    out: dict[str, list[Path]] = {s: [] for s in SPLITS}
    table = root / "splits.csv"
    if table.is_file():
        rows = read_splits(table)
        for p in files:
            rel = p.relative_to(root).as_posix()
            split = rows.pop(rel, None)
            if split is None:
                continue  # files not listed are not used
            out[split].append(p)
        if rows:  # listed but not found: a typo or a missing file would drop it silently
            names = ", ".join(sorted(rows)[:5]) + (", ..." if len(rows) > 5 else "")
            warnings.warn(
                f"{table}: {len(rows)} listed file(s) not found under {root} (paths are "
                f"relative to it, with '/'): {names}",
                stacklevel=2,
            )
    else:
        for p in files:
            rel = p.relative_to(root).as_posix()
            u = int(hashlib.sha1(rel.encode()).hexdigest()[:8], 16) / 2**32
            split = (
                "test"
                if u < cfg.test_fraction
                else ("valid" if u < cfg.test_fraction + cfg.valid_fraction else "train")
            )
            out[split].append(p)
    for split in SPLITS:
        if not out[split]:
            error = ValueError if table.is_file() else TooFewFilesError
            raise error(
                f"{root}: no files in the '{split}' split ({len(files)} files in all); add a "
                "splits.csv (columns file,split) or change valid_fraction/test_fraction"
            )
    return out


class TooFewFilesError(ValueError):
    """No ``splits.csv`` and too few files to give every split one (:func:`prepare` then
    splits each file by time)."""


BLOCK_SECONDS = 10.0  # a file split by time is split block by block, so that every split
# samples the whole recording (not only its end, where silence tends to be)


def split_by_time(item: dict, cfg: PrepConfig) -> dict[str, list[dict]]:
    """One analysed file cut at frame boundaries into blocks of about :data:`BLOCK_SECONDS`,
    and each block into its first ``1 - valid - test`` of the time (``train``), the next
    ``valid_fraction`` (``valid``) and the last ``test_fraction`` (``test``); parts with no frame
    are left out. Each part keeps the item layout (``audio (time,)``, features
    ``(time // hop + 1,)``). Returns ``{split: [parts in time order]}``."""
    hop = cfg.hop_length
    frames = len(item["audio"]) // hop
    n = max(1, round(frames * hop / cfg.sample_rate / BLOCK_SECONDS))
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for i in range(n):
        s, e = round(i * frames / n), round((i + 1) * frames / n)
        a = s + round((e - s) * (1 - cfg.valid_fraction - cfg.test_fraction))
        b = s + round((e - s) * (1 - cfg.test_fraction))
        for split, (start, end) in zip(SPLITS, ((s, a), (a, b), (b, e)), strict=True):
            if end > start:
                out[split].append({
                    "name": f"{item['name']} ({split}, {start * hop / cfg.sample_rate:.1f} s)",
                    "audio": item["audio"][start * hop : end * hop],
                    **{k: item[k][start : end + 1] for k in ("f0", "voiced", "loudness")},
                })  # fmt: skip
    return out


def read_splits(table: Path) -> dict[str, str]:
    """``{file: split}`` from a ``splits.csv`` (columns ``file`` and ``split``; others are
    ignored). Paths are relative to its folder; ``\\`` and a leading ``./`` are accepted. A
    missing column, an unknown split and a file listed twice with two splits are errors naming
    the row."""
    with open(table, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"file", "split"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"{table}: needs the columns file and split (missing {', '.join(sorted(missing))};"
                f" has {', '.join(reader.fieldnames or ()) or 'none'})"
            )
        rows: dict[str, str] = {}
        for line, r in enumerate(reader, start=2):
            name = (r["file"] or "").strip().replace("\\", "/").removeprefix("./")
            split = (r["split"] or "").strip()
            if split not in SPLITS:
                raise ValueError(
                    f"{table}, line {line}: unknown split {split!r} for {name!r}; use "
                    f"{', '.join(SPLITS)}"
                )
            if rows.setdefault(name, split) != split:
                raise ValueError(
                    f"{table}, line {line}: {name!r} is listed in both {rows[name]!r} and {split!r}"
                )
    return rows


def _cache_key(root: Path, files: list[Path], cfg: PrepConfig) -> str:
    h = hashlib.sha1()
    h.update(json.dumps({"cfg": asdict(cfg), "version": _VERSION}, sort_keys=True).encode())
    h.update(str(root.resolve()).encode())  # one cache folder serves every data folder
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root).as_posix()}:{st.st_size}:{st.st_mtime_ns}".encode())
    table = root / "splits.csv"
    if table.is_file():
        h.update(table.read_bytes())
    return h.hexdigest()[:16]


_SPLIT_BY_TIME: set[str] = set()  # folders already warned about in this process

MIN_SECONDS = 0.1  # shorter files hold too few frames for f0 tracking and a training segment


def _warn_if_unusable(path: Path, x: np.ndarray, sr: int, voiced: np.ndarray) -> None:
    """Warn about files that load but teach nothing: too short, silent, or never voiced."""
    if len(x) < MIN_SECONDS * sr:
        warnings.warn(
            f"{path}: {1000 * len(x) / sr:.0f} ms long, shorter than {MIN_SECONDS * 1000:.0f} ms: "
            "too short for f0 tracking and for a training segment (it is padded)",
            stacklevel=3,
        )
    if not np.any(x):
        warnings.warn(f"{path}: digital silence throughout (all samples are 0)", stacklevel=3)
    elif not np.any(voiced):
        warnings.warn(f"{path}: no voiced frame found (f0 tracker)", stacklevel=3)


def analyse_file(path: Path, cfg: PrepConfig) -> dict:
    """Load one file and compute its features.

    Returns:
        dict with ``audio (time,)``, ``f0 (frames,)`` (unvoiced frames filled by log-linear
        interpolation), ``voiced (frames,)``, ``loudness (frames,)`` dB, ``name``;
        ``frames = time // hop_length + 1``.
    """
    x, sr = load_audio(path, cfg.sample_rate)
    f0, voiced = extract_f0(x, sr, cfg.hop_length, cfg.f0_min, cfg.f0_max, cfg.f0_method)
    _warn_if_unusable(path, x, sr, voiced)
    voiced_t = torch.from_numpy(voiced.astype(np.float32))
    f0_filled = fill_unvoiced_f0(torch.from_numpy(f0), voiced_t).float()
    loud = a_weighted_loudness(torch.from_numpy(x), sr, cfg.hop_length, cfg.loudness_n_fft)
    return {
        "name": path.name,
        "audio": torch.from_numpy(x),
        "f0": f0_filled,
        "voiced": voiced_t,
        "loudness": loud.float(),
    }


def prepare(
    root: str | Path,
    cfg: PrepConfig | None = None,
    cache_dir: str | Path | None = None,
    skip_bad_files: bool = False,
    progress: bool = True,
) -> dict[str, Path]:
    """Analyse every file once and cache the features per split.

    Args:
        root: folder of audio files.
        cfg: feature settings.
        cache_dir: where caches live (default :func:`default_cache_dir`).
        skip_bad_files: warn and skip unusable files instead of raising.

    Returns:
        ``{split: path to a torch file holding a list of analysed items}``.
    """
    root = Path(root)
    cfg = cfg or PrepConfig()
    files = find_audio_files(root)
    try:
        splits, by_time = assign_splits(root, files, cfg), False
    except TooFewFilesError:
        if not (cfg.valid_fraction > 0 and cfg.test_fraction > 0):
            raise
        splits, by_time = {"train": files}, True
        if str(root.resolve()) not in _SPLIT_BY_TIME:  # once a process, not at every stage
            _SPLIT_BY_TIME.add(str(root.resolve()))
            train = 1 - cfg.valid_fraction - cfg.test_fraction
            warnings.warn(
                f"{root}: {len(files)} file(s), too few to hold out whole files: they are split "
                f"by time instead, every {BLOCK_SECONDS:.0f} s block's first {train:.0%} to "
                f"train, the next {cfg.valid_fraction:.0%} to validate, the last "
                f"{cfg.test_fraction:.0%} to test (a splits.csv chooses)",
                stacklevel=2,
            )
    out_dir = Path(cache_dir or default_cache_dir()) / _cache_key(root, files, cfg)
    paths = {s: out_dir / f"{s}.pt" for s in SPLITS}
    if all(p.is_file() for p in paths.values()):
        return paths
    out_dir.mkdir(parents=True, exist_ok=True)
    n = sum(len(v) for v in splits.values())
    bar = tqdm(
        total=n,
        desc=f"Preparing {root.name} ({cfg.sample_rate} Hz, f0 {cfg.f0_method})",
        disable=not progress,
    )
    prepared: dict[str, list[dict]] = {}
    for split, split_files in splits.items():
        items = prepared.setdefault(split, [])
        for p in split_files:
            try:
                items.append(analyse_file(p, cfg))
            except AudioFileError as e:
                if not skip_bad_files:
                    raise
                warnings.warn(f"skipped: {e}", stacklevel=2)
            bar.update(1)
    bar.close()
    if by_time:
        parts = [split_by_time(item, cfg) for item in prepared["train"]]
        prepared = {s: [x for p in parts for x in p[s]] for s in SPLITS}
        empty = [s for s in SPLITS if not prepared[s]]
        if empty:
            raise ValueError(
                f"{root}: too little audio to split by time ({', '.join(empty)} would be "
                "empty); add recordings or a splits.csv"
            )
    for split, items in prepared.items():
        tmp = paths[split].with_suffix(".tmp")
        torch.save({"config": asdict(cfg), "items": items}, tmp)
        tmp.replace(paths[split])
    with open(out_dir / "config.json", "w") as f:
        json.dump(
            {
                "root": str(root),
                **asdict(cfg),
                "files": {s: len(v) for s, v in splits.items()},
                "split_by": "time" if by_time else "file",
            },
            f,
            indent=1,
        )
    return paths


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("root", help="folder of audio files")
    ap.add_argument("--sample-rate", type=int, default=16000)
    ap.add_argument("--hop-length", type=int, default=160)
    ap.add_argument("--f0-method", default="dio", choices=["dio", "harvest"])
    ap.add_argument("--f0-min", type=float, default=60.0)
    ap.add_argument("--f0-max", type=float, default=800.0)
    ap.add_argument(
        "--cache-dir", default=None, help="default: $DDSP_CACHE_DIR or ~/.cache/ddsp/data"
    )
    ap.add_argument("--skip-bad-files", action="store_true")
    a = ap.parse_args(argv)
    cli.run("python -m ddsp.data.prepare", lambda: _main(a))


def _main(a: argparse.Namespace) -> None:
    cfg = PrepConfig(a.sample_rate, a.hop_length, a.f0_min, a.f0_max, a.f0_method)
    for split, path in prepare(a.root, cfg, a.cache_dir, a.skip_bad_files).items():
        items = torch.load(path)["items"]
        secs = sum(len(i["audio"]) for i in items) / cfg.sample_rate
        voiced = torch.cat([i["voiced"] for i in items]).mean().item() if items else 0.0
        print(
            f"{split:5s}: {len(items):4d} files, {secs / 60:6.2f} min, {100 * voiced:4.1f} % voiced -> {path}"
        )


if __name__ == "__main__":
    main()

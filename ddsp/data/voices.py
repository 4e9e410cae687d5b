"""Multi-speaker, multi-language training speech from a Debian package: one command.

    python -m ddsp.data.voices ~/.cache/ddsp/voices          # apt-get download, then build
    python -m ddsp.data.voices OUT --deb tuxpaint-stamps-default_2022.06.04-1_all.deb

Source: the spoken stamp descriptions of Tux Paint (Debian ``tuxpaint-stamps-default``, GPL-2):
about 7,000 short sentences, 2.9 hours, 13 languages, recorded by volunteers, mostly one voice
per language (the package's changelog names them; :data:`LANGUAGES`). Every file becomes
``OUT/<language>/<stamp path with / as __>.flac``, mono, 16 kHz (soxr), at its recorded level
(levels differ by 20 dB between voices, which a level-true vocoder must handle). Files recorded
below 16 kHz are left out and listed.

The split is by language, hence by speaker (no voice is in two splits, assuming no volunteer
recorded two languages): ``splits.csv`` (read by :mod:`ddsp.data.prepare`), ``manifest.csv``
(file, language, speaker, split, seconds, source file) and ``SOURCES.md`` (package, version,
SHA-256, licence, credits, the table of minutes per split) are written beside the audio.

**Reserved for independent evaluation and never used here:** the Debian packages
``fillets-ng-data-nl``, ``hedgewars-data`` and ``klettres-data`` (:data:`RESERVED`); the recipe
refuses them by name.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import lzma
import re
import subprocess
import tarfile
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from .. import cli
from .audio import load_audio

__all__ = ["LANGUAGES", "RESERVED", "PACKAGE", "Voice", "read_deb", "build", "main"]

PACKAGE = "tuxpaint-stamps-default"
RESERVED = ("fillets-ng-data-nl", "hedgewars-data", "klettres-data")
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Voice:
    """One language's recordings: who spoke them (per the package's changelog) and the split."""

    language: str
    speaker: str
    split: str


#: ``_desc_<code>.ogg`` -> voice. Speakers as credited in the upstream changelog ("Descriptive
#: sounds ..."); where it names nobody, "unnamed". Number stamps ("symbols") of some languages
#: come from Schoolsplay and may be other voices of the same language, in the same split.
LANGUAGES: dict[str, Voice] = {
    "ro": Voice("Romanian", "Tabbytha", "train"),
    "es": Voice("Spanish", "Estefania Ortiz", "train"),
    "be": Voice("Belarusian", "Kseniya Buraya", "train"),
    "ru": Voice("Russian", "Edwin Veber", "train"),
    "fr": Voice("French", "PaulK", "train"),
    "bg": Voice("Bulgarian", "Krasimir Petkov", "train"),
    "da": Voice("Danish", "Joe Dalton", "valid"),
    "el": Voice("Greek", "Kiriaki Serafeim", "test"),
    "ca": Voice("Catalan", "unnamed (Catalan)", "test"),
    "nl": Voice("Dutch", "unnamed (Dutch)", "test"),
    "en": Voice("English", "unnamed (English)", "test"),
    "lt": Voice("Lithuanian", "Schoolsplay (alphabet)", "test"),
    "ml": Voice("Malayalam", "unnamed (Malayalam)", "test"),
}

_DESC = re.compile(r"_desc(?:_(?P<code>[A-Za-z_]+?))?(?:\.ogg)+$")


def _check_not_reserved(name: str) -> None:
    for pkg in RESERVED:
        if Path(name).name.startswith(pkg + "_") or Path(name).name == pkg:
            raise ValueError(
                f"{name}: the package {pkg} is reserved for independent evaluation and must "
                "never be used for training or tuning"
            )


def download(folder: Path) -> Path:
    """``apt-get download`` :data:`PACKAGE` into ``folder``; the path of the ``.deb``."""
    try:
        subprocess.run(
            ["apt-get", "download", PACKAGE], cwd=folder, check=True, capture_output=True
        )
    except FileNotFoundError:
        raise FileNotFoundError(
            "apt-get is not available: download the Debian package "
            f"{PACKAGE} (e.g. from packages.debian.org) and pass it with --deb"
        ) from None
    except subprocess.CalledProcessError as e:
        raise ValueError(
            f"apt-get download {PACKAGE} failed ({e.stderr.decode(errors='replace').strip()}); "
            "download the package yourself and pass it with --deb"
        ) from None
    debs = sorted(folder.glob(f"{PACKAGE}_*.deb"))
    if not debs:
        raise FileNotFoundError(f"apt-get download wrote no {PACKAGE}_*.deb into {folder}")
    return debs[-1]


def read_deb(deb: Path) -> tarfile.TarFile:
    """The data archive of a Debian package (an ``ar`` archive holding ``data.tar.xz``)."""
    raw = Path(deb).read_bytes()
    if raw[:8] != b"!<arch>\n":
        raise ValueError(f"{deb}: not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(raw):
        name = raw[pos : pos + 16].decode().strip().rstrip("/")
        size = int(raw[pos + 48 : pos + 58].decode().strip())
        body = raw[pos + 60 : pos + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".xz"):
                body = lzma.decompress(body)
            return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
        pos += 60 + size + (size & 1)
    raise ValueError(f"{deb}: no data.tar member")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(out: str | Path, deb: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Build the data set in ``out`` from ``deb`` (downloaded when ``None``).

    Returns:
        ``{split: {"files": n, "minutes": m, "voices": k}}``.
    """
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ddsp-voices-") as tmp:
        deb = Path(deb) if deb is not None else download(Path(tmp))
        _check_not_reserved(deb.name)
        if not deb.is_file():
            raise FileNotFoundError(f"{deb}: no such file")
        if not deb.name.startswith(PACKAGE + "_"):
            raise ValueError(f"{deb}: expected a {PACKAGE}_<version>_all.deb")
        version = deb.name.split("_")[1]
        digest = _sha256(deb)
        archive = read_deb(deb)
        members = [m for m in archive.getmembers() if m.isfile() and _DESC.search(m.name)]
        rows, skipped = [], []
        for m in tqdm(members, desc="voices", unit="file"):
            code = _DESC.search(m.name).group("code") or "en"
            if code not in LANGUAGES:
                skipped.append((m.name, f"language {code!r} not in the recipe"))
                continue
            stamp = m.name.split("/stamps/", 1)[1]
            stamp = re.sub(r"(\.ogg)+$", "", stamp)
            rel = Path(code) / (stamp.replace("/", "__") + ".flac")
            with tempfile.NamedTemporaryFile(suffix=".ogg", dir=tmp) as f:
                f.write(archive.extractfile(m).read())
                f.flush()
                rate = sf.info(f.name).samplerate
                if rate < SAMPLE_RATE:
                    skipped.append((m.name, f"recorded at {rate} Hz"))
                    continue
                with warnings.catch_warnings():  # stereo -> mono is intended here
                    warnings.simplefilter("ignore")
                    x, _ = load_audio(f.name, SAMPLE_RATE)
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            sf.write(out / rel, np.clip(x, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16")
            v = LANGUAGES[code]
            rows.append(
                (rel.as_posix(), v.language, v.speaker, v.split, len(x) / SAMPLE_RATE, m.name)
            )
    rows.sort()
    with open(out / "splits.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "split"])
        w.writerows((r[0], r[3]) for r in rows)
    with open(out / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "language", "speaker", "split", "seconds", "source"])
        w.writerows((*r[:4], f"{r[4]:.3f}", r[5]) for r in rows)
    summary = {
        s: {
            "files": sum(r[3] == s for r in rows),
            "minutes": round(sum(r[4] for r in rows if r[3] == s) / 60, 1),
            "voices": len({r[1] for r in rows if r[3] == s}),
        }
        for s in ("train", "valid", "test")
    }
    _write_sources(out / "SOURCES.md", version, digest, rows, skipped, summary)
    return summary


def _write_sources(path, version, digest, rows, skipped, summary) -> None:
    lines = [
        "# Multi-speaker speech built by `python -m ddsp.data.voices`",
        "",
        f"- Source: Debian package `{PACKAGE}` {version} (Tux Paint stamps), SHA-256 `{digest}`;",
        "  the spoken stamp descriptions `usr/share/tuxpaint/stamps/**/*_desc[_<lang>].ogg`.",
        "- Licence: GNU GPL version 2 or later (the package's `copyright`: Bill Kendrick and",
        "  contributors). These files stay under GPL-2; do not redistribute them without it.",
        "- Processing: mono (channel mean), 16 kHz (soxr high quality), 16-bit FLAC, recorded",
        "  level kept. Split by language (one voice per language, as credited).",
        "- Reserved, never used: " + ", ".join(f"`{p}`" for p in RESERVED) + ".",
        "",
        "| code | language | speaker | split | files | minutes |",
        "|---|---|---|---|---:|---:|",
    ]
    for code, v in LANGUAGES.items():
        mine = [r for r in rows if r[1] == v.language]
        minutes = sum(r[4] for r in mine) / 60
        lines.append(
            f"| {code} | {v.language} | {v.speaker} | {v.split} | {len(mine)} | {minutes:.1f} |"
        )
    lines += ["", "| split | files | minutes | languages |", "|---|---:|---:|---:|"]
    lines += [
        f"| {s} | {d['files']} | {d['minutes']} | {d['voices']} |" for s, d in summary.items()
    ]
    lines += ["", f"Left out ({len(skipped)}):", ""]
    lines += [f"- `{name}`: {why}" for name, why in skipped]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ddsp.data.voices", description=__doc__.split("\n")[0]
    )
    parser.add_argument("out", help="output folder (created); point data.root at it")
    parser.add_argument("--deb", help=f"a downloaded {PACKAGE}_*.deb (default: apt-get download)")
    args = parser.parse_args(argv)

    def run() -> None:
        summary = build(args.out, args.deb)
        for split, d in summary.items():
            print(f"{split:>5}: {d['files']} files, {d['minutes']} min, {d['voices']} languages")
        print(f"wrote {Path(args.out).expanduser()}; train with data.root={args.out}")

    cli.run("python -m ddsp.data.voices", run)


if __name__ == "__main__":
    main()

"""Multi-speaker, multi-language training speech from Debian packages: one command.

    python -m ddsp.data.voices ~/.cache/ddsp/voices          # apt-get download, then build
    python -m ddsp.data.voices OUT --deb tuxpaint-stamps-default_2022.06.04-1_all.deb \
        --deb ktuberling-data_22.12.3-1_all.deb              # packages downloaded beforehand

Sources (:data:`SOURCES`, both GPL-2 or later):

- the spoken stamp descriptions of Tux Paint (Debian ``tuxpaint-stamps-default``): about 7,000
  short sentences, 2.9 hours, 13 languages, recorded by volunteers, mostly one voice per
  language (the package's changelog names them; :data:`LANGUAGES`);
- the spoken words of KDE's KTuberling (``ktuberling-data``): about 2,000 single words, one
  voice per language; the recipe takes the 16 kHz-or-better recordings of the languages whose
  Tux Paint voice trains (or that Tux Paint lacks) into the training split
  (:data:`KTUBERLING_LANGUAGES`) and leaves out the languages of the validation and test
  voices, so that no recording of those languages trains.

Every file becomes ``OUT/<language>/<name>.flac``, mono, 16 kHz (soxr), at its recorded level
(levels differ by 20 dB between voices, which a level-true vocoder must handle). Files recorded
below 16 kHz are left out and listed.

The split is by language, hence by speaker (no voice is in two splits, assuming no volunteer
recorded two languages): ``splits.csv`` (read by :mod:`ddsp.data.prepare`), ``manifest.csv``
(file, language, speaker, split, seconds, source file) and ``SOURCES.md`` (packages, versions,
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import soundfile as sf
from tqdm import tqdm

from .. import cli
from .audio import load_audio

__all__ = [
    "LANGUAGES",
    "KTUBERLING_LANGUAGES",
    "RESERVED",
    "PACKAGE",
    "KTUBERLING",
    "SOURCES",
    "Voice",
    "read_deb",
    "build",
    "main",
]

PACKAGE = "tuxpaint-stamps-default"
KTUBERLING = "ktuberling-data"
SOURCES = (PACKAGE, KTUBERLING)
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

#: KTuberling's word lists (``sounds/<code>/<word>.ogg``, ``.wav`` or ``.opus``) that the recipe trains on; none of
#: these languages is in the validation or test split. The recordings are uncredited.
KTUBERLING_LANGUAGES: dict[str, Voice] = {
    code: Voice(language, f"unnamed (KTuberling {language})", "train")
    for code, language in {
        "uk": "Ukrainian",
        "nn": "Norwegian Nynorsk",
        "wa": "Walloon",
        "de": "German",
        "sl": "Slovenian",
        "ga": "Irish",
        "sr": "Serbian",
        "fr": "French",
        "ru": "Russian",
        "ro": "Romanian",
        "es": "Spanish",
    }.items()
}

#: Why a KTuberling language with files is not in :data:`KTUBERLING_LANGUAGES`.
_NOT_USED = {
    "gl": "the f0 tracker finds no voiced frame in 42 of its 71 words: not a voice to learn from",
    **{c: "recorded at 8 kHz only" for c in ("fi", "it", "pt", "sv", "nds")},
    **{c: "a copy of 'sr'" for c in ("sr@latin", "sr@ijekavian", "sr@ijekavianlatin")},
}

_WORD = re.compile(r"/ktuberling/sounds/(?P<code>[^/]+)/(?P<word>[^/]+)\.(?:ogg|wav|opus)$")
_DESC = re.compile(r"_desc(?:_(?P<code>[A-Za-z_]+?))?(?:\.ogg)+$")


def _check_not_reserved(name: str) -> None:
    for pkg in RESERVED:
        if Path(name).name.startswith(pkg + "_") or Path(name).name == pkg:
            raise ValueError(
                f"{name}: the package {pkg} is reserved for independent evaluation and must "
                "never be used for training or tuning"
            )


def download(folder: Path, package: str = PACKAGE) -> Path:
    """``apt-get download`` ``package`` into ``folder``; the path of the ``.deb``."""
    try:
        subprocess.run(
            ["apt-get", "download", package], cwd=folder, check=True, capture_output=True
        )
    except FileNotFoundError:
        raise FileNotFoundError(
            "apt-get is not available: download the Debian package "
            f"{package} (e.g. from packages.debian.org) and pass it with --deb"
        ) from None
    except subprocess.CalledProcessError as e:
        raise ValueError(
            f"apt-get download {package} failed ({e.stderr.decode(errors='replace').strip()}); "
            "download the package yourself and pass it with --deb"
        ) from None
    debs = sorted(folder.glob(f"{package}_*.deb"))
    if not debs:
        raise FileNotFoundError(f"apt-get download wrote no {package}_*.deb into {folder}")
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


def _entry(package: str, name: str) -> tuple[Voice, Path] | str | None:
    """Where a package member goes: ``(voice, relative .flac path)``, a reason to leave it out,
    or None for a member that is not speech."""
    if package == PACKAGE:
        hit = _DESC.search(name)
        if hit is None:
            return None
        code = hit.group("code") or "en"
        if code not in LANGUAGES:
            return f"language {code!r} not in the recipe"
        stamp = re.sub(r"(\.ogg)+$", "", name.split("/stamps/", 1)[1])
        return LANGUAGES[code], Path(code) / (stamp.replace("/", "__") + ".flac")
    hit = _WORD.search(name)
    if hit is None:
        return None
    code = hit.group("code")
    if code not in KTUBERLING_LANGUAGES:
        held_out = code in LANGUAGES and LANGUAGES[code].split != "train"
        return (
            f"KTuberling {code!r}: a validation / test language, kept out of training"
            if held_out
            else f"KTuberling {code!r} not in the recipe ({_NOT_USED.get(code, 'not speech')})"
        )
    return KTUBERLING_LANGUAGES[code], Path(code) / f"ktuberling__{hit.group('word')}.flac"


def _package(deb: Path) -> str:
    for package in SOURCES:
        if deb.name.startswith(package + "_"):
            return package
    raise ValueError(
        f"{deb}: expected one of " + ", ".join(f"{p}_<version>_all.deb" for p in SOURCES)
    )


def build(
    out: str | Path, deb: str | Path | Sequence[str | Path] | None = None
) -> dict[str, dict[str, float]]:
    """Build the data set in ``out`` from the packages ``deb`` (one path or several; every one
    of :data:`SOURCES` is downloaded when ``None``; a source not given is not used).

    Returns:
        ``{split: {"files": n, "minutes": m, "voices": distinct speakers}}``.
    """
    out = Path(out).expanduser()
    given = [deb] if isinstance(deb, (str, Path)) else list(deb or [])
    for d in given:
        _check_not_reserved(Path(d).name)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ddsp-voices-") as tmp:
        debs = [Path(d) for d in given] or [download(Path(tmp), p) for p in SOURCES]
        for d in debs:
            if not d.is_file():
                raise FileNotFoundError(f"{d}: no such file")
            _package(d)
        packages: dict[str, tuple[str, str]] = {}
        rows, skipped = [], []
        for d in debs:
            package = _package(d)
            packages[package] = (unquote(d.name.split("_")[1]), _sha256(d))  # 4%3a: epoch
            archive = read_deb(d)
            for m in tqdm(archive.getmembers(), desc=package, unit="file"):
                entry = _entry(package, m.name) if m.isfile() else None
                if entry is None:
                    continue
                if isinstance(entry, str):
                    skipped.append((m.name, entry))
                    continue
                voice, rel = entry
                with tempfile.NamedTemporaryFile(suffix=Path(m.name).suffix, dir=tmp) as f:
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
                rows.append(
                    (
                        rel.as_posix(),
                        voice.language,
                        voice.speaker,
                        voice.split,
                        len(x) / SAMPLE_RATE,
                        f"{package}:{m.name}",
                    )
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
            "voices": len({r[2] for r in rows if r[3] == s}),
        }
        for s in ("train", "valid", "test")
    }
    _write_sources(out / "SOURCES.md", packages, rows, skipped, summary)
    return summary


def _write_sources(path, packages, rows, skipped, summary) -> None:
    lines = ["# Multi-speaker speech built by `python -m ddsp.data.voices`", ""]
    for package, (version, digest) in packages.items():
        what = (
            "Tux Paint's spoken stamp descriptions `usr/share/tuxpaint/stamps/**/*_desc*.ogg`"
            if package == PACKAGE
            else "KTuberling's spoken words `usr/share/ktuberling/sounds/<lang>/*.{ogg,wav,opus}`"
        )
        lines.append(f"- Source: Debian package `{package}` {version}, SHA-256 `{digest}`: {what}.")
    lines += [
        "- Licence: GNU GPL version 2 or later (the packages' `copyright`: Bill Kendrick and",
        "  contributors for Tux Paint; the KDE team for KTuberling). These files stay under",
        "  GPL-2; do not redistribute them without it.",
        "- Processing: mono (channel mean), 16 kHz (soxr high quality), 16-bit FLAC, recorded",
        "  level kept. Split by language (one voice per language and package, as credited).",
        "- Reserved, never used: " + ", ".join(f"`{p}`" for p in RESERVED) + ".",
        "",
        "| code | language | speaker | split | files | minutes |",
        "|---|---|---|---|---:|---:|",
    ]
    voices = [(c, v) for c, v in LANGUAGES.items()] + list(KTUBERLING_LANGUAGES.items())
    for code, v in voices:
        mine = [r for r in rows if r[2] == v.speaker]
        if mine or v in LANGUAGES.values():
            minutes = sum(r[4] for r in mine) / 60
            lines.append(
                f"| {code} | {v.language} | {v.speaker} | {v.split} | {len(mine)} | {minutes:.1f} |"
            )
    lines += ["", "| split | files | minutes | speakers |", "|---|---:|---:|---:|"]
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
    parser.add_argument(
        "--deb",
        action="append",
        help="a downloaded package, repeatable: "
        + " / ".join(f"{p}_*.deb" for p in SOURCES)
        + " (default: apt-get download both; a package not given is not used)",
    )
    args = parser.parse_args(argv)

    def run() -> None:
        summary = build(args.out, args.deb)
        for split, d in summary.items():
            print(f"{split:>5}: {d['files']} files, {d['minutes']} min, {d['voices']} speakers")
        print(f"wrote {Path(args.out).expanduser()}; train with data.root={args.out}")

    cli.run("python -m ddsp.data.voices", run)


if __name__ == "__main__":
    main()

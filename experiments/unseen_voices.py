"""The vocoder on voices it never heard, beside WORLD and the classical LPC vocoder.

    python experiments/unseen_voices.py                    # the pretrained model, full run
    python experiments/unseen_voices.py --ckpt run.ckpt    # any checkpoint
    python experiments/unseen_voices.py --quick            # 6 files per set, temporary output
    python experiments/unseen_voices.py --max-files 0      # every test file (hours here)
    python experiments/unseen_voices.py --no-fit           # without the "ours, fitted" rows

Sets (each resynthesised whole, file by file, by the four systems of :mod:`ddsp.compare`: the
model, the model with its controls fitted to each file by 200 steps of analysis-by-synthesis,
WORLD and the classical LPC vocoder):
the test split of the multi-speaker data (``python -m ddsp.data.voices``: speakers and
languages that are not in its training split), one row per language and all of them together,
and the shipped Czech speech (``data/fillets_cs``, its test split), which the pretrained model
never saw. Each set takes its first ``--max-files`` test files in a fixed pseudo-random order
(40 by default: WORLD, PESQ and f0 re-tracking cost about 2 s per second of audio here). Writes ``unseen_voices.md/.json`` and one figure per set's first clip
(``unseen_<set>.png``: spectrograms of input, ours and WORLD on one absolute scale, and the
A-weighted loudness of each) to ``experiments/results`` (``--quick``: a temporary folder).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import warnings
from pathlib import Path

import torch
from _results import results_dir, write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DDSP_ROOT", str(ROOT))

from ddsp.compare import ALL_SYSTEMS, METRICS, SYSTEMS, compare_files, render_systems, summarise  # noqa: E402
from ddsp.data.prepare import PrepConfig, analyse_file, assign_splits, find_audio_files  # noqa: E402
from ddsp.models.checkpoint import PRETRAINED, load_vocoder  # noqa: E402
from ddsp.plot import plot_levels  # noqa: E402

VOICES = Path(os.environ.get("DDSP_VOICES_ROOT") or Path.home() / ".cache/ddsp/voices")
FIGURE_CLIPS = {"el": 3, "ca": 3, "fillets_cs": 0}  # which test file of each set is drawn


def _order(path: Path) -> str:
    return hashlib.sha1(path.name.encode()).hexdigest()


def _sets(voices: Path, prep: PrepConfig, max_files: int) -> dict[str, list[Path]]:
    sets: dict[str, list[Path]] = {}
    if (voices / "splits.csv").is_file():
        test = assign_splits(voices, find_audio_files(voices), prep)["test"]
        for path in test:
            sets.setdefault(path.relative_to(voices).parts[0], []).append(path)
    else:
        print(f"{voices}: no multi-speaker data (python -m ddsp.data.voices {voices}); skipped")
    shipped = ROOT / "data" / "fillets_cs"
    sets["fillets_cs"] = assign_splits(shipped, find_audio_files(shipped), prep)["test"]
    if max_files:
        sets = {k: sorted(v, key=_order)[:max_files] for k, v in sets.items()}
    return sets


def _figure(model, cfg, path: Path, name: str, out: Path, systems: tuple[str, ...]) -> None:
    d = cfg.data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        item = analyse_file(path, PrepConfig(d.sample_rate, d.hop_length, d.f0_min, d.f0_max))
    frames = len(item["audio"]) // d.hop_length
    batch = {k: item[k][None, :frames] for k in ("f0", "voiced", "loudness")}
    batch["audio"] = item["audio"][None, : frames * d.hop_length]
    signals = {
        "input": batch["audio"][0],
        **render_systems(batch, model, d.sample_rate, d.hop_length, systems),
    }
    fig = plot_levels(signals, d.sample_rate, d.hop_length, title=f"{name}: {path.name}")
    fig.savefig(out / f"unseen_{name}.png", dpi=90)


def _row(name: str, system: str, r: dict) -> str:
    cells = [f"{r[k]:.3f}" if k != "rtf" else f"{r[k]:.4f}" for k, _, _ in METRICS]
    return (
        f"| {name} | {int(r['files'])} | {r['seconds'] / 60:.1f} | {system} | "
        + " | ".join(cells)
        + " |"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", default=str(PRETRAINED))
    ap.add_argument("--voices", default=str(VOICES), help="the multi-speaker data's folder")
    ap.add_argument("--max-files", type=int, default=40, help="per set; 0: all")
    ap.add_argument("--quick", action="store_true", help="6 files per set, temporary output")
    ap.add_argument(
        "--no-fit", action="store_true", help="leave out the 'ours, fitted' system (the slowest)"
    )
    a = ap.parse_args(argv)
    systems = SYSTEMS if a.no_fit else ALL_SYSTEMS
    model, cfg = load_vocoder(a.ckpt)
    d = cfg.data
    prep = PrepConfig(d.sample_rate, d.hop_length, d.f0_min, d.f0_max, d.f0_method)
    sets = _sets(Path(a.voices).expanduser(), prep, 6 if a.quick else a.max_files)
    t0 = time.perf_counter()
    every = [p for files in sets.values() for p in files]  # each file rendered once
    by_file = {r["file"]: r for r in compare_files(model, cfg, every, systems=systems)}
    results: dict[str, dict] = {}
    scored = {k: [by_file[str(p)] for p in v if str(p) in by_file] for k, v in sets.items()}
    voices_test = [r for k, rows in scored.items() if k != "fillets_cs" for r in rows]
    if voices_test:
        results["voices test (all)"] = summarise(voices_test)
    for name, rows in scored.items():
        results[name] = summarise(rows)
    # without the multi-speaker data the table holds the shipped split alone, and without the
    # fitted system it lacks rows: never written over the committed full results, as --quick
    temporary = a.quick or a.no_fit or not voices_test
    if temporary and not a.quick:
        why = "--no-fit" if a.no_fit else "no multi-speaker data"
        print(f"{why}: results go to a temporary folder, not experiments/results")
    out = results_dir(temporary)
    for name, index in FIGURE_CLIPS.items():
        if name in sets:
            _figure(model, cfg, sets[name][min(index, len(sets[name]) - 1)], name, out, systems)
    cap = f"at most {6 if a.quick else a.max_files or 'all'} files per set"
    head = " | ".join(label + (" ↓" if better == "lower" else " ↑") for _, label, better in METRICS)
    lines = [
        f"# Unseen voices: `{Path(a.ckpt).name}` beside WORLD and the classical LPC vocoder",
        "",
        f"`python experiments/unseen_voices.py{' --quick' if a.quick else ''}"
        f"{' --no-fit' if a.no_fit else ''}` ({cap}); "
        f"{time.perf_counter() - t0:.0f} s, {torch.get_num_threads()} threads. Whole files, "
        "means over files (ddsp.compare). Sets: the multi-speaker data's test split (speakers "
        "and languages outside its training split), by language and together; the shipped "
        "Czech test split. Figures: `unseen_<set>.png`.",
        "",
        f"| set | files | minutes | system | {head} |",
        "|---|---:|---:|---|" + "---:|" * len(METRICS),
    ]
    for name, res in results.items():
        lines += [_row(name, s, res[s]) for s in systems]
    write_results("unseen_voices", "\n".join(lines) + "\n", results, temporary)


if __name__ == "__main__":
    main()

"""Fitting the encoder's controls to each recording: how many steps, at which step size.

    python experiments/fit_controls.py            # 16 validation files, three step sizes
    python experiments/fit_controls.py --quick    # 2 files, one step size, temporary output

:func:`ddsp.synth.fit.fit_controls` refines the pretrained model's controls on one recording by
analysis-by-synthesis (the model's training loss, fresh noise at each step). Its defaults are
chosen here, on the validation voice of the multi-speaker data (``python -m ddsp.data.voices``;
Danish: a speaker and a language outside the training split, and not one of the test split's,
so that :mod:`experiments.unseen_voices` measures the chosen setting on voices it was not chosen
on). Without that data the shipped Czech validation split stands in (temporary output). Each
file is fitted once per step size, scored (:func:`ddsp.compare.file_metrics`) after each of
``--steps`` steps; WORLD on the same files is the reference. Writes ``fit_controls.md/.json``
and ``fit_controls.png`` (each metric against the steps) to ``experiments/results``.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import time
import warnings
from pathlib import Path

import torch
from _results import machine, results_dir, write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DDSP_ROOT", str(ROOT))

from ddsp.compare import file_metrics, world_resynthesis  # noqa: E402
from ddsp.data.prepare import PrepConfig, analyse_file, assign_splits, find_audio_files  # noqa: E402
from ddsp.models.checkpoint import PRETRAINED, load_vocoder  # noqa: E402
from ddsp.resynth import encode_batch, fit_file  # noqa: E402
from ddsp.synth.edit import VoiceControls, render  # noqa: E402

VOICES = Path(os.environ.get("DDSP_VOICES_ROOT") or Path.home() / ".cache/ddsp/voices")
SHOWN = (
    ("mss", "MSS ↓"),
    ("mcd_db", "MCD dB ↓"),
    ("pesq_wb", "PESQ-WB ↑"),
    ("loudness_db", "loudness err dB ↓"),
    ("unvoiced_db", "unvoiced loudness err dB ↓"),
    ("f0_cents", "f0 err cents ↓"),
)


def _files(prep: PrepConfig, count: int) -> tuple[str, list[Path], bool]:
    """``(name, validation files, from the multi-speaker data)``, the first ``count`` in a
    fixed pseudo-random order."""
    if (VOICES / "splits.csv").is_file():
        name, root = "multi-speaker validation split (Danish)", VOICES
    else:
        print(f"{VOICES}: no multi-speaker data; the shipped validation split stands in")
        name, root = "shipped Czech validation split", ROOT / "data" / "fillets_cs"
    files = assign_splits(root, find_audio_files(root), prep)["valid"]
    files.sort(key=lambda p: hashlib.sha1(p.name.encode()).hexdigest())
    return name, files[:count], root == VOICES


def _batch(item: dict, hop: int) -> dict[str, torch.Tensor]:
    frames = len(item["audio"]) // hop
    batch = {k: item[k][None, :frames] for k in ("f0", "voiced", "loudness")}
    batch["audio"] = item["audio"][None, : frames * hop]
    return batch


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


SETTINGS = (
    "0.003:all",
    "0.01:all",
    "0.03:all",
    "0.01:vocal_tract,noise",
    "0.01:vocal_tract",
    "0.01:source,noise",
)


def _setting(text: str) -> tuple[float, list[str] | None]:
    """``"lr:controls"`` (``all`` or comma-separated control names) -> ``(lr, names or None)``."""
    lr, _, names = text.partition(":")
    return float(lr), None if names in ("", "all") else names.split(",")


def _fit_one(
    model, batch: dict, item: dict, settings: list[str], checkpoints: list[int], scores: dict
):
    """Fit one file once per setting, scoring it into ``scores[setting][step]`` at each of
    ``checkpoints``; returns each setting's fitting time (scoring excluded), seconds."""
    sr, hop = model.sample_rate, model.synth.hop_length
    x = batch["audio"][0]
    start = encode_batch(model, batch)
    seconds = {}
    for setting in settings:
        lr, names = _setting(setting)
        scoring = 0.0

        def on_step(step: int, voice: VoiceControls, setting: str = setting) -> None:
            nonlocal scoring
            t0 = time.perf_counter()
            if step in checkpoints:
                y = render(model.synth, voice, torch.Generator().manual_seed(0))[0]
                scores[setting][step].append(file_metrics(y, x, item, sr, hop))
            scoring += time.perf_counter() - t0

        with torch.no_grad():
            on_step(0, start)
        t0 = time.perf_counter()
        steps = max(checkpoints)
        fit_file(model, batch, start, steps, lr=lr, controls=names, callback=on_step)
        seconds[setting] = time.perf_counter() - t0 - scoring
    return seconds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-files", type=int, default=16)
    ap.add_argument(
        "--settings",
        nargs="+",
        default=list(SETTINGS),
        help="lr:controls pairs (controls: all, or names joined by commas)",
    )
    ap.add_argument("--steps", default="0,25,50,100,200,400", help="steps at which to score")
    ap.add_argument("--quick", action="store_true", help="2 files, lr 0.01, 10 steps, temporary")
    a = ap.parse_args(argv)
    settings = ["0.01:all"] if a.quick else a.settings
    for setting in settings:
        _setting(setting)  # errors before any work
    checkpoints = [0, 10] if a.quick else sorted({int(v) for v in a.steps.split(",")})
    model, cfg = load_vocoder(PRETRAINED)
    d = cfg.data
    sr, hop = d.sample_rate, d.hop_length
    prep = PrepConfig(sr, hop, d.f0_min, d.f0_max, d.f0_method)
    name, files, full = _files(prep, 2 if a.quick else a.max_files)
    t_start = time.perf_counter()
    scores = {k: {s: [] for s in checkpoints} for k in settings}  # setting -> step -> [metrics]
    world, fit_seconds, audio_seconds = [], dict.fromkeys(settings, 0.0), 0.0
    for path in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short or silent files are still scored
            item = analyse_file(path, prep)
        batch = _batch(item, hop)
        frames = batch["f0"].shape[-1]
        if frames < 8:
            continue
        x = batch["audio"]
        item = {k: v[:frames] if k in ("f0", "voiced") else v for k, v in item.items()}
        audio_seconds += x.shape[-1] / sr
        world.append(
            file_metrics(torch.from_numpy(world_resynthesis(x[0].numpy(), sr)), x[0], item, sr, hop)
        )
        for k, seconds in _fit_one(model, batch, item, settings, checkpoints, scores).items():
            fit_seconds[k] += seconds
        print(f"{path.name}: done ({time.perf_counter() - t_start:.0f} s)", flush=True)
    results = {
        k: {str(s): {m: _mean([r[m] for r in v]) for m, _ in SHOWN} for s, v in by.items()}
        for k, by in scores.items()
    }
    results["WORLD"] = {k: _mean([m[k] for m in world]) for k, _ in SHOWN}
    steps_max = max(checkpoints)
    rtf = {k: fit_seconds[k] / audio_seconds for k in settings}
    quick = a.quick or not full
    head = " | ".join(label for _, label in SHOWN)
    lines = [
        "# Fitting the controls to each recording: steps, step size, which controls",
        "",
        f"`python experiments/fit_controls.py{' --quick' if a.quick else ''}`: "
        f"`{PRETRAINED.name}` on {len(world)} files ({audio_seconds:.0f} s) of the {name}, "
        f"{time.perf_counter() - t_start:.0f} s; {machine()}, {torch.get_num_threads()} threads. "
        "Whole files, means over files; step 0 is the encoder's controls as they are. The "
        f"real-time factor of {steps_max} steps of fitting (wall time over audio duration, "
        "scoring excluded): " + ", ".join(f"{k}: {r:.2f}" for k, r in rtf.items()) + ".",
        "",
        f"| system | lr | controls | steps | {head} |",
        "|---|---:|---|---:|" + "---:|" * len(SHOWN),
    ]
    for k in settings:
        lr, names = _setting(k)
        for s in checkpoints:
            cells = " | ".join(f"{results[k][str(s)][m]:.3f}" for m, _ in SHOWN)
            which = "all" if names is None else " + ".join(names)
            lines.append(f"| ours{', fitted' if s else ''} | {lr} | {which} | {s} | {cells} |")
    cells = " | ".join(f"{results['WORLD'][k]:.3f}" for k, _ in SHOWN)
    lines.append(f"| WORLD | | | | {cells} |")
    write_results("fit_controls", "\n".join(lines) + "\n", {**results, "rtf": rtf}, quick)
    _plot(results, settings, checkpoints, results_dir(quick) / "fit_controls.png")


def _plot(results: dict, settings: list[str], checkpoints: list[int], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5), constrained_layout=True)
    for ax, (key, label) in zip(axes.flat, SHOWN, strict=True):
        for k in settings:
            ax.plot(checkpoints, [results[k][str(s)][key] for s in checkpoints], "o-", label=k)
        ax.axhline(results["WORLD"][key], color="k", ls="--", lw=1, label="WORLD")
        ax.set_title(label)
        ax.set_xlabel("fitting steps")
    axes.flat[0].legend(fontsize="small", title="lr:controls")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

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
from ddsp.resynth import fit_file  # noqa: E402
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


def _fit_one(
    model, batch: dict, item: dict, lrs: list[float], checkpoints: list[int], scores: dict
):
    """Fit one file once per step size, scoring it into ``scores[lr][step]`` at each of
    ``checkpoints``; returns each step size's fitting time (scoring excluded), seconds."""
    sr, hop = model.sample_rate, model.synth.hop_length
    x = batch["audio"][0]
    with torch.no_grad():
        level = model.level_track(batch)
        start = VoiceControls(batch["f0"], model.encode(batch), batch["voiced"], level)
    seconds = {}
    for lr in lrs:
        scoring = 0.0

        def on_step(step: int, voice: VoiceControls, lr: float = lr) -> None:
            nonlocal scoring
            t0 = time.perf_counter()
            if step in checkpoints:
                y = render(model.synth, voice, torch.Generator().manual_seed(0))[0]
                scores[lr][step].append(file_metrics(y, x, item, sr, hop))
            scoring += time.perf_counter() - t0

        on_step(0, start)
        t0 = time.perf_counter()
        fit_file(model, batch, start, max(checkpoints), lr=lr, callback=on_step)
        seconds[lr] = time.perf_counter() - t0 - scoring
    return seconds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-files", type=int, default=16)
    ap.add_argument("--lrs", default="0.003,0.01,0.03", help="Adam step sizes, comma separated")
    ap.add_argument("--steps", default="0,25,50,100,200,400", help="steps at which to score")
    ap.add_argument("--quick", action="store_true", help="2 files, lr 0.01, 10 steps, temporary")
    a = ap.parse_args(argv)
    lrs = [0.01] if a.quick else [float(v) for v in a.lrs.split(",")]
    checkpoints = [0, 10] if a.quick else sorted({int(v) for v in a.steps.split(",")})
    model, cfg = load_vocoder(PRETRAINED)
    d = cfg.data
    sr, hop = d.sample_rate, d.hop_length
    prep = PrepConfig(sr, hop, d.f0_min, d.f0_max, d.f0_method)
    name, files, full = _files(prep, 2 if a.quick else a.max_files)
    t_start = time.perf_counter()
    scores = {lr: {s: [] for s in checkpoints} for lr in lrs}  # lr -> step -> [metrics]
    world, fit_seconds, audio_seconds = [], {lr: 0.0 for lr in lrs}, 0.0
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
        for lr, seconds in _fit_one(model, batch, item, lrs, checkpoints, scores).items():
            fit_seconds[lr] += seconds
        print(f"{path.name}: done ({time.perf_counter() - t_start:.0f} s)", flush=True)
    results = {
        str(lr): {str(s): {k: _mean([m[k] for m in v]) for k, _ in SHOWN} for s, v in by.items()}
        for lr, by in scores.items()
    }
    results["WORLD"] = {k: _mean([m[k] for m in world]) for k, _ in SHOWN}
    steps_max = max(checkpoints)
    rtf = {str(lr): fit_seconds[lr] / audio_seconds for lr in lrs}
    quick = a.quick or not full
    head = " | ".join(label for _, label in SHOWN)
    lines = [
        "# Fitting the controls to each recording: steps and step size",
        "",
        f"`python experiments/fit_controls.py{' --quick' if a.quick else ''}`: "
        f"`{PRETRAINED.name}` on {len(world)} files ({audio_seconds:.0f} s) of the {name}, "
        f"{time.perf_counter() - t_start:.0f} s; {machine()}, {torch.get_num_threads()} threads. "
        "Whole files, means over files; step 0 is the encoder's controls as they are. The "
        f"real-time factor of {steps_max} steps of fitting (wall time over audio duration, "
        "scoring excluded): " + ", ".join(f"lr {lr}: {r:.2f}" for lr, r in rtf.items()) + ".",
        "",
        f"| system | lr | steps | {head} |",
        "|---|---:|---:|" + "---:|" * len(SHOWN),
    ]
    for lr in lrs:
        for s in checkpoints:
            r = results[str(lr)][str(s)]
            cells = " | ".join(f"{r[k]:.3f}" for k, _ in SHOWN)
            lines.append(f"| ours{', fitted' if s else ''} | {lr} | {s} | {cells} |")
    cells = " | ".join(f"{results['WORLD'][k]:.3f}" for k, _ in SHOWN)
    lines.append(f"| WORLD | | | {cells} |")
    write_results("fit_controls", "\n".join(lines) + "\n", {**results, "rtf": rtf}, quick)
    _plot(results, lrs, checkpoints, results_dir(quick) / "fit_controls.png")


def _plot(results: dict, lrs: list[float], checkpoints: list[int], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(12, 6), constrained_layout=True)
    for ax, (key, label) in zip(axes.flat, SHOWN, strict=True):
        for lr in lrs:
            ax.plot(
                checkpoints,
                [results[str(lr)][str(s)][key] for s in checkpoints],
                "o-",
                label=f"lr {lr}",
            )
        ax.axhline(results["WORLD"][key], color="k", ls="--", lw=1, label="WORLD")
        ax.set_title(label)
        ax.set_xlabel("fitting steps")
    axes.flat[0].legend(fontsize="small")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

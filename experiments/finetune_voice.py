"""Fine-tuning the pretrained model to one voice: how much speech it takes and what it buys.

    python experiments/finetune_voice.py           # both shipped speakers; 1, 2 and 5.6 minutes
    python experiments/finetune_voice.py --quick   # one speaker, 1 minute, 20 steps, temporary output
    python experiments/finetune_voice.py --minutes 2 -- loss=golf_bands   # Hydra overrides

The pretrained GOLF-ss (``pretrained/golf_ss.ckpt``) never heard the shipped Czech speech. For
each of its two speakers, the model is fine-tuned as a user would on their own recordings
(``python train.py experiment=finetune data.root=...``) on the first N minutes of that speaker's
training split (``data/fillets_cs/splits.csv``, files in a fixed pseudo-random order), that
speaker's validation split picking the best step. Then the speaker's test files are
resynthesised whole (:mod:`ddsp.compare`) by the pretrained model as it is, by each fine-tuned
one, and by WORLD and the classical LPC vocoder. Writes ``finetune_voice.md/.json`` and
``finetune_voice.png`` (validation MSS over the fine-tuning steps) to ``experiments/results``
(``--quick`` or overrides after ``--``: a temporary folder, never over the committed results).
Runs and their checkpoints go to a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from _results import machine, results_dir, write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DDSP_ROOT", str(ROOT))


from ddsp.compare import METRICS, compare_files, summarise  # noqa: E402
from ddsp.models.checkpoint import PRETRAINED, load_vocoder  # noqa: E402
from ddsp.training import compose_config, train  # noqa: E402

SHIPPED = ROOT / "data" / "fillets_cs"
SPEAKERS = ("female", "male")
SHOWN = ("mss", "mcd_db", "pesq_wb", "loudness_db", "unvoiced_db", "f0_cents", "voicing_error")


def _rows(table: Path) -> list[dict[str, str]]:
    with open(table, newline="") as f:
        return list(csv.DictReader(f))


def speaker_folder(speaker: str, minutes: float, out: Path) -> tuple[Path, float, list[Path]]:
    """A data folder holding one speaker of the shipped speech: links to its files and a
    ``splits.csv`` with its validation and test splits whole and its first ``minutes`` of
    training speech. Returns ``(folder, training seconds, test files)``."""
    rows = [r for r in _rows(SHIPPED / "splits.csv") if r["speaker"] == speaker]
    rows.sort(key=lambda r: hashlib.sha1(r["file"].encode()).hexdigest())
    out.mkdir(parents=True)
    kept, seconds = [], 0.0
    for r in rows:
        if r["split"] == "train":
            if seconds >= minutes * 60:
                continue
            seconds += float(r["duration_s"])
        kept.append(r)
        (out / r["file"]).symlink_to(SHIPPED / r["file"])
    with open(out / "splits.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "split"])
        w.writerows([r["file"], r["split"]] for r in kept)
    test = [SHIPPED / r["file"] for r in kept if r["split"] == "test"]
    return out, seconds, test


def finetune(
    folder: Path, run: Path, steps: int, every: int, seed: int, extra: list[str]
) -> tuple[Path, list]:
    """``train.py experiment=finetune`` on ``folder`` (``extra``: more Hydra overrides);
    ``(best checkpoint, [(step, val MSS)])``."""
    overrides = [
        "experiment=finetune",
        f"data.root={folder}",
        f"paths.output_dir={run}",
        f"paths.cache_dir={run.parent / 'cache'}",
        f"trainer.max_steps={steps}",
        f"trainer.val_check_interval={every}",
        "~callbacks.progress_bar",  # one line per run here, not a bar per step
        "trainer.enable_progress_bar=false",
        "+trainer.enable_model_summary=false",
        "logger=csv",
        "test=false",
        f"seed={seed}",
        *extra,
    ]
    train(compose_config(*overrides))
    best = [p for p in (run / "checkpoints").glob("step*.ckpt")]
    if len(best) != 1:
        raise RuntimeError(f"{run}: expected one best checkpoint, found {best}")
    (log,) = run.rglob("metrics.csv")
    curve = [(int(r["step"]), float(r["val/mss"])) for r in _rows(log) if r.get("val/mss")]
    return best[0], curve


def _figure(curves: dict[str, list], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, curve in curves.items():
        steps, mss = zip(*curve, strict=True)
        ax.plot(steps, mss, marker="o", ms=3, label=label)
    ax.set_xlabel("fine-tuning step (0: the pretrained model)")
    ax.set_ylabel("validation MSS (the speaker's own split)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "finetune_voice.png", dpi=90)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 2.0, 6.0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--every", type=int, default=50, help="validate every N steps")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--quick", action="store_true", help="female, 1 minute, 20 steps")
    ap.add_argument("overrides", nargs="*", help="after --: Hydra overrides of the runs")
    a = ap.parse_args(argv)
    temporary = a.quick or bool(a.overrides)
    speakers = SPEAKERS[:1] if a.quick else SPEAKERS
    if a.quick:
        a.minutes, a.steps, a.every = [1.0], 20, 10
    t0 = time.perf_counter()
    pretrained, cfg = load_vocoder(PRETRAINED)
    results: dict[str, dict] = {}
    curves: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="ddsp-finetune-") as tmp:
        for speaker in speakers:
            for minutes in a.minutes:
                name = f"{speaker}, {minutes:g} min"
                folder, seconds, test = speaker_folder(
                    speaker, minutes, Path(tmp) / f"{speaker}-{minutes:g}" / "data"
                )
                print(f"== {name}: {seconds / 60:.2f} min of training speech", flush=True)
                t1 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    run = folder.parent / "run"
                    best, curve = finetune(folder, run, a.steps, a.every, a.seed, a.overrides)
                train_s = time.perf_counter() - t1
                model, _ = load_vocoder(best)
                rows = compare_files(model, cfg, test, progress=False, systems=("ours",))
                results[name] = {
                    **summarise(rows)["ours"],
                    "train_minutes": seconds / 60,
                    "finetune_seconds": train_s,
                    "best_step": int(torch.load(best, weights_only=False)["global_step"]),
                    "val_curve": curve,
                }
                curves[name] = curve
            rows = compare_files(pretrained, cfg, test, progress=False)
            for system, r in summarise(rows).items():
                label = "pretrained, as it is" if system == "ours" else system
                results[f"{speaker}: {label}"] = r
    out = results_dir(temporary)
    _figure(curves, out)
    head = " | ".join(label for key, label, _ in METRICS if key in SHOWN)
    lines = [
        "# Fine-tuning the pretrained model to one voice",
        "",
        f"`python experiments/finetune_voice.py{' '.join(['', *(argv or sys.argv[1:])])}`: "
        f"{time.perf_counter() - t0:.0f} s on {machine()}, {torch.get_num_threads()} threads. "
        f"`train.py experiment=finetune` ({a.steps} steps, validation every {a.every}, the best "
        "kept) on one speaker's first minutes of the shipped Czech training split, which the "
        "pretrained model never heard; then that speaker's test files resynthesised whole "
        "(ddsp.compare; means over files). Validation MSS over the steps: "
        "`finetune_voice.png`.",
        "",
        f"| model | training speech (min) | fine-tuning (s) | best step | {head} |",
        "|---|---:|---:|---:|" + "---:|" * len(SHOWN),
    ]
    for name, r in results.items():
        cells = " | ".join(f"{r[k]:.3f}" for k in SHOWN)
        minutes = f"{r['train_minutes']:.2f}" if "train_minutes" in r else "-"
        secs = f"{r['finetune_seconds']:.0f}" if "finetune_seconds" in r else "-"
        step = str(r["best_step"]) if "best_step" in r else "-"
        lines.append(f"| {name} | {minutes} | {secs} | {step} | {cells} |")
    write_results("finetune_voice", "\n".join(lines) + "\n", results, temporary)


if __name__ == "__main__":
    main()

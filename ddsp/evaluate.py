"""Evaluate a trained vocoder, beside WORLD and the classical LPC vocoder, with real-time factors.

    python -m ddsp.evaluate ckpt=logs/lpc_vocoder/runs/<run>/checkpoints/last.ckpt
    python -m ddsp.evaluate ckpt=... data.root=/any/folder/of/audio --out results.json

On the checkpoint's test split (default) or on every audio file of ``data.root``: one table of
MSS, MCD, PESQ-WB, loudness / f0 / voicing errors and real-time factor for ours, WORLD
analysis/synthesis and the classical LPC vocoder on the same whole files
(:mod:`ddsp.compare`); ``--table`` also writes it as markdown. ``--fit`` adds the model with its
controls fitted to each file (``"ours, fitted"``: 200 steps of analysis-by-synthesis, a few
seconds per second of audio here).

Prints MSS, MCD, loudness, f0 and voicing errors on the test split (as logged at the end of
training) and the real-time factor of the encoder and of the decoder (synthesiser) separately,
on a 6 s clip built from the test split, with 1 thread and with all threads (10 runs, the
median after dropping the minimum and the maximum, as GOLF reports RTF).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate

from . import cli
from .data.prepare import PrepConfig
from .losses import golf_mss
from .metrics import real_time_factor
from .models.checkpoint import load_vocoder
from .training import quiet_lightning

__all__ = ["evaluate", "main"]


def _clip(dm, seconds: float = 6.0) -> dict[str, torch.Tensor]:
    """Concatenate test segments into one ``seconds`` clip: a batch of one."""
    ds = dm.datasets["test"]
    hop, sr = dm.hop_length, dm.sample_rate
    frames = int(seconds * sr / hop)
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("audio", "f0", "voiced", "loudness")}
    i, have = 0, 0
    while have < frames:
        item = ds[i % len(ds)]
        for k in parts:
            parts[k].append(item[k])
        have += len(item["f0"])
        i += 1
    out = {k: torch.cat(v)[None] for k, v in parts.items()}
    out["audio"] = out["audio"][:, : frames * hop]
    for k in ("f0", "voiced", "loudness"):
        out[k] = out[k][:, :frames]
    return out


def evaluate(
    ckpt: str,
    data_root: str | None = None,
    threads: tuple[int, ...] = (1, 0),
    media_dir: str | None = None,
    limit_batches: int | float = 1.0,
    rtf_repeats: int = 10,
) -> dict[str, float]:
    """Test-split metrics and real-time factors of a checkpoint (``threads`` 0 = all).

    ``limit_batches``: Lightning's ``limit_test_batches`` (a fraction, or a number of batches);
    ``rtf_repeats``: runs per real-time factor (the median after dropping min and max).
    Test media (WAV and spectrogram PNGs) go to ``media_dir/media/test/``, by default a new
    temporary folder (never the current one)."""
    if rtf_repeats < 1:
        raise ValueError(f"rtf_repeats must be at least 1, got {rtf_repeats}")
    model, cfg = load_vocoder(ckpt)
    model.metric = golf_mss()  # whatever the run logged, the table is GOLF's MSS
    if data_root is not None:
        cfg.data.root = data_root
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.setup("test")
    with warnings.catch_warnings():
        quiet_lightning()
        media_dir = media_dir or tempfile.mkdtemp(prefix="ddsp-evaluate-")
        trainer = L.Trainer(
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            default_root_dir=media_dir,
            limit_test_batches=limit_batches,
        )
        results = dict(trainer.test(model, datamodule=dm, verbose=False)[0])
    clip = _clip(dm)
    seconds = clip["audio"].shape[-1] / dm.sample_rate
    default_threads = torch.get_num_threads()
    with torch.no_grad():
        controls = model.encode(clip)
        for n in threads:
            torch.set_num_threads(n or default_threads)
            label = f"{n or default_threads}thr"
            results[f"rtf/encoder_{label}"] = real_time_factor(
                lambda: model.encode(clip), seconds, rtf_repeats
            )
            results[f"rtf/decoder_{label}"] = real_time_factor(
                lambda: model.render(clip, controls), seconds, rtf_repeats
            )
    torch.set_num_threads(default_threads)
    results["parameters"] = float(sum(p.numel() for p in model.parameters()))
    return {k: float(v) for k, v in results.items()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "args",
        nargs="*",
        help="ckpt=PATH of a checkpoint written by train.py (default: the pretrained model in "
        "pretrained/); data.root=FOLDER: compare on every audio file there",
    )
    ap.add_argument(
        "--data-root", default=None, help="the test split of another folder (or a moved copy)"
    )
    ap.add_argument("--out", default=None, help="also write the results as JSON")
    ap.add_argument("--table", default=None, help="also write the comparison as markdown")
    ap.add_argument("--max-files", type=int, default=None, help="compare on the first N files only")
    ap.add_argument(
        "--media-dir", default=None, help="where test media go (default: a temporary folder)"
    )
    ap.add_argument(
        "--fit",
        action="store_true",
        help="also compare the model with its controls fitted to each file ('ours, fitted')",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a first look: 2 test batches, 2 files (unless --max-files), real-time factors on "
        "1 thread from 3 runs",
    )
    a = ap.parse_args(argv)
    if a.quick and a.max_files is None:
        a.max_files = 2
    return cli.run("python -m ddsp.evaluate", lambda: _main(a))


def _main(a: argparse.Namespace) -> dict:
    from .compare import ALL_SYSTEMS, SYSTEMS, compare, format_table
    from .data.prepare import TooFewFilesError, assign_splits, find_audio_files

    ckpt, folder = None, None
    for o in a.args:
        key, _, value = o.partition("=")
        if not value and o.endswith(".ckpt"):  # a bare path
            key, value = "ckpt", o
        if key not in ("ckpt", "data.root") or not value:
            raise ValueError(f"unknown argument {o!r}; give ckpt=PATH and/or data.root=FOLDER")
        if key == "ckpt":
            ckpt = value
        else:
            folder = value
    if ckpt is None:
        from .models.checkpoint import PRETRAINED

        ckpt = str(PRETRAINED)
    for path, kinds in ((a.out, (".json",)), (a.table, (".md",))):
        if path:
            cli.writable_file(path, kinds)
    for name, root in (("data.root", folder), ("--data-root", a.data_root)):
        if root is not None and not Path(root).is_dir():
            raise FileNotFoundError(f"{name} {root}: no such folder")
    results: dict = {}
    if folder is None:  # the test split, as logged at the end of training, and its RTFs
        quick = dict(threads=(1,), limit_batches=2, rtf_repeats=3) if a.quick else {}
        results["test_split"] = evaluate(ckpt, a.data_root, media_dir=a.media_dir, **quick)
        width = max(map(len, results["test_split"]))
        for k in sorted(results["test_split"]):
            print(f"{k:<{width}}  {results['test_split'][k]:.4f}")
    model, cfg = load_vocoder(ckpt)
    if folder is not None:
        files, title = find_audio_files(folder), f"{folder}: every file"
    else:
        root = Path(a.data_root or cfg.data.root)
        d = cfg.data
        prep = PrepConfig(d.sample_rate, d.hop_length, d.f0_min, d.f0_max, d.f0_method)
        try:
            files = assign_splits(root, find_audio_files(root), prep)["test"]
        except TooFewFilesError as e:
            raise ValueError(
                f"{root}: too few files to hold whole ones out for the comparison (training "
                "split them by time); compare on other recordings of the voice: data.root=FOLDER"
            ) from e
        title = f"{root}: test split"
    if a.max_files is not None:
        files = files[: a.max_files]
    results["comparison"] = compare(model, cfg, files, systems=ALL_SYSTEMS if a.fit else SYSTEMS)
    table = format_table(results["comparison"], f"{title} ({Path(ckpt).name})")
    print(table)
    if a.table:
        Path(a.table).write_text(table + "\n")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()

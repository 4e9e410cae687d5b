"""Evaluate a trained vocoder on its data's test split, with real-time factors.

    python -m ddsp.evaluate ckpt=logs/lpc_vocoder/runs/<run>/checkpoints/last.ckpt
    python -m ddsp.evaluate ckpt=... --data-root /path/to/audio --out results.json

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
from .metrics import real_time_factor
from .models.checkpoint import load_vocoder

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
) -> dict[str, float]:
    """Test-split metrics and real-time factors of a checkpoint (``threads`` 0 = all).

    Test media (WAV and spectrogram PNGs) go to ``media_dir/media/test/``, by default a new
    temporary folder (never the current one)."""
    model, cfg = load_vocoder(ckpt)
    if data_root is not None:
        cfg.data.root = data_root
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.setup("test")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        media_dir = media_dir or tempfile.mkdtemp(prefix="ddsp-evaluate-")
        trainer = L.Trainer(
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            default_root_dir=media_dir,
        )
        results = dict(trainer.test(model, datamodule=dm, verbose=False)[0])
    clip = _clip(dm)
    seconds = clip["audio"].shape[-1] / dm.sample_rate
    default_threads = torch.get_num_threads()
    with torch.no_grad():
        controls = model.encoder(clip["audio"], clip["f0"], clip["voiced"], clip["loudness"])
        for n in threads:
            torch.set_num_threads(n or default_threads)
            label = f"{n or default_threads}thr"
            results[f"rtf/encoder_{label}"] = real_time_factor(
                lambda: model.encoder(clip["audio"], clip["f0"], clip["voiced"], clip["loudness"]),
                seconds,
            )
            results[f"rtf/decoder_{label}"] = real_time_factor(
                lambda: model.render(clip, controls), seconds
            )
    torch.set_num_threads(default_threads)
    results["parameters"] = float(sum(p.numel() for p in model.parameters()))
    return {k: float(v) for k, v in results.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("ckpt", help="ckpt=PATH (or just PATH) of a checkpoint written by train.py")
    ap.add_argument(
        "--data-root", default=None, help="evaluate on another folder (or a moved copy)"
    )
    ap.add_argument("--out", default=None, help="also write the results as JSON")
    ap.add_argument(
        "--media-dir", default=None, help="where test media go (default: a temporary folder)"
    )
    a = ap.parse_args(argv)
    return cli.run("python -m ddsp.evaluate", lambda: _main(a))


def _main(a: argparse.Namespace) -> dict[str, float]:
    ckpt = a.ckpt.split("=", 1)[1] if a.ckpt.startswith("ckpt=") else a.ckpt
    if a.out:
        cli.writable_file(a.out, (".json",))
    if a.data_root is not None and not Path(a.data_root).is_dir():
        raise FileNotFoundError(f"--data-root {a.data_root}: no such folder")
    results = evaluate(ckpt, a.data_root, media_dir=a.media_dir)
    width = max(map(len, results))
    for k in sorted(results):
        print(f"{k:<{width}}  {results[k]:.4f}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()

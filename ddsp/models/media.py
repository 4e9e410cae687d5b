"""Send audio examples and spectrogram figures to whichever Lightning logger is active."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
import torch

from ..plot import figure_to_array, plot_resynthesis

__all__ = ["log_examples"]


def log_examples(
    loggers: list,
    pairs: list[tuple[torch.Tensor, torch.Tensor]],
    sample_rate: int,
    step: int,
    prefix: str,
    fallback_dir: str | Path,
) -> None:
    """Log ``(original, resynthesis)`` pairs as audio and side-by-side spectrogram images.

    wandb and TensorBoard receive media through their APIs; any other logger (CSV) or no logger
    gets WAV and PNG files under ``<log_dir or fallback_dir>/media/<prefix>/step<step>/``.

    Args:
        pairs: list of ``((time,), (time,))`` CPU tensors.
    """
    pairs = [(t.float().clamp(-1, 1), o.float().clamp(-1, 1)) for t, o in pairs]
    images = [
        figure_to_array(plot_resynthesis(t, o, sample_rate, f"{prefix} example {i}"))
        for i, (t, o) in enumerate(pairs)
    ]
    handled = False
    for lg in loggers:
        kind = type(lg).__name__
        if kind == "WandbLogger":
            audios = [a.numpy() for pair in pairs for a in pair]
            caps = [f"{i}:{w}" for i in range(len(pairs)) for w in ("original", "resynthesis")]
            lg.log_audio(
                f"{prefix}/audio",
                audios,
                step=step,
                sample_rate=[sample_rate] * len(audios),
                caption=caps,
            )
            lg.log_image(f"{prefix}/spectrograms", images, step=step)
            handled = True
        elif kind == "TensorBoardLogger":
            for i, ((t, o), img) in enumerate(zip(pairs, images, strict=True)):
                lg.experiment.add_audio(f"{prefix}/{i}/original", t[None], step, sample_rate)
                lg.experiment.add_audio(f"{prefix}/{i}/resynthesis", o[None], step, sample_rate)
                lg.experiment.add_image(f"{prefix}/{i}/spectrograms", img, step, dataformats="HWC")
            handled = True
    if handled:
        return
    base = (
        Path(getattr(loggers[0], "log_dir", None) or fallback_dir)
        if loggers
        else Path(fallback_dir)
    )
    out = base / "media" / prefix / f"step{step:07d}"
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt

    for i, ((t, o), img) in enumerate(zip(pairs, images, strict=True)):
        sf.write(out / f"{i}_original.wav", t.numpy(), sample_rate)
        sf.write(out / f"{i}_resynthesis.wav", o.numpy(), sample_rate)
        plt.imsave(out / f"{i}_spectrograms.png", img)

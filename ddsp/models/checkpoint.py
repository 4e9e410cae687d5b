"""Rebuild a trained vocoder from a checkpoint written by ``train.py``."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

__all__ = ["load_vocoder"]


def load_vocoder(
    ckpt_path: str | Path, map_location: str = "cpu"
) -> tuple[torch.nn.Module, DictConfig]:
    """Load ``(model in eval mode, run config)`` from a checkpoint saved by ``train.py``.

    The checkpoint carries the resolved Hydra config (``ddsp_config``), so the model is built
    exactly as it was trained, then its weights are loaded.
    """
    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # pickle, zip, EOF, ...: whatever a non-checkpoint file raises
        raise ValueError(
            f"{path}: not a checkpoint file ({type(e).__name__}); pass the .ckpt that train.py "
            "wrote under <run>/checkpoints/"
        ) from e
    if not isinstance(ckpt, dict) or "ddsp_config" not in ckpt:
        raise ValueError(
            f"{path}: not a ddsp-lpc checkpoint (no 'ddsp_config'); was it written by train.py?"
        )
    cfg = OmegaConf.create(ckpt["ddsp_config"])
    model = instantiate(cfg.model, loss=instantiate(cfg.loss), metric=instantiate(cfg.metric))
    model.load_state_dict(ckpt["state_dict"])
    model.config = ckpt["ddsp_config"]
    return model.eval(), cfg

"""Rebuild a trained vocoder from a checkpoint written by ``train.py``."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

__all__ = ["load_vocoder", "strip_checkpoint", "PRETRAINED"]

# The checkpoint shipped with a checkout (trained by the command in pretrained/README.md); used
# when ``python -m ddsp.resynth`` or ``python -m ddsp.evaluate`` get no ``ckpt=``.
PRETRAINED = Path(__file__).resolve().parents[2] / "pretrained" / "golf_ss.ckpt"


def load_vocoder(
    ckpt_path: str | Path | None = None, map_location: str = "cpu"
) -> tuple[torch.nn.Module, DictConfig]:
    """Load ``(model in eval mode, run config)`` from a checkpoint saved by ``train.py``
    (``None``: the pretrained model shipped in ``pretrained/``).

    The checkpoint carries the resolved Hydra config (``ddsp_config``), so the model is built
    exactly as it was trained, then its weights are loaded.
    """
    if ckpt_path is None:
        if not PRETRAINED.is_file():
            raise FileNotFoundError(
                f"no ckpt= given and no pretrained model at {PRETRAINED}: pass ckpt=PATH of a "
                "checkpoint written by train.py"
            )
        ckpt_path = PRETRAINED
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
    root = cfg.get("data", {}).get("root")
    if root and not Path(root).is_absolute():  # shipped checkpoints name data in the checkout
        cfg.data.root = str(PRETRAINED.parents[1] / root)
    model = instantiate(cfg.model, loss=instantiate(cfg.loss), metric=instantiate(cfg.metric))
    model.load_state_dict(ckpt["state_dict"])
    model.config = ckpt["ddsp_config"]
    return model.eval(), cfg


def strip_checkpoint(
    src: str | Path, dst: str | Path, data_root: str | None = None, **extra
) -> Path:
    """Write what :func:`load_vocoder` needs from a training checkpoint (weights and config,
    no optimiser state: a third of the size), plus ``extra`` entries (e.g. metrics).

    ``data_root`` replaces the config's ``data.root`` (the folder ``ddsp.evaluate`` takes its
    test split from); the training folder is kept as ``trained_on_root``. A relative path is
    read from the checkout, e.g. ``"data/fillets_cs"`` for a checkpoint shipped with it."""
    ckpt = torch.load(src, map_location="cpu", weights_only=False)
    config = dict(ckpt["ddsp_config"])
    if data_root is not None:
        extra.setdefault("trained_on_root", config["data"]["root"])
        config["data"] = {**config["data"], "root": data_root}
    out = {"state_dict": ckpt["state_dict"], "ddsp_config": config, **extra}
    torch.save(out, dst)
    return Path(dst)

"""Rebuild a trained vocoder from a checkpoint written by ``train.py``."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

__all__ = ["load_vocoder", "init_weights", "strip_checkpoint", "PRETRAINED"]

# The checkpoint shipped with a checkout (trained by the command in pretrained/README.md); used
# when ``python -m ddsp.resynth`` or ``python -m ddsp.evaluate`` get no ``ckpt=``.
PRETRAINED = Path(__file__).resolve().parents[2] / "pretrained" / "golf_ss.ckpt"


def _resolve(ckpt_path: str | Path | None) -> Path:
    """``None`` or ``"pretrained"``: the shipped model; otherwise the path, which must exist."""
    if ckpt_path is None or str(ckpt_path) == "pretrained":
        if not PRETRAINED.is_file():
            raise FileNotFoundError(
                f"no pretrained model at {PRETRAINED}: pass the path of a checkpoint written by "
                "train.py"
            )
        return PRETRAINED
    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    return path


def _read(path: Path, map_location: str = "cpu") -> dict:
    """The checkpoint's dict, with a clear error for a file train.py did not write."""
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
    return ckpt


def load_vocoder(
    ckpt_path: str | Path | None = None, map_location: str = "cpu"
) -> tuple[torch.nn.Module, DictConfig]:
    """Load ``(model in eval mode, run config)`` from a checkpoint saved by ``train.py``
    (``None``: the pretrained model shipped in ``pretrained/``).

    The checkpoint carries the resolved Hydra config (``ddsp_config``), so the model is built
    exactly as it was trained, then its weights are loaded.
    """
    path = _resolve(ckpt_path)
    ckpt = _read(path, map_location)
    cfg = OmegaConf.create(ckpt["ddsp_config"])
    root = cfg.get("data", {}).get("root")
    if root and not Path(root).is_absolute():  # shipped checkpoints name data in the checkout
        cfg.data.root = str(PRETRAINED.parents[1] / root)
    model = instantiate(cfg.model, loss=instantiate(cfg.loss), metric=instantiate(cfg.metric))
    model.load_state_dict(ckpt["state_dict"])
    model.config = ckpt["ddsp_config"]
    return model.eval(), cfg


def _flat(d: object, prefix: str = "") -> dict[str, object]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, object] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


# model settings that do not shape the weights: a fine-tuning run may change them freely
_FREE = ("model.optimizer", "model.scheduler", "model.n_audio_examples")


def init_weights(model: torch.nn.Module, ckpt_path: str | Path, config: dict) -> Path:
    """Copy a checkpoint's weights into ``model`` before training: fine-tuning (``train.py
    init_from=PATH``, or ``init_from=pretrained`` for the shipped model). Unlike a resume
    (``ckpt_path=``), the step count, optimiser and schedule start afresh.

    ``config`` is the new run's resolved config. Its sample rate and hop must be the
    checkpoint's, and its model the checkpoint's in everything that shapes the weights; a
    mismatch raises ``ValueError`` naming the settings that differ. Other model settings that
    differ (``max_radius``, ``level``, ...; not the optimiser, schedule or logging) are warned
    about: the weights load, but were trained for another model. Returns the path read.
    """
    path = _resolve(ckpt_path)
    ckpt = _read(path)
    theirs, ours = ckpt["ddsp_config"], config
    for key in ("sample_rate", "hop_length"):
        a, b = theirs["data"][key], ours["data"][key]
        if a != b:
            raise ValueError(
                f"init_from={path}: trained with data.{key}={a}, this run has {b}; "
                f"set data.{key}={a}"
            )
    a, b = _flat({"model": theirs["model"]}), _flat({"model": ours["model"]})
    differ = [
        f"{k}: {a.get(k, '(unset)')} there, {b.get(k, '(unset)')} here"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k) and not k.startswith(_FREE)
    ]
    mine = model.state_dict()
    given = ckpt["state_dict"]
    missing = sorted(set(mine) - set(given))
    extra = sorted(set(given) - set(mine))
    shapes = sorted(k for k in set(mine) & set(given) if mine[k].shape != given[k].shape)
    if missing or extra or shapes:
        what = [f"{n} {', '.join(ks[:3])}" for n, ks in
                (("missing", missing), ("unexpected", extra), ("other shape", shapes)) if ks]  # fmt: skip
        raise ValueError(
            f"init_from={path}: its weights do not fit this run's model ({'; '.join(what)}). "
            + (
                f"Settings that differ: {'; '.join(differ[:8])}"
                if differ
                else "Its model config matches; the code that builds it has changed since."
            )
            + (
                " The shipped model is GOLF-ss: experiment=finetune builds it."
                if path == PRETRAINED
                else ""
            )
        )
    if differ:
        warnings.warn(
            f"init_from={path}: the weights fit, but this run's model differs from the one they "
            f"were trained for: {'; '.join(differ)}",
            stacklevel=2,
        )
    model.load_state_dict(given)
    return path


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

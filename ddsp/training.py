"""Build everything from a Hydra config and train (the body of ``train.py``)."""

from __future__ import annotations

from ._extras import require

require("train", "ddsp.training", "lightning", "hydra", "omegaconf")

# ruff: noqa: E402

import logging
import warnings
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from .models.checkpoint import init_weights

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent  # the checkout (train.py sets DDSP_ROOT to it)

__all__ = ["train", "compose_config", "quiet_lightning", "LatestCheckpoint", "ROOT"]


class LatestCheckpoint(ModelCheckpoint):
    """``<dirpath>/last.ckpt``: the latest step, written at every validation and when training
    ends, what ``ckpt_path=`` resumes from. Lightning's own ``save_last`` copies the last
    checkpoint its monitor kept, i.e. the last *improvement*: a resume from it silently drops
    every step after the best one.
    """

    def __init__(self, dirpath: str | Path, filename: str = "last") -> None:
        super().__init__(
            dirpath=dirpath,
            filename=filename,
            monitor=None,
            save_top_k=1,
            enable_version_counter=False,
        )

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        saved = self._last_global_step_saved == trainer.global_step  # by the last validation
        if not trainer.fast_dev_run and trainer.global_step > 0 and not saved:
            trainer.save_checkpoint(Path(self.dirpath) / f"{self.filename}{self.FILE_EXTENSION}")


def compose_config(*overrides: str) -> DictConfig:
    """The config ``python train.py OVERRIDES...`` composes from this checkout's ``conf/``, not
    resolved: to train or to build a run's parts from Python, e.g.
    ``train(compose_config("experiment=finetune", "data.root=voice", "paths.output_dir=run"))``
    (``paths.output_dir`` is Hydra's run folder under ``train.py``: give it here to train)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def _instantiate_dict(cfg: DictConfig | None) -> list:
    """Instantiate every ``_target_`` entry of a ``{name: config}`` group (loggers, callbacks)."""
    if not cfg:
        return []
    return [instantiate(c) for c in cfg.values() if isinstance(c, DictConfig) and "_target_" in c]


def _no_litlogger_tip(record: logging.LogRecord) -> bool:
    return "litlogger" not in record.getMessage()


def quiet_lightning() -> None:
    """Silence what Lightning prints that is not the user's business (call before a Trainer).

    Warnings filters are process-wide: call it inside ``warnings.catch_warnings()`` to scope
    them. The litlogger advert's logging filter stays (adding it again is a no-op)."""
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*pkg_resources is deprecated.*")
    # Lightning's own use of a deprecated torch pytree API
    warnings.filterwarnings("ignore", ".*isinstance.treespec, LeafSpec.*")
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_no_litlogger_tip)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train (and test) the configured model; returns the final logged metrics."""
    quiet_lightning()
    L.seed_everything(cfg.seed, workers=True)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    model: L.LightningModule = instantiate(
        cfg.model, loss=instantiate(cfg.loss), metric=instantiate(cfg.metric)
    )
    model.config = OmegaConf.to_container(cfg, resolve=True)  # rebuilds the model from a .ckpt
    if cfg.get("init_from"):
        if cfg.get("ckpt_path"):
            raise ValueError(
                f"init_from={cfg.init_from} and ckpt_path={cfg.ckpt_path}: give one. ckpt_path "
                "resumes a run (its step, optimiser and schedule); init_from starts a new run "
                "from a checkpoint's weights (fine-tuning)"
            )
        src = init_weights(model, cfg.init_from, model.config)
        log.info("weights from %s; step, optimiser and schedule start afresh", src)
    loggers = _instantiate_dict(cfg.get("logger"))
    for lg in loggers:  # Lightning passes anonymous=None, which wandb warns has no effect
        getattr(lg, "_wandb_init", {}).pop("anonymous", None)
    callbacks = _instantiate_dict(cfg.get("callbacks"))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)

    n_params = sum(p.numel() for p in model.parameters())
    log.info("model: %s, %.2f M parameters", type(model.synth).__name__, n_params / 1e6)
    d = cfg.data
    log.info(
        "data: %s at %s Hz, batches of %s x %s s; run folder: %s",
        d.get("root"), d.get("sample_rate"), d.get("batch_size"), d.get("segment_seconds"),
        cfg.paths.output_dir,
    )  # fmt: skip
    for lg in loggers:
        lg.log_hyperparams({**OmegaConf.to_container(cfg, resolve=True), "n_parameters": n_params})

    if cfg.get("validate_before_training") and not cfg.get("ckpt_path"):
        before = trainer.validate(model, datamodule=datamodule, verbose=False)
        if trainer.is_global_zero and before:
            log.info(
                "before training: %s", ", ".join(f"{k} = {v:.4f}" for k, v in before[0].items())
            )
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}

    if cfg.get("test"):
        ckpt = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if not ckpt:
            warnings.warn("no best checkpoint; testing the current weights", stacklevel=1)
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt or None)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    if trainer.is_global_zero:
        log.info("run folder: %s", cfg.paths.output_dir)
        for k in sorted(metrics):
            log.info("%s = %.4f", k, metrics[k])
    return metrics

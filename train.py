"""Train a vocoder: ``python train.py experiment=ddsp_hpn`` (see conf/ and README.md)."""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from ddsp import cli
from ddsp.training import train

# conf/paths: runs, logs and data are found relative to the checkout unless DDSP_ROOT says
# otherwise (set before Hydra composes the config, which names the run folder)
os.environ.setdefault("DDSP_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = cli.run("train.py", lambda: train(cfg))  # user errors: one line, exit 2
    return metrics.get("val/mss")


if __name__ == "__main__":
    main()

"""Train a vocoder: ``python train.py experiment=ddsp_hpn`` (see conf/ and README.md)."""

import hydra
from omegaconf import DictConfig

from ddsp.training import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    return metrics.get("val/mss")


if __name__ == "__main__":
    main()

"""Entry point: `python train.py algo=dqn env=cartpole` (see conf/train.yaml)."""

import sys

import hydra
from omegaconf import DictConfig

from litrl import ConfigError
from litrl.train import run


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    try:
        return run(cfg)
    except ConfigError as error:
        print(f"litrl: configuration error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

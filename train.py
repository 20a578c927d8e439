"""Entry point: `python train.py algo=dqn env=cartpole` (see conf/train.yaml)."""

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from litrl import ConfigError, EnvError, RunAborted, RunInterrupted, TrainingDiverged
from litrl.config import expand_shorthands, register_resolvers

register_resolvers()  # at import: joblib/submitit workers import this module, never run it

# What the user must fix -> (exit status, how the one-line message starts). No traceback wall.
FAILURES = {
    ConfigError: (2, "configuration error"),
    EnvError: (3, "environment error"),
    TrainingDiverged: (4, "training diverged"),
}


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    # Imported here, not at the top: a launcher's parent process (joblib, submitit) only
    # schedules jobs and need not pay for importing torch and Lightning.
    from litrl.train import run

    try:
        return run(cfg)
    except RunInterrupted as stop:
        print(f"litrl: {stop}", file=sys.stderr)
        sys.exit(128 + stop.signum)  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
    except RunAborted as abort:
        print(f"litrl: {abort}", file=sys.stderr)
        sys.exit(130)
    except tuple(FAILURES) as error:
        status, kind = next(v for k, v in FAILURES.items() if isinstance(error, k))
        if HydraConfig.get().mode == RunMode.MULTIRUN and not isinstance(error, ConfigError):
            # One diverged trial or broken env must not end the whole sweep: the job reports
            # NaN (a failed trial to Optuna) and the other jobs go on.
            logging.getLogger("litrl").error("%s: %s", kind, error)
            return float("nan")
        print(f"litrl: {kind}: {error}", file=sys.stderr)
        sys.exit(status)


if __name__ == "__main__":
    sys.argv[1:] = expand_shorthands(sys.argv[1:])
    main()

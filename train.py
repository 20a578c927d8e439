"""Entry point: `python train.py algo=dqn env=cartpole` (see conf/train.yaml)."""

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from litrl import ConfigError, EnvError, OutputError, RunAborted, RunInterrupted, TrainingDiverged
from litrl.config import check_no_split_values, expand_shorthands, register_resolvers
from litrl.failures import clear_failure, record_failure

register_resolvers()  # at import: joblib/submitit workers import this module, never run it

# What the user must fix -> (exit status, how the one-line message starts). No traceback wall.
FAILURES = {
    ConfigError: (2, "configuration error"),
    EnvError: (3, "environment error"),
    TrainingDiverged: (4, "training diverged"),
    OutputError: (5, "output error"),
}
log = logging.getLogger("litrl")


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    # Imported here, not at the top: a launcher's parent process (joblib, submitit) only
    # schedules jobs and need not pay for importing torch and Lightning.
    from litrl.train import run

    in_sweep = HydraConfig.get().mode == RunMode.MULTIRUN
    if in_sweep:
        clear_failure(_job_dir())
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
        if in_sweep:
            return _job_failed(kind, str(error))
        print(f"litrl: {kind}: {error}", file=sys.stderr)
        sys.exit(status)
    except Exception as error:
        if not in_sweep:
            raise
        log.exception("the job failed")  # the traceback goes to the job's log
        return _job_failed("unexpected error", f"{type(error).__name__}: {error}")


def _job_failed(kind: str, message: str) -> float:
    """One job of a sweep failed: recorded in its dir for the sweep's summary (at the end, with
    a non-zero exit status) and for `litrl.report`; the other jobs go on. NaN is a failed trial
    to the Optuna sweeper."""
    log.error("%s: %s", kind, message)
    record_failure(_job_dir(), kind, message)
    return float("nan")


def _job_dir() -> Path:
    return Path(HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    try:
        check_no_split_values(sys.argv[1:])
    except ConfigError as error:
        print(f"litrl: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    sys.argv[1:] = expand_shorthands(sys.argv[1:])
    main()

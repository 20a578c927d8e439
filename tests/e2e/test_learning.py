"""It learns: the default DQN config solves CartPole with a fixed seed (slow; make test-all)."""

from pathlib import Path

import pytest

from litrl.config import compose_config
from litrl.events import read_scalars
from litrl.train import run


@pytest.mark.slow
def test_dqn_solves_cartpole(tmp_path: Path):
    cfg = compose_config(
        [
            "seed=0",
            "accelerator=cpu",
            f"run_dir={tmp_path}",
            "progress_bar_refresh_steps=1000",
            "video.every_n_evals=0",
        ]
    )
    final_return = run(cfg)
    evals = [e.value for e in read_scalars(tmp_path)["eval/return_mean"]]
    assert max(evals) >= 475, evals
    assert final_return >= 400, evals  # a broken or collapsing learner ends far below this


@pytest.mark.slow
def test_reinforce_reaches_the_cartpole_threshold(tmp_path: Path):
    cfg = compose_config(
        [
            "seed=0",
            "algo=reinforce",
            "accelerator=cpu",
            f"run_dir={tmp_path}",
            "progress_bar_refresh_steps=1000",
            "video.every_n_evals=0",
        ]
    )
    run(cfg)
    evals = [e.value for e in read_scalars(tmp_path)["eval/return_mean"]]
    assert max(evals) >= 475, evals

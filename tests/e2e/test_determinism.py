"""The same seed twice on CPU gives the same run: identical logged metrics and final parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from litrl.events import read_scalars
from litrl.train import run


def _outcome(compose, run_dir: Path, *overrides: str):
    run(compose(*overrides, run_dir=run_dir))
    metrics = {
        tag: [(s.step, s.value) for s in scalars]
        for tag, scalars in read_scalars(run_dir).items()
        if not tag.startswith("perf/")  # wall-clock rates and memory
    }
    weights = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    return metrics, weights


@pytest.mark.parametrize("algo", ["dqn", "reinforce"])
def test_same_seed_same_run_other_seed_other_run(compose, tmp_path: Path, algo: str) -> None:
    first = _outcome(compose, tmp_path / "a", f"algo={algo}", "seed=7")
    again = _outcome(compose, tmp_path / "b", f"algo={algo}", "seed=7")
    other = _outcome(compose, tmp_path / "c", f"algo={algo}", "seed=8")

    assert again[0] == first[0]
    assert all(torch.equal(again[1][name], first[1][name]) for name in first[1])
    assert other[0]["train/loss"] != first[0]["train/loss"]
    assert not all(torch.equal(other[1][name], first[1][name]) for name in first[1])

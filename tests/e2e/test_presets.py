"""Every experiment= preset trains under debug=smoke: what a user runs to check a preset before
spending hours on it (slow: the TD3 presets' 200 updates per collect take half a minute)."""

from __future__ import annotations

from pathlib import Path

import pytest

from litrl.config import CONFIG_DIR, compose_config
from litrl.events import read_scalars
from litrl.train import run

PRESETS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_every_experiment_preset_trains_under_debug_smoke(preset: str, tmp_path: Path) -> None:
    cfg = compose_config([f"experiment={preset}", "debug=smoke", f"run_dir={tmp_path}"])
    run(cfg)
    assert len(read_scalars(tmp_path)["eval/return_mean"]) >= 1
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()

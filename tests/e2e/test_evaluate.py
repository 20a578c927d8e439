"""The evaluation CLI and eval videos: a trained agent is easy to load, score and watch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litrl.evaluate import load_agent
from litrl.train import run
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A smoke run with a TensorBoard video at every evaluation."""
    from litrl.config import compose_config

    run_dir = tmp_path_factory.mktemp("trained")
    run(compose_config(["debug=smoke", f"run_dir={run_dir}", "video.every_n_evals=1"]))
    return run_dir


def _evaluate(*overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "evaluate.py", *overrides],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_eval_videos_reach_tensorboard(trained_run: Path) -> None:
    accumulator = EventAccumulator(str(trained_run), size_guidance={"images": 0})
    accumulator.Reload()
    videos = accumulator.Images("eval/video")
    assert [v.step for v in videos] == [2024, 3048]
    assert videos[0].encoded_image_string[:3] == b"GIF"


def test_evaluate_cli_prints_returns_and_writes_videos(trained_run: Path) -> None:
    ckpt = trained_run / "checkpoints" / "best.ckpt"
    result = _evaluate(f"ckpt={ckpt}", "episodes=4", "video=true", "video_episodes=2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "CartPole-v1: 4 greedy episodes, return" in result.stdout
    videos = sorted((trained_run / "videos" / "best").glob("*.mp4"))
    assert len(videos) == 2 and all(v.stat().st_size > 1000 for v in videos)


def test_evaluate_cli_refuses_zero_episodes_in_one_paragraph(trained_run: Path) -> None:
    result = _evaluate(f"ckpt={trained_run / 'checkpoints' / 'best.ckpt'}", "episodes=0")
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.startswith("litrl: configuration error: episodes=0 is out of range"), message
    assert "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize(
    ("override", "start"),
    [
        ("episodes=abc", "episodes=abc is not an integer"),
        ("video=maybe", "video=maybe is not true or false"),
        ("video_episodes=0", "video_episodes=0 is out of range"),
        ("seed=1.5", "seed=1.5 is not an integer"),
        ("device=gpu", "device=gpu is not a torch device"),
    ],
)
def test_evaluate_cli_checks_its_fields_before_reading_the_checkpoint(
    override: str, start: str
) -> None:
    result = _evaluate("ckpt=no/such/file.ckpt", override)  # the checkpoint is never opened
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.startswith(f"litrl: configuration error: {start}"), message
    assert "\n" not in message and "Traceback" not in message


def test_loaded_agent_scores_like_its_last_evaluation(trained_run: Path) -> None:
    module, env = load_agent(trained_run / "checkpoints" / "last.ckpt")
    assert env.id == "CartPole-v1"
    assert module.env_steps == 3048


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such checkpoint file"), (b"\x80\x02garbage", "cannot be read")],
)
def test_evaluate_cli_rejects_a_bad_checkpoint(tmp_path: Path, content, message: str) -> None:
    ckpt = tmp_path / "model.ckpt"
    if content is not None:
        ckpt.write_bytes(content)
    result = _evaluate(f"ckpt={ckpt}")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr

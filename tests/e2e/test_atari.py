"""Atari: the standard preprocessing, uint8 frames in the buffer, a CNN, a short CPU run."""

from __future__ import annotations

import gymnasium as gym
import torch

from litrl.data.datamodule import ReplayDataModule
from litrl.envs import EnvFactory
from litrl.train import run

ATARI = ["experiment=dqn_atari", "env.max_episode_steps=400"]  # short Pong episodes (frames)
TINY = [
    "total_env_steps=1500",
    "algo.data.buffer_capacity=2048",
    "algo.data.warmup_env_steps=512",
    "algo.data.updates_per_collect=4",
    "algo.data.batch_size=16",
]


def _pong(**atari) -> EnvFactory:
    return EnvFactory(
        id="ALE/Pong-v5",
        package="ale_py",
        kwargs={"frameskip": 1},
        max_episode_steps=400,
        atari=atari,
    )


def _wrappers(env: gym.Env) -> set[str]:
    names = set()
    while isinstance(env, gym.Wrapper):
        names.add(type(env).__name__)
        env = env.env
    return names


def test_preprocessing_gives_stacked_uint8_frames_and_clips_only_training_rewards() -> None:
    factory = _pong()
    spec = factory.spec()
    assert spec.obs_shape == (4, 84, 84) and spec.obs_dtype == "uint8" and spec.image_obs
    assert "ClipReward" in _wrappers(factory.make(training=True))
    assert "ClipReward" not in _wrappers(factory.make())  # evaluation reports the game score


def test_replay_buffer_stores_frames_as_bytes() -> None:
    datamodule = ReplayDataModule(_pong(), num_envs=2, buffer_capacity=1024, warmup_env_steps=0)
    datamodule.setup("fit")
    buffer = datamodule.buffer
    assert buffer is not None and buffer.obs.dtype == torch.uint8
    per_transition = buffer.nbytes / 1024
    assert per_transition == 2 * 4 * 84 * 84 + 8 + 4 + 1 + 1  # obs, next_obs, action, reward, flags
    assert datamodule.collector is not None
    assert "ClipReward" in _wrappers(datamodule.collector.envs.envs[0])  # learns from clipped rewards
    assert "ClipReward" not in _wrappers(datamodule.eval_envs.envs[0])  # scored on the game's own
    datamodule.teardown("fit")


def test_dqn_runs_a_few_thousand_steps_on_pong_on_cpu(compose, tmp_path) -> None:
    final_return = run(compose(*ATARI, *TINY, run_dir=tmp_path))
    assert -21.0 <= final_return <= 21.0

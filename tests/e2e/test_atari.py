"""Atari: the standard preprocessing, uint8 frames in the buffer, a CNN, a short CPU run."""

from __future__ import annotations

import gymnasium as gym
import torch

from litrl.data.buffers import ReplayBuffer
from litrl.data.datamodule import ReplayDataModule
from litrl.data.frame_stack_buffer import FrameStackReplayBuffer
from litrl.envs import EnvFactory
from litrl.evaluate import load_agent
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


def test_replay_buffer_stores_each_frame_once_as_bytes() -> None:
    datamodule = ReplayDataModule(_pong(), num_envs=2, buffer_capacity=1024, warmup_env_steps=0)
    datamodule.setup("fit")
    buffer = datamodule.buffer
    assert (
        isinstance(buffer, FrameStackReplayBuffer) and buffer.storage["frames"].dtype == torch.uint8
    )
    per_transition = buffer.nbytes / 1024
    assert per_transition == 2 * 84 * 84 + 8 + 4 + 1 + 1 + 1  # 2 frames, action, reward, 3 flags
    assert datamodule.collector is not None
    assert "ClipReward" in _wrappers(
        datamodule.collector.envs.envs.envs[0]  # HostVecEnv -> SyncVectorEnv -> env 0
    )  # learns from clipped rewards
    assert "ClipReward" not in _wrappers(datamodule.eval_envs.envs[0])  # scored on the game's own
    # Real Pong stacks pass the buffer's frame-stack check and come back whole.
    chunk = datamodule.collector.collect(None, 40)
    buffer.extend(chunk)
    rebuilt = buffer.windows(torch.arange(40).repeat(2), torch.arange(2).repeat_interleave(40), 1)
    assert torch.equal(rebuilt["obs"], chunk["obs"].transpose(0, 1).flatten(0, 1))
    assert torch.equal(rebuilt["next_obs"], chunk["next_obs"].transpose(0, 1).flatten(0, 1))
    datamodule.teardown("fit")
    datamodule.setup("fit")  # fresh envs, the same buffer: no stack may join the two
    assert buffer.episode_ended(39).all()
    datamodule.teardown("fit")


def test_whole_stacks_when_frames_once_is_off() -> None:
    datamodule = ReplayDataModule(
        _pong(), num_envs=2, buffer_capacity=1024, warmup_env_steps=0, store_frames_once=False
    )
    datamodule.setup("fit")
    buffer = datamodule.buffer
    assert buffer is not None and type(buffer) is ReplayBuffer
    assert buffer.nbytes / 1024 == 2 * 4 * 84 * 84 + 8 + 4 + 1 + 1  # obs, next_obs, action, ...
    datamodule.teardown("fit")


def test_dqn_runs_a_few_thousand_steps_on_pong_on_cpu(compose, tmp_path) -> None:
    final_return = run(compose(*ATARI, *TINY, run_dir=tmp_path))
    assert -21.0 <= final_return <= 21.0


def test_ppo_runs_on_atari_with_a_shared_cnn_trunk(smoke_cfg) -> None:
    cfg = smoke_cfg(
        "experiment=ppo_atari",
        "env.max_episode_steps=400",
        "total_env_steps=512",
        "eval.every_env_steps=512",
        "eval.episodes=1",
        "eval.num_envs=1",
        "algo.data.num_envs=2",
        "algo.data.env_steps_per_collect=256",
        "algo.batch_size=128",
        "algo.n_epochs=1",
    )
    run(cfg)
    agent, _ = load_agent(f"{cfg.run_dir}/checkpoints/last.ckpt")
    net = agent.net
    assert net.value_trunk is None  # both heads read the one CNN + 512 trunk
    assert type(net.policy_trunk[0]).__name__ == "NatureCNN"
    assert agent.updates == 2 * 2  # two 256-step rollouts, two minibatches of 128 each

"""``env.backend=envpool``: EnvPool's NEXT_STEP autoreset mapped to litrl's SAME_STEP, its flags,
its seeding, its Atari preprocessing beside ``env=atari``'s, and the factory's checks.

The reference for the autoreset mapping is EnvPool itself, stepped raw with the same seed and the
same actions: the mapped batch must see the raw one's steps with each reset step taken out.
Skipped without the envpool extra.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest
import torch

from litrl.data.buffers import ReplayBuffer
from litrl.data.collector import Collector, evaluate
from litrl.data.frame_stack_buffer import FrameStackReplayBuffer
from litrl.envs import EnvFactory
from litrl.envs.envpool_backend import ALE_MAX_FRAMES, EnvPoolVecEnv, default_threads
from litrl.errors import ConfigError
from litrl.video import episode_frames

envpool = pytest.importorskip("envpool")
pytestmark = pytest.mark.filterwarnings("ignore:.*precision lowered:UserWarning")  # raw pools
CPU = torch.device("cpu")
ATARI_KWARGS = {"frameskip": 1, "repeat_action_probability": 0.25}  # env=atari's


def cartpole(num_envs: int, max_episode_steps: int | None = None) -> EnvPoolVecEnv:
    factory = EnvFactory("CartPole-v1", backend="envpool", max_episode_steps=max_episode_steps)
    envs = factory.make_vector(num_envs, training=True)
    assert isinstance(envs, EnvPoolVecEnv)
    return envs


def raw_cartpole(num_envs: int, seed: int, max_episode_steps: int):
    return envpool.make(
        "CartPole-v1",
        env_type="gymnasium",
        num_envs=num_envs,
        batch_size=num_envs,
        seed=seed,
        max_episode_steps=max_episode_steps,
    )


def atari(game: str = "ALE/Pong-v5", max_episode_steps: int | None = None, **options) -> EnvFactory:
    return EnvFactory(
        game,
        backend="envpool",
        kwargs=dict(ATARI_KWARGS),
        max_episode_steps=max_episode_steps,
        atari=options,
    )


class Balance:
    def act(self, obs, env_steps, greedy=False):
        return (obs[:, 2] + 0.5 * obs[:, 3] > 0).long()


# ---- the autoreset mapping ---------------------------------------------------------------


def test_a_truncated_env_restarts_in_the_same_step_and_keeps_its_final_observation() -> None:
    # Time limit 3, always push left: episodes of exactly 3 steps, truncated, never terminated.
    envs, raw = cartpole(2, max_episode_steps=3), raw_cartpole(2, seed=7, max_episode_steps=3)
    obs, _ = envs.reset(seed=7)
    raw_obs, _ = raw.reset()
    np.testing.assert_array_equal(obs, raw_obs)
    left = np.zeros(2, dtype=np.int64)
    for step in range(1, 10):
        obs, reward, terminated, truncated, info = envs.step(left)
        raw_obs, raw_reward, _, raw_truncated, _ = raw.step(left)
        assert reward.tolist() == [1.0, 1.0]  # never EnvPool's reward-0 reset step
        assert not terminated.any()
        assert truncated.tolist() == [step % 3 == 0] * 2
        np.testing.assert_array_equal(raw_reward, reward)
        if step % 3:
            np.testing.assert_array_equal(obs, raw_obs)
            assert "final_obs" not in info
            continue
        # The episode's last observation is what the raw pool returned with its flag ...
        assert raw_truncated.all()
        np.testing.assert_array_equal(info["final_obs"], raw_obs)
        assert info["_final_obs"].tolist() == [True, True]
        # ... and the observation returned is the start state the raw pool autoresets to on its
        # next step (where it ignores the action): the same draw, one step earlier.
        raw_obs, raw_reward, *_ = raw.step(left)
        assert raw_reward.tolist() == [0.0, 0.0]
        np.testing.assert_array_equal(obs, raw_obs)
        assert np.abs(obs).max() <= 0.05  # CartPole's start states
        assert not np.array_equal(obs, info["final_obs"])


def test_a_terminated_env_restarts_alone_and_the_others_go_on() -> None:
    envs = cartpole(3)
    obs, _ = envs.reset(seed=0)
    for _ in range(40):  # env 0 always pushes right (its pole falls); 1 and 2 balance
        action = Balance().act(torch.as_tensor(obs), 0).numpy()
        action[0] = 1
        obs, _, terminated, truncated, info = envs.step(action)
        if terminated.any():
            break
    assert terminated.tolist() == [True, False, False] and not truncated.any()
    assert info["_final_obs"].tolist() == [True, False, False]
    np.testing.assert_array_equal(info["final_obs"][1:], obs[1:])  # the others: one observation
    assert np.abs(obs[0]).max() <= 0.05 < np.abs(info["final_obs"][0]).max()


def test_the_collector_stores_final_observations_and_counts_whole_episodes() -> None:
    envs = cartpole(2, max_episode_steps=5)
    collector = Collector(envs, CPU, seed=3)
    chunk = collector.collect(Balance(), 12)
    ended = chunk["terminated"] | chunk["truncated"]
    assert ended[:, 0].nonzero().flatten().tolist() == [4, 9]  # steps 5 and 10 truncate
    assert not chunk["terminated"].any()
    assert chunk["reward"].eq(1.0).all()  # no reset step stored as a transition
    # Within an episode, a row's next_obs is the next row's obs; across a reset it is not.
    continues = (chunk["next_obs"][:-1] == chunk["obs"][1:]).all(-1)
    assert continues.eq(~ended[:-1]).all()
    episodes = collector.pop_finished_episodes()
    assert episodes.lengths.tolist() == [5, 5, 5, 5] and episodes.returns.tolist() == [5.0] * 4


def test_termination_and_truncation_map_as_gymnasium_flags() -> None:
    # Push right only: the pole falls (terminated, |angle| past 12 degrees) before the limit of 50.
    envs = cartpole(1, max_episode_steps=50)
    envs.reset(seed=1)
    for _ in range(49):
        _, _, terminated, truncated, info = envs.step(np.ones(1, dtype=np.int64))
        if terminated[0]:
            break
    assert terminated[0] and not truncated[0]
    final = info["final_obs"][0]
    assert abs(final[2]) > 12 * 2 * np.pi / 360 or abs(final[0]) > 2.4


def test_reset_with_a_seed_rebuilds_the_pool_and_seeds_env_i_with_seed_plus_i() -> None:
    envs = cartpole(3)
    first, _ = envs.reset(seed=11)
    envs.step(np.zeros(3, dtype=np.int64))
    again, _ = envs.reset(seed=11)
    np.testing.assert_array_equal(first, again)
    one = cartpole(1)
    np.testing.assert_array_equal(one.reset(seed=12)[0][0], first[1])
    assert not np.array_equal(envs.reset(seed=12)[0], first)
    unseeded, _ = envs.reset()  # the pool's envs go on to their next start states
    assert not np.array_equal(unseeded, first)


def test_a_seed_repeats_its_chunks_whatever_the_thread_count() -> None:
    # Each env keeps its own generator, so the threads that step them change nothing.
    chunks = []
    for threads in (1, 2, 1):
        envs = EnvFactory("CartPole-v1", backend="envpool", num_threads=threads).make_vector(8)
        chunks.append(Collector(envs, CPU, seed=4).collect(None, 64))
        envs.close()
    for chunk in chunks[1:]:
        for name, want in chunks[0].items():
            assert torch.equal(want, chunk[name]), name


def test_num_threads_defaults_to_the_cores_and_never_exceeds_the_envs() -> None:
    assert cartpole(1).num_threads == 1
    assert cartpole(64).num_threads == default_threads(64) == min(64, len(os.sched_getaffinity(0)))
    factory = EnvFactory("CartPole-v1", backend="envpool", num_threads=1)
    envs = factory.make_vector(4)
    envs.reset(seed=0)
    assert envs._pool.config["num_threads"] == 1  # type: ignore[union-attr]


def test_evaluation_counts_each_envs_quota() -> None:
    envs = cartpole(2, max_episode_steps=20)
    episodes = evaluate(Balance(), envs, episodes=3, seed=5, device=CPU)
    assert len(episodes.returns) == 3 and episodes.lengths.eq(20).all()


# ---- the factory -------------------------------------------------------------------------


def test_an_id_envpool_cannot_serve_lists_what_it_can() -> None:
    with pytest.raises(
        ConfigError, match=r"cannot serve env.id=Pong-v6\. Did you mean: ALE/Pong-v5"
    ) as error:
        EnvFactory("Pong-v6", backend="envpool")
    message = str(error.value)
    for served in ("ALE/<Game>-v5", "CartPole-v1", "LunarLander-v3", "HalfCheetah-v5"):
        assert served in message
    with pytest.raises(ConfigError, match=r"cannot serve env\.id=FrozenLake-v1"):
        EnvFactory("FrozenLake-v1", backend="envpool")  # EnvPool has it; litrl does not wire it


def test_a_missing_extra_names_the_install_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "envpool", None)  # as if not installed: import fails
    with pytest.raises(ConfigError, match=r"pip install -e \"\.\[envpool\]\""):
        EnvFactory("CartPole-v1", backend="envpool")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_envs": 4}, "from algo.data.num_envs"),
        ({"reward_threshold": 1.0}, "from env.reward_threshold"),
        ({"gravity": 9.8}, "env.kwargs.gravity is not an argument of EnvPool's CartPole-v1"),
    ],
)
def test_env_kwargs_are_envpool_options(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        EnvFactory("CartPole-v1", backend="envpool", kwargs=kwargs)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": "CartPole-v1", "num_threads": 2}, "env.backend=gymnasium: drop it"),
        ({"id": "CartPole-v1", "backend": "envpool", "num_threads": 0}, "must be >= 1"),
        ({"id": "CartPole-v1", "backend": "envpool", "atari": {}}, "env.atari is for Atari"),
        ({"id": "ALE/Pong-v5", "backend": "envpool"}, "needs env.atari"),
        ({"entry_point": "tests.toy_envs:Corridor", "backend": "envpool"}, "not your own class"),
    ],
)
def test_misconfigurations_are_named(fields, message) -> None:
    with pytest.raises(ConfigError, match=message):
        EnvFactory(**fields)


def test_atari_options_refuse_what_envpool_cannot_do() -> None:
    with pytest.raises(ConfigError, match="noop_max=0: EnvPool needs at least 1"):
        atari(noop_max=0)
    with pytest.raises(ConfigError, match="frameskip=1"):
        EnvFactory("ALE/Pong-v5", backend="envpool", kwargs={"frameskip": 4}, atari={})
    with pytest.raises(ConfigError, match=r"stack_num from env\.atari\.frame_stack"):
        EnvFactory("ALE/Pong-v5", backend="envpool", kwargs={"stack_num": 2}, atari={})


# ---- Atari -------------------------------------------------------------------------------


def test_atari_options_are_env_atari_s() -> None:
    task = atari().source.task(training=True)
    assert task.task_id == "Pong-v5"
    assert task.options == {
        "repeat_action_probability": 0.25,
        "frame_skip": 4,
        "img_height": 84,
        "img_width": 84,
        "noop_max": 30,
        "stack_num": 4,
        "gray_scale": True,
        "reward_clip": True,
        "episodic_life": False,
        "use_fire_reset": False,
        "max_episode_steps": ALE_MAX_FRAMES // 4,  # 108k frames, as ALE v5's own limit
    }
    evaluation = atari().source.task(training=False)
    assert evaluation.options["reward_clip"] is False
    # env.max_episode_steps counts frames for Atari, as under env=atari: 400 frames = 100 steps.
    assert atari(max_episode_steps=400).source.task(True).options["max_episode_steps"] == 100


@pytest.mark.skipif(importlib.util.find_spec("ale_py") is None, reason="needs the atari extra")
def test_atari_spec_equals_env_atari_s_on_gymnasium() -> None:
    gymnasium_pong = EnvFactory("ALE/Pong-v5", package="ale_py", kwargs=ATARI_KWARGS, atari={})
    assert atari().spec() == gymnasium_pong.spec()  # (4, 84, 84) uint8, stack 4, Discrete(6)


def test_atari_training_rewards_are_clipped_and_evaluation_rewards_are_the_score() -> None:
    # Same seed and actions, so the same game: only the reward scale differs.
    train = atari("ALE/SpaceInvaders-v5").make_vector(1, training=True)
    score = atari("ALE/SpaceInvaders-v5").make_vector(1, training=False)
    obs, _ = train.reset(seed=0)
    score_obs, _ = score.reset(seed=0)
    np.testing.assert_array_equal(obs, score_obs)
    assert obs.shape == (1, 4, 84, 84) and obs.dtype == np.uint8
    rng = np.random.default_rng(0)
    clipped, raw = [], []
    for _ in range(400):
        action = rng.integers(0, 6, size=1)
        clipped.append(train.step(action)[1][0])
        raw.append(score.step(action)[1][0])
    clipped_arr, raw_arr = np.array(clipped), np.array(raw)
    assert raw_arr.max() >= 5  # an alien shot: 5 to 30 points
    np.testing.assert_array_equal(clipped_arr, np.sign(raw_arr))


def test_a_life_loss_ends_training_episodes_with_a_new_game() -> None:
    train = atari("ALE/Breakout-v5", terminal_on_life_loss=True).make_vector(1, training=True)
    train.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(2000):
        obs, _, terminated, truncated, info = train.step(rng.integers(0, 4, size=1))
        if terminated[0]:
            break
    assert terminated[0] and not truncated[0]
    assert train._lives[0] == 5  # a fresh game, as AtariPreprocessing's reset after a life loss
    assert (obs[0] == obs[0, -1:]).all()  # its stack: the reset frame repeated
    assert not (info["final_obs"][0] == info["final_obs"][0, -1:]).all()


def test_a_frame_stack_buffer_fed_from_envpool_rebuilds_its_stacks() -> None:
    # 40-frame episodes (10 steps): many resets, whose stacks the buffer must rebuild too.
    envs = atari(max_episode_steps=40).make_vector(2, training=True)
    collector = Collector(envs, CPU, seed=0)
    plain = ReplayBuffer(2 * 64, 2, (4, 84, 84), obs_dtype=torch.uint8)
    frames = FrameStackReplayBuffer(2 * 64, 2, (4, 84, 84), obs_dtype=torch.uint8)
    chunks = [collector.collect(None, 13) for _ in range(3)]
    for chunk in chunks:
        plain.extend(chunk)
        frames.extend(chunk)  # its first chunk passes the frame-stack check
    assert sum(int((c["terminated"] | c["truncated"]).sum()) for c in chunks) >= 6
    row = torch.arange(3, 39).repeat_interleave(2)  # rows whose whole history is stored
    env = torch.arange(2).repeat(36)
    expected, rebuilt = plain.windows(row, env, 1), frames.windows(row, env, 1)
    assert torch.equal(expected["obs"], rebuilt["obs"])
    assert torch.equal(expected["next_obs"], rebuilt["next_obs"])


def test_atari_frames_render_for_videos() -> None:
    env = atari().make(render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84)
    assert env.render().shape == (210, 160, 3)
    env.close()


# ---- videos ------------------------------------------------------------------------------


def test_classic_control_videos_are_envpool_s_own_frames() -> None:
    factory = EnvFactory("CartPole-v1", backend="envpool", max_episode_steps=30)
    frames = episode_frames(Balance(), factory, seed=0, device="cpu")
    assert frames.shape == (30, 200, 300, 3)  # 400x600, halved once
    assert factory.make().metadata["render_fps"] == 50  # CartPole's, from gymnasium


def test_mujoco_frames_raise_instead_of_aborting_the_process() -> None:
    env = EnvFactory("HalfCheetah-v5", backend="envpool").make(render_mode="rgb_array")
    env.reset(seed=0)
    with pytest.raises(RuntimeError, match="OpenGL"):
        env.render()
    env.close()

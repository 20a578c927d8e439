"""``env.backend=torch`` wired into litrl: the factory's checks, the tensor collector, evaluation,
the start-of-run checks, and rendering one env through gymnasium.

The batch's reference is the host path itself: the ``Collector`` stepping a ``SyncVectorEnv`` of
single torch envs (``TorchEnvAsGym``; env ``i`` seeded ``seed + i``, its autoresets going on to its
next start state) through ``HostVecEnv`` sees the very same episodes as the ``Collector`` stepping
one batch, so every field of every transition and every episode statistic must agree.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from litrl.data.collector import CollectInterrupted, Collector, EvaluationInterrupted, evaluate
from litrl.envs import EnvError, EnvFactory
from litrl.envs.guard import check_batch
from litrl.envs.torch_backend import CartPole, make_torch_env
from litrl.envs.torch_backend.gym_env import TorchEnvAsGym
from litrl.errors import ConfigError

CPU = torch.device("cpu")


class Balance:
    """A deterministic actor: pushes the cart toward the side the pole leans to (CartPole), or
    a torque against the pendulum's angular velocity, past the bounds (Pendulum: tests clipping)."""

    def act(self, obs, env_steps, greedy=False):
        if obs.shape[1] == 4:
            return (obs[:, 2] + 0.5 * obs[:, 3] > 0).long()
        return -3.0 * obs[:, 2:3]


def torch_factory(env_id: str = "CartPole-v1", **kwargs) -> EnvFactory:
    return EnvFactory(env_id, backend="torch", **kwargs)


def single_envs(env_id: str, num_envs: int, max_episode_steps: int | None = None) -> SyncVectorEnv:
    def make() -> gym.Env:
        batch = make_torch_env(env_id, 1, dtype=torch.float64, max_episode_steps=max_episode_steps)
        return TorchEnvAsGym(batch)

    return SyncVectorEnv([make] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)


# ---- the factory -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": "LunarLander-v3"}, "cannot serve env.id=LunarLander-v3; it serves CartPole-v1, "),
        ({"id": None, "entry_point": "tests.toy_envs:CountingEnv"}, "not your own class env.entry"),
        ({"kwargs": {"sutton_barto_reward": True}}, "has no env.kwargs"),
        ({"atari": {"frame_skip": 4}}, "has no env.atari"),
    ],
)
def test_what_the_torch_backend_cannot_serve_is_named(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        EnvFactory(**{"id": "CartPole-v1", "backend": "torch", **kwargs})


def test_an_unknown_backend_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"env.backend='jax' is unknown.*'gymnasium', 'torch'"):
        EnvFactory("CartPole-v1", backend="jax")


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "MountainCarContinuous-v0"])
def test_the_spec_is_gymnasiums(env_id: str) -> None:
    torch_spec, gym_spec = torch_factory(env_id).spec(), EnvFactory(env_id).spec()
    assert torch_spec == gym_spec


def test_max_episode_steps_and_reward_threshold_are_honoured() -> None:
    env = torch_factory(max_episode_steps=7, reward_threshold=5.0)
    assert env.spec().reward_threshold == 5.0
    batch = env.make_vector(3)
    assert isinstance(batch, CartPole) and batch.max_episode_steps == 7
    collector = Collector(batch, CPU, seed=0)
    chunk = collector.collect(Balance(), 7)  # the balancing actor survives 7 steps
    assert (chunk["terminated"] | chunk["truncated"])[:, 0].tolist() == [False] * 6 + [True]
    assert not chunk["terminated"].any()
    assert collector.pop_finished_episodes().lengths.tolist() == [7, 7, 7]


def test_the_start_of_run_check_names_a_broken_output() -> None:
    class Misshapen(CartPole):
        def observe(self, state):
            return super().observe(state)[:, :3]

    with pytest.raises(
        EnvError, match=r"reset\(\) returned observations as torch.float32 \(2, 3\)"
    ):
        check_batch(Misshapen(2), "env.id=CartPole-v1")
    check_batch(CartPole(2), "env.id=CartPole-v1")  # the real one passes


# ---- the tensor collector ----------------------------------------------------------------


@pytest.mark.parametrize(("env_id", "limit"), [("CartPole-v1", 40), ("Pendulum-v1", 30)])
def test_the_collector_sees_the_same_through_the_host_adapter_and_on_a_batch(
    env_id: str, limit: int
) -> None:
    # Time limits short enough that the chunk holds truncations (and CartPole terminations).
    host = Collector(single_envs(env_id, 4, limit), CPU, seed=5)
    batch = make_torch_env(env_id, 4, dtype=torch.float64, max_episode_steps=limit)
    device = Collector(batch, CPU, seed=5)
    for _ in range(2):  # the second chunk starts mid-episode
        expected, actual = host.collect(Balance(), 50), device.collect(Balance(), 50)
        for field, value in expected.items():
            torch.testing.assert_close(actual[field], value, msg=field)
        assert torch.equal(device.fresh_starts(), torch.as_tensor(host.fresh_starts()))
    ended = actual["terminated"] | actual["truncated"]
    assert ended.any() and (actual["truncated"] & ~actual["terminated"]).any()
    expected_episodes, episodes = host.pop_finished_episodes(), device.pop_finished_episodes()
    assert len(episodes.returns) >= 4
    torch.testing.assert_close(episodes.returns, expected_episodes.returns)
    assert torch.equal(episodes.lengths, expected_episodes.lengths)
    assert device.env_steps == host.env_steps == 400


def test_truncated_steps_bootstrap_from_the_final_obs() -> None:
    collector = Collector(make_torch_env("CartPole-v1", 2, max_episode_steps=5), CPU, 0)
    chunk = collector.collect(Balance(), 8)
    ended = chunk["terminated"] | chunk["truncated"]
    assert ended[4].all() and not chunk["terminated"].any()
    continuing = ~ended[:-1]  # next_obs is the next step's obs, except where an episode ended
    assert torch.equal(chunk["next_obs"][:-1][continuing], chunk["obs"][1:][continuing])
    assert not torch.isclose(
        chunk["next_obs"][4], chunk["obs"][5]
    ).all()  # the final obs, not the reset


def test_chunks_are_ordinary_tensors_that_autograd_can_use() -> None:
    # Stepped under inference_mode, stored in tensors allocated outside it.
    chunk = Collector(make_torch_env("CartPole-v1", 3), CPU, 0).collect(None, 4)
    assert not any(value.is_inference() for value in chunk.values())
    net = torch.nn.Linear(4, 1)
    net(chunk["obs"]).sum().backward()
    assert net.weight.grad is not None


@pytest.mark.parametrize("env_id", ["CartPole-v1", "MountainCarContinuous-v0"])
def test_a_stopped_collect_resumes_exactly_random_actions_included(env_id: str) -> None:
    def make(should_stop=None) -> Collector:
        return Collector(make_torch_env(env_id, 3, max_episode_steps=4), CPU, 1, None, should_stop)

    straight = make()
    expected = [straight.collect(None, 6), straight.collect(None, 6)]
    asked: list[int] = []
    stopped = make(should_stop=lambda: asked.append(1) or len(asked) == 9)  # 2nd chunk, step 3
    stopped.collect(None, 6)
    with pytest.raises(CollectInterrupted, match="after 2 of 6 vector steps"):
        stopped.collect(None, 6)
    state = stopped.state_dict()
    resumed = make()
    resumed.load_state_dict(state)
    rest = resumed.collect(None, 6)
    for field, value in expected[1].items():
        assert torch.equal(rest[field], value), field
    assert resumed.env_steps == straight.env_steps == 36
    got_want = zip(resumed.pop_finished_episodes(), straight.pop_finished_episodes(), strict=True)
    for got, want in got_want:
        assert torch.equal(got, want)


def test_a_non_finite_chunk_names_the_env_and_the_step() -> None:
    class NanAfter:
        def act(self, obs, env_steps, greedy=False):
            action = torch.zeros(obs.shape[0], 1)
            action[1] = float("nan") if env_steps >= 4 else 0.0
            return action

    collector = Collector(make_torch_env("Pendulum-v1", 2), CPU, 0)
    with pytest.raises(EnvError, match=r"env 1 returned a non-finite obs .* around env step 5"):
        collector.collect(NanAfter(), 4)


# ---- evaluation and rendering --------------------------------------------------------------


def test_evaluation_on_the_device_matches_the_host_evaluation() -> None:
    expected = evaluate(Balance(), single_envs("CartPole-v1", 3, 60), 7, seed=3, device=CPU)
    batch = make_torch_env("CartPole-v1", 3, dtype=torch.float64, max_episode_steps=60)
    episodes = evaluate(Balance(), batch, 7, seed=3, device=CPU)
    torch.testing.assert_close(episodes.returns, expected.returns)
    assert torch.equal(episodes.lengths, expected.lengths) and len(episodes.lengths) == 7


def test_evaluation_asks_to_stop_before_every_vector_step() -> None:
    asked: list[int] = []
    with pytest.raises(EvaluationInterrupted, match="with 0 of 4 episodes done"):
        evaluate(
            Balance(), make_torch_env("CartPole-v1", 2), 4, seed=0, device=CPU,
            should_stop=lambda: asked.append(1) or len(asked) > 20,
        )  # fmt: skip
    assert len(asked) == 21


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1"])
def test_a_frame_is_gymnasiums_drawing_of_the_batchs_state(env_id: str) -> None:
    env = torch_factory(env_id).make(render_mode="rgb_array")
    reference = gym.make(env_id, render_mode="rgb_array").unwrapped
    env.reset(seed=0)
    for _ in range(3):
        env.step(env.action_space.sample())
    frame = env.render()
    reference.reset(seed=0)
    reference.state = env.unwrapped.batch.state[:, 0].double().numpy()
    if env_id == "Pendulum-v1":
        reference.last_u = env.unwrapped._last_u
    assert frame.shape == reference.render().shape and np.array_equal(frame, reference.render())
    env.close()


def test_an_episodes_last_frame_shows_where_it_ended_not_the_next_start() -> None:
    env = torch_factory(max_episode_steps=3).make(render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        obs, _, terminated, truncated, _ = env.step(1)
    assert truncated and not terminated
    assert np.array_equal(env.unwrapped.batch.final_state[:, 0].float().numpy(), obs)
    next_start, _ = env.reset()  # without a seed: the env's next start state
    assert not np.array_equal(next_start, obs)
    env.close()

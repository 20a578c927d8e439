"""Collector: truncation vs termination at the vector-env boundary, episode stats, evaluation."""

import gymnasium as gym
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from litrl.data.collector import CollectInterrupted, Collector, EvaluationInterrupted, evaluate
from litrl.envs import EnvFactory
from tests.toy_envs import CountingEnv


class FirstAction:
    def act(self, obs, env_steps, greedy=False):
        return torch.zeros(obs.shape[0], dtype=torch.long)


def collect(truncate: bool, steps: int = 4):
    envs = SyncVectorEnv(
        [lambda: CountingEnv(length=3, truncate=truncate)] * 2,
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    collector = Collector(envs, torch.device("cpu"), seed=0)
    return collector, collector.collect(FirstAction(), steps)


def test_truncation_keeps_the_true_final_obs_and_does_not_terminate():
    _, chunk = collect(truncate=True)
    env0 = list(
        zip(chunk["obs"][:, 0, 0].tolist(), chunk["next_obs"][:, 0, 0].tolist(), strict=True)
    )
    # steps 0->1, 1->2, 2->3 (final, truncated), then the new episode starts at 0 again
    assert env0 == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (0.0, 1.0)]
    assert chunk["terminated"][:, 0].tolist() == [False] * 4
    assert (chunk["terminated"] | chunk["truncated"])[:, 0].tolist() == [False, False, True, False]


def test_termination_is_recorded_as_terminated():
    _, chunk = collect(truncate=False)
    assert chunk["terminated"][:, 0].tolist() == [False, False, True, False]
    assert chunk["next_obs"][2, 0, 0].item() == 3.0


def test_finished_episodes_and_env_steps_are_counted():
    collector, _ = collect(truncate=True, steps=7)
    assert collector.env_steps == 14
    episodes = collector.pop_finished_episodes()
    assert episodes.returns.tolist() == [3.0, 3.0, 3.0, 3.0]
    assert episodes.lengths.tolist() == [3, 3, 3, 3]
    assert collector.pop_finished_episodes().returns.numel() == 0


def test_evaluate_gives_each_env_a_fixed_quota_not_first_to_finish():
    # env 0 finishes in 2 steps, env 1 in 9: "first 6 to finish" would be mostly env 0's
    envs = SyncVectorEnv(
        [lambda: CountingEnv(length=2), lambda: CountingEnv(length=9)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    episodes = evaluate(FirstAction(), envs, episodes=6, seed=0, device=torch.device("cpu"))
    assert sorted(episodes.returns.tolist()) == [2.0, 2.0, 2.0, 9.0, 9.0, 9.0]


def test_evaluate_asks_to_stop_before_every_vector_step():
    envs = SyncVectorEnv(
        [lambda: CountingEnv(length=2), lambda: CountingEnv(length=9)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    asked = []
    with pytest.raises(EvaluationInterrupted, match="with 2 of 6 episodes done"):
        evaluate(
            FirstAction(), envs, episodes=6, seed=0, device=torch.device("cpu"),
            should_stop=lambda: asked.append(1) or len(asked) > 4,
        )  # fmt: skip
    assert len(asked) == 5  # after 4 vector steps: env 0 finished 2 episodes, env 1 none


def test_env_factory_vector_envs_report_the_true_final_obs():
    gym.register("litrl-test/Counting-v0", entry_point=CountingEnv, kwargs={"length": 2})
    envs = EnvFactory("litrl-test/Counting-v0").make_vector(2)
    collector = Collector(envs, torch.device("cpu"), seed=0)
    chunk = collector.collect(FirstAction(), 3)
    assert chunk["next_obs"][:, 0, 0].tolist() == [
        1.0,
        2.0,
        1.0,
    ]  # 2.0 is the truncated episode's end
    assert chunk["obs"][:, 0, 0].tolist() == [0.0, 1.0, 0.0]


def test_a_collect_stopped_part_way_continues_from_its_state_dict():
    # Random actions (actor None) draw from the action space's RNG, which the state restores:
    # "4 steps" and "3 steps, stop, state_dict, new collector, the rest" give the same chunk.
    def make(should_stop=None):
        envs = SyncVectorEnv(
            [lambda: CountingEnv(length=3)] * 2, autoreset_mode=AutoresetMode.SAME_STEP
        )
        return Collector(envs, torch.device("cpu"), seed=0, should_stop=should_stop)

    straight = make().collect(None, 4)
    asked = []
    stopped = make(should_stop=lambda: asked.append(1) or len(asked) > 3)
    with pytest.raises(CollectInterrupted, match="after 3 of 4 vector steps"):
        stopped.collect(None, 4)
    state = stopped.state_dict()
    assert state["env_steps"] == 6  # the steps were taken: counted, and kept in the chunk

    resumed = make()
    resumed.load_state_dict(state)
    rest = resumed.collect(None, 4)
    for field, expected in straight.items():
        assert torch.equal(rest[field], expected), field
    assert resumed.env_steps == 8
    assert resumed.fresh_starts().tolist() == [True, True]  # the chunk began with the episodes


def _cartpoles(num_envs: int = 2) -> SyncVectorEnv:
    return EnvFactory("CartPole-v1").make_vector(num_envs)


def _as_written_by_the_host_collector(state: dict) -> dict:
    """A state dict in the format of the host collector litrl had before one collector served
    every backend: numpy's action RNG under its own key, a chunk without per-step episode sums."""
    old = dict(state, action_space_rng=state["actions"])
    del old["actions"], old["backend"]  # the host collector's checkpoints of gymnasium envs
    if old["chunk"] is not None:
        chunk = dict(old["chunk"])
        del chunk["episode_return"], chunk["episode_length"]
        old["chunk"] = chunk
    return old


def test_a_checkpoint_of_the_old_host_collector_resumes_exactly_between_chunks():
    straight = Collector(_cartpoles(), torch.device("cpu"), seed=3)
    straight.collect(None, 5)
    expected = straight.collect(None, 5)
    stopped = Collector(_cartpoles(), torch.device("cpu"), seed=3)
    stopped.collect(None, 5)
    resumed = Collector(_cartpoles(), torch.device("cpu"), seed=3)
    assert resumed.load_state_dict(_as_written_by_the_host_collector(stopped.state_dict()))
    rest = resumed.collect(None, 5)
    for field, value in expected.items():
        assert torch.equal(rest[field], value), field


def test_an_old_host_checkpoint_stopped_mid_collect_restarts_that_collect():
    asked = []
    stopped = Collector(
        _cartpoles(),
        torch.device("cpu"),
        seed=3,
        should_stop=lambda: asked.append(1) or len(asked) > 2,
    )
    with pytest.raises(CollectInterrupted):
        stopped.collect(None, 5)
    resumed = Collector(_cartpoles(), torch.device("cpu"), seed=3)
    resumed.load_state_dict(_as_written_by_the_host_collector(stopped.state_dict()))
    chunk = resumed.collect(None, 5)  # a whole chunk, from where the envs stood
    assert chunk["obs"].shape[0] == 5 and resumed.env_steps == 2 * 2 + 5 * 2
    assert torch.equal(chunk["obs"][0], stopped.obs)


def test_a_checkpoint_of_the_old_torch_collector_resumes_its_random_actions():
    from litrl.envs.torch_backend import make_torch_env

    straight = Collector(make_torch_env("CartPole-v1", 3), torch.device("cpu"), seed=1)
    straight.collect(None, 4)
    expected = straight.collect(None, 4)
    stopped = Collector(make_torch_env("CartPole-v1", 3), torch.device("cpu"), seed=1)
    stopped.collect(None, 4)
    state = stopped.state_dict()
    state["action_generator"] = state.pop("actions")  # the torch collector's own key
    resumed = Collector(make_torch_env("CartPole-v1", 3), torch.device("cpu"), seed=1)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.collect(None, 4)["action"], expected["action"])

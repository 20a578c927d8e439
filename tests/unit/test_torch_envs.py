"""The torch backend against gymnasium's own envs: dynamics, time limits, autoreset, seeding, resume.

Proof of the dynamics: gymnasium's envs and a torch batch are driven with the same actions and
compared on every step. Acrobot is chaotic (float rounding alone separates two runs within an
episode), so the main check is one-step: before each step the batch is given gymnasium's exact
state, and then must produce the same observation, reward, terminated and truncated flags. The
batch's own step counters are never synced, so its time limits and autoresets are checked against
gymnasium's episode by episode. The tolerance is float32's: the batch holds float32 states, and
Pendulum's angle is not wrapped (as in gymnasium), so its sine carries the rounding of a float32
angle of up to a few dozen radians. Where the dynamics are neither chaotic nor computed in mixed
precision by gymnasium (MountainCarContinuous stores float32 and mixes in Python floats), a float64
batch also runs free, synced only at resets, and stays with gymnasium for whole episodes.
"""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
import torch

from litrl.envs.torch_backend import TORCH_ENVS, TorchVecEnv, make_torch_env

# (num_envs, steps): each id gets >= 10,000 env steps, and more steps than its time limit.
SIZES = {
    "CartPole-v1": (16, 640),
    "Acrobot-v1": (16, 640),
    "MountainCar-v0": (32, 320),
    "MountainCarContinuous-v0": (10, 1_024),
    "Pendulum-v1": (32, 320),
}
# Pendulum never terminates; the others must show both kinds of episode end.
NEVER_TERMINATES = {"Pendulum-v1"}


def actions_for(env_id: str, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Even envs follow a heuristic that reaches the goal (or, on CartPole, the time limit), with
    10% random actions; odd envs act at random. Box actions go past the bounds to test clipping."""
    n = len(obs)
    if env_id == "CartPole-v1":
        x, x_dot, theta, theta_dot = obs.T
        heuristic = (theta + 0.3 * theta_dot + 0.01 * x + 0.05 * x_dot > 0).astype(np.int64)
        random = rng.integers(0, 2, n)
    elif env_id == "Acrobot-v1":
        heuristic, random = np.where(obs[:, 5] > 0, 2, 0), rng.integers(0, 3, n)
    elif env_id == "MountainCar-v0":
        heuristic, random = np.where(obs[:, 1] > 0, 2, 0), rng.integers(0, 3, n)
    elif env_id == "MountainCarContinuous-v0":
        heuristic = np.where(obs[:, 1:2] > 0, 1.5, -1.5).astype(np.float32)
        random = rng.uniform(-1.5, 1.5, (n, 1)).astype(np.float32)
    else:
        heuristic = np.clip(-3 * obs[:, 2:3], -3, 3).astype(np.float32)
        random = rng.uniform(-3, 3, (n, 1)).astype(np.float32)
    follow = (np.arange(n) % 2 == 0) & (rng.random(n) > 0.1)
    return np.where(follow.reshape(-1, *([1] * (heuristic.ndim - 1))), heuristic, random)


def gym_states(envs: list[gym.Env], dtype: torch.dtype) -> torch.Tensor:
    """The envs' exact states as a ``(state_dim, num_envs)`` batch state."""
    states = [np.asarray(env.unwrapped.state, np.float64) for env in envs]  # type: ignore[attr-defined]
    return torch.tensor(np.stack(states, axis=1), dtype=dtype)


def run_side_by_side(
    env_id: str, num_envs: int, steps: int, dtype: torch.dtype, sync_every_step: bool
) -> dict[str, np.ndarray]:
    """Steps gymnasium envs and a torch batch with the same actions; records both sides."""
    envs = [gym.make(env_id) for _ in range(num_envs)]
    obs = np.stack([env.reset(seed=i)[0] for i, env in enumerate(envs)])
    batch = make_torch_env(env_id, num_envs, dtype=dtype)
    batch.reset(seed=0)
    batch.state = gym_states(envs, dtype)
    rng = np.random.default_rng(0)
    record: dict[str, list] = {key: [] for key in ("gym", "torch")}
    for _ in range(steps):
        actions = actions_for(env_id, obs, rng)
        if sync_every_step:
            batch.state = gym_states(envs, dtype)
        results = [env.step(a) for env, a in zip(envs, actions, strict=True)]
        out = batch.step(torch.as_tensor(actions))
        final_obs = np.stack([r[0] for r in results])
        terminated = np.array([r[2] for r in results])
        truncated = np.array([r[3] for r in results])
        obs, torch_obs = final_obs.copy(), out.obs.clone()
        for i in np.flatnonzero(terminated | truncated):
            # Both sides restart; the batch takes gymnasium's start state and must observe it alike.
            obs[i] = envs[i].reset()[0]
            batch.state[:, i] = gym_states([envs[i]], dtype)[:, 0]
            torch_obs[i] = batch.observe(batch.state[:, i : i + 1])[0]
        rewards = np.array([r[1] for r in results], dtype=np.float64)
        record["gym"].append((obs, final_obs, rewards, terminated, truncated))
        record["torch"].append(
            (torch_obs, out.final_obs, out.reward, out.terminated, out.truncated)
        )
    names = ("obs", "final_obs", "reward", "terminated", "truncated")
    arrays = {}
    for side in ("gym", "torch"):
        for j, name in enumerate(names):
            arrays[f"{side}_{name}"] = np.stack([np.asarray(step[j]) for step in record[side]])
    return arrays


def assert_same_run(run: dict[str, np.ndarray], rtol: float, atol: float) -> None:
    for flag in ("terminated", "truncated"):
        np.testing.assert_array_equal(run[f"torch_{flag}"], run[f"gym_{flag}"], err_msg=flag)
    for name in ("obs", "final_obs", "reward"):
        np.testing.assert_allclose(
            run[f"torch_{name}"], run[f"gym_{name}"], rtol=rtol, atol=atol, err_msg=name
        )


@pytest.mark.parametrize("env_id", list(SIZES))
def test_every_step_matches_gymnasium(env_id: str) -> None:
    num_envs, steps = SIZES[env_id]
    assert num_envs * steps >= 10_000
    run = run_side_by_side(env_id, num_envs, steps, torch.float32, sync_every_step=True)
    assert_same_run(run, rtol=1e-5, atol=1e-5)
    # The run covered what it claims to: time limits and (where the env has them) terminations.
    assert run["gym_truncated"].any()
    assert run["gym_terminated"].any() != (env_id in NEVER_TERMINATES)


@pytest.mark.parametrize("env_id", ["MountainCar-v0", "Pendulum-v1"])
def test_float64_batch_runs_free_with_gymnasium(env_id: str) -> None:
    num_envs, steps = SIZES[env_id]
    run = run_side_by_side(env_id, num_envs, steps, torch.float64, sync_every_step=False)
    assert_same_run(run, rtol=1e-6, atol=1e-7)
    assert run["gym_truncated"].any()


@pytest.mark.parametrize("env_id", list(TORCH_ENVS))
def test_spaces_time_limit_and_spec_are_gymnasiums(env_id: str) -> None:
    reference, batch = gym.make(env_id), make_torch_env(env_id, 3)
    assert batch.single_observation_space == reference.observation_space
    assert batch.single_action_space == reference.action_space
    assert reference.spec is not None
    assert batch.max_episode_steps == reference.spec.max_episode_steps
    spec = batch.env_spec()
    assert spec.obs_shape == reference.observation_space.shape and spec.env_id == env_id
    obs = batch.reset(seed=0)
    assert obs.dtype == torch.float32 and obs.shape == (3, *spec.obs_shape)
    assert all(reference.observation_space.contains(o) for o in obs.numpy())
    out = batch.step(torch.as_tensor(batch.action_space.sample()))
    assert out.reward.dtype == torch.float32 and out.reward.shape == (3,)
    assert out.terminated.dtype == out.truncated.dtype == torch.bool


def test_time_limit_truncates_and_autoreset_keeps_the_final_obs() -> None:
    # MountainCar without pushing never reaches the goal: every env truncates at step 200.
    batch = make_torch_env("MountainCar-v0", 4, dtype=torch.float64)
    batch.reset(seed=7)
    coast = torch.ones(4, dtype=torch.long)
    for _ in range(199):
        out = batch.step(coast)
        assert not (out.terminated | out.truncated).any()
        assert torch.equal(out.obs, out.final_obs)
    last_state = batch.state.clone()
    out = batch.step(coast)
    assert out.truncated.all() and not out.terminated.any()
    expected_final, _, _ = batch.transition(last_state, coast)
    assert torch.equal(out.final_obs, expected_final.T.float())
    assert torch.equal(batch.episode, torch.ones(4, dtype=torch.long))
    assert torch.equal(out.obs, batch.start_states().T.float())  # the next episode's start
    assert torch.equal(batch.elapsed_steps, torch.zeros(4, dtype=torch.long))
    assert (out.obs[:, 1] == 0).all() and not torch.equal(out.obs, out.final_obs)


def random_actions(batch: TorchVecEnv, steps: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    space = batch.single_action_space
    if isinstance(space, gym.spaces.Discrete):
        return [
            torch.randint(0, int(space.n), (batch.num_envs,), generator=generator)
            for _ in range(steps)
        ]
    return [4 * torch.rand(batch.num_envs, 1, generator=generator) - 2 for _ in range(steps)]


def rollout(batch: TorchVecEnv, actions: list[torch.Tensor]) -> list[torch.Tensor]:
    return [
        torch.cat([x.reshape(batch.num_envs, -1).float() for x in batch.step(a)], 1)
        for a in actions
    ]


@pytest.mark.parametrize("env_id", list(TORCH_ENVS))
def test_state_dict_resumes_exactly(env_id: str) -> None:
    batch = make_torch_env(env_id, 16)
    batch.reset(seed=3)
    actions = random_actions(batch, 140, seed=0)
    rollout(batch, actions[:40])
    # Put the time limits inside the continuation: env i truncates on its (5i + 1)-th step after
    # the save point, unless it terminates first.
    batch.elapsed_steps = batch.max_episode_steps - 1 - 5 * torch.arange(16)
    buffer = io.BytesIO()
    torch.save(batch.state_dict(), buffer)  # plain tensors: they load with weights_only=True
    episodes_at_save = batch.episode.clone()
    expected = rollout(batch, actions[40:])
    assert (batch.episode > episodes_at_save).all()  # every env restarted after the save point
    buffer.seek(0)
    resumed = make_torch_env(env_id, 16)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    got = rollout(resumed, actions[40:])
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))


def test_same_seed_same_start_states_and_envs_differ() -> None:
    first, second = make_torch_env("CartPole-v1", 64), make_torch_env("CartPole-v1", 64)
    obs = first.reset(seed=11)
    assert torch.equal(obs, second.reset(seed=np.int64(11)))
    assert len({tuple(row) for row in obs.tolist()}) == 64  # every env starts elsewhere
    assert not torch.equal(obs, second.reset(seed=12))
    torch.manual_seed(5)
    unseeded = first.reset()
    torch.manual_seed(5)
    assert torch.equal(unseeded, second.reset())  # seed=None follows torch's global generator


def test_an_envs_start_states_depend_only_on_its_seed_and_episode() -> None:
    # Env 5 of a batch seeded 100 is env 0 of a batch seeded [105]: it meets the same start
    # states, whatever the other envs do and however many there are.
    batch, alone = make_torch_env("MountainCar-v0", 8), make_torch_env("MountainCar-v0", 1)
    batch.reset(seed=100)
    alone.reset(seed=[105])
    push = torch.tensor([0, 2, 1, 0, 2, 2, 1, 0])
    for _ in range(450):  # envs 2 and 6 coast and restart at 200 and 400; the others differ
        out, out_alone = batch.step(push), alone.step(push[5:6])
        assert torch.equal(out.obs[5], out_alone.obs[0])
    assert batch.episode.tolist()[2] == 2


def test_start_states_cover_gymnasiums_bounds() -> None:
    batch = make_torch_env("Pendulum-v1", 4_096)
    obs = batch.reset(seed=0)
    theta, theta_dot = torch.atan2(obs[:, 1], obs[:, 0]), obs[:, 2]
    for values, high in ((theta, np.pi), (theta_dot, 1.0)):
        assert values.abs().max() <= high and values.abs().max() > 0.99 * high
        assert abs(values.mean()) < 0.05 * high  # uniform and centred: std error ~0.01 * high
        assert abs(values.abs().mean() - high / 2) < 0.05 * high


def test_bad_calls_name_the_problem() -> None:
    with pytest.raises(ValueError, match="serves CartPole-v1, Acrobot-v1"):
        make_torch_env("LunarLander-v3", 2)
    batch = make_torch_env("CartPole-v1", 2)
    with pytest.raises(RuntimeError, match="call reset"):
        batch.step(torch.zeros(2, dtype=torch.long))
    batch.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(2,\)"):
        batch.step(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="2 seeds for 3 envs"):
        make_torch_env("CartPole-v1", 3).reset(seed=[1, 2])
    with pytest.raises(ValueError, match="num_envs=3"):
        make_torch_env("CartPole-v1", 3).load_state_dict(batch.state_dict())

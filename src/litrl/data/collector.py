"""Stepping vector envs with an actor: transitions for the buffer, episode stats, evaluation.

``Collector`` steps gymnasium vector envs (EnvPool's too, as ``EnvPoolVecEnv``) and stages each
chunk on the host; the torch backend's batches get ``TensorCollector``
(``litrl.data.tensor_collector``), which never leaves the device.
``make_collector`` and ``evaluate`` choose by the kind of envs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv

from litrl.data.buffers import Transitions
from litrl.data.contract import (
    Actor,
    CollectInterrupted,
    Episodes,
    EvaluationInterrupted,
    OnPolicyActor,
    never_stop,
)
from litrl.data.tensor_collector import TensorCollector, evaluate_batch
from litrl.envs import final_observations, is_image
from litrl.envs.snapshot import restore, snapshot
from litrl.envs.torch_backend import TorchVecEnv
from litrl.perf import PhaseClock

__all__ = [
    "Actor",
    "CollectInterrupted",
    "Collector",
    "Episodes",
    "EvaluationInterrupted",
    "OnPolicyActor",
    "TensorCollector",
    "evaluate",
    "make_collector",
    "to_env_action",
]
log = logging.getLogger(__name__)


def to_env_action(action: np.ndarray, space: gym.Space) -> np.ndarray:
    """Actions as the env takes them: continuous ones clipped to the space's bounds.

    The unclipped action is what the policy sampled and what its log-probability refers to,
    so it is the one stored; only the env sees the clipped one.
    """
    if isinstance(space, gym.spaces.Box):
        return np.clip(action, space.low, space.high)
    return action


def _action_dtype(space: gym.Space) -> type:
    return np.float32 if isinstance(space, gym.spaces.Box) else np.int64


@dataclass
class _Chunk:
    """A chunk being collected: host arrays ``(steps, num_envs, ...)`` filled up to ``filled``.

    ``start_lengths`` is each env's episode length when the chunk began (0: a fresh episode).
    """

    obs: np.ndarray
    next_obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    start_lengths: np.ndarray
    filled: int = 0

    @property
    def steps(self) -> int:
        return len(self.reward)

    def transitions(self) -> Transitions:
        return Transitions(
            obs=torch.from_numpy(self.obs),
            action=torch.from_numpy(self.action),
            reward=torch.from_numpy(self.reward),
            next_obs=torch.from_numpy(self.next_obs),
            terminated=torch.from_numpy(self.terminated),
            episode_ended=torch.from_numpy(self.terminated | self.truncated),
        )

    def state_dict(self) -> dict[str, Any]:
        arrays = {name: torch.from_numpy(getattr(self, name).copy()) for name in _CHUNK_ARRAYS}
        return {**arrays, "filled": self.filled}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> _Chunk:
        arrays = {name: state[name].numpy().copy() for name in _CHUNK_ARRAYS}
        return cls(**arrays, filled=state["filled"])


_CHUNK_ARRAYS = ("obs", "next_obs", "action", "reward", "terminated", "truncated", "start_lengths")


class Collector:
    """Steps ``envs`` with an actor and stages the transitions on the host.

    One observation goes to the device and one action batch comes back per vector step;
    the staged chunk is written to the buffer in one copy per field.

    Args:
        envs: vector env in SAME_STEP autoreset mode.
        device: where the actor's networks live.
        seed: seeds the envs' first reset and their action space (for random actions).
        clock: gets the seconds spent acting (``act``) and stepping the envs (``env``).
        should_stop: asked before every vector step; when it says True the collect stops
            there (``CollectInterrupted``), so a stop request waits for one env step, not for
            a whole chunk or warm-up of a slow env.
    """

    def __init__(
        self,
        envs: VectorEnv,
        device: torch.device,
        seed: int,
        clock: PhaseClock | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.envs = envs
        self.device = device
        self.seed = seed
        self.clock = clock or PhaseClock()
        self.should_stop = should_stop or never_stop
        space = envs.single_observation_space
        # Image frames stay bytes on their way to the buffer; everything else is float32.
        self._obs_dtype = np.uint8 if is_image(space.dtype, space.shape) else np.float32
        self.num_envs = envs.num_envs
        self.obs, _ = envs.reset(seed=seed)
        envs.action_space.seed(seed)
        self.env_steps = 0
        self._running_return = np.zeros(self.num_envs)
        self._running_length = np.zeros(self.num_envs, dtype=np.int64)
        self._finished_returns: list[float] = []
        self._finished_lengths: list[int] = []
        self._chunk: _Chunk | None = None  # under way, or stopped part-way (kept for resume)
        self._fresh_starts = np.ones(self.num_envs, dtype=bool)

    def collect(self, actor: Actor | None, steps_per_env: int) -> Transitions:
        """Takes ``steps_per_env`` vector steps; uniformly random actions when ``actor`` is None.

        Raises:
            CollectInterrupted: ``should_stop()`` said True before one of the steps; calling
                ``collect`` again with the same length continues this chunk.
        """
        chunk = self._continue_or_start(steps_per_env)
        space = self.envs.single_action_space
        for t in range(chunk.filled, steps_per_env):
            if self.should_stop():
                raise CollectInterrupted(f"stopped after {t} of {steps_per_env} vector steps")
            chunk.obs[t] = self.obs
            started = time.perf_counter()
            chunk.action[t] = self._actions(actor)
            acted = time.perf_counter()
            self.obs, chunk.reward[t], chunk.terminated[t], chunk.truncated[t], info = (
                self.envs.step(to_env_action(chunk.action[t], space))
            )
            self.clock.add("act", acted - started)
            self.clock.add("env", time.perf_counter() - acted)
            chunk.next_obs[t] = final_observations(self.obs, info)
            self._track_episodes(chunk.reward[t], chunk.terminated[t] | chunk.truncated[t])
            self.env_steps += self.num_envs
            chunk.filled = t + 1
        self._chunk = None
        self._fresh_starts = chunk.start_lengths == 0
        return chunk.transitions()

    def fresh_starts(self) -> np.ndarray:
        """True for the envs whose episode began with the chunk ``collect`` returned last."""
        return self._fresh_starts.copy()

    def chunk_nbytes(self, steps_per_env: int) -> int:
        """Bytes of the chunk ``collect(steps_per_env)`` fills, known before it is allocated;
        it lives on the host (``chunk_device``)."""
        return sum(
            math.prod(shape) * np.dtype(dtype).itemsize
            for shape, dtype in self._chunk_layout(steps_per_env).values()
        )

    @property
    def chunk_device(self) -> torch.device:
        return torch.device("cpu")

    def _chunk_layout(self, steps_per_env: int) -> dict[str, tuple[tuple[int, ...], Any]]:
        """Each staged field's shape and dtype, for ``steps_per_env`` vector steps."""
        shape = (steps_per_env, self.num_envs)
        obs = (shape + self.obs.shape[1:], self._obs_dtype)
        space = self.envs.single_action_space
        return {
            "obs": obs,
            "next_obs": obs,
            "action": (shape + (space.shape or ()), _action_dtype(space)),
            "reward": (shape, np.float32),
            "terminated": (shape, np.bool_),
            "truncated": (shape, np.bool_),
        }

    def _continue_or_start(self, steps_per_env: int) -> _Chunk:
        if self._chunk is not None and self._chunk.steps == steps_per_env:
            return self._chunk
        if self._chunk is not None and self._chunk.filled:
            # A collect of another length (a resume whose warm-up refills a replay buffer the
            # checkpoint did not hold, or a changed config) starts afresh; those steps were
            # taken, so they stay counted, but they are not stored.
            log.info("dropping %d vector steps of a stopped collect", self._chunk.filled)
        # Any: each field has its own array type, and the dataclass names them all.
        empty: dict[str, Any] = {
            name: np.empty(shape, dtype=dtype)
            for name, (shape, dtype) in self._chunk_layout(steps_per_env).items()
        }
        self._chunk = _Chunk(**empty, start_lengths=self._running_length.copy())
        return self._chunk

    def pop_finished_episodes(self) -> Episodes:
        """Episodes finished since the last call."""
        episodes = Episodes(
            torch.tensor(self._finished_returns, dtype=torch.float32),
            torch.tensor(self._finished_lengths, dtype=torch.int64),
        )
        self._finished_returns, self._finished_lengths = [], []
        return episodes

    def state_dict(self) -> dict[str, Any]:
        """Where every env stands, as plain data (see ``litrl.envs.snapshot``).

        ``envs`` is None when some env's state is not plain data (e.g. a Box2D world), or lives
        in EnvPool's C++ pool (``EnvPoolVecEnv``: no per-env ``envs`` to snapshot).
        """
        snapshots = [snapshot(env) for env in getattr(self.envs, "envs", [])]
        exact = bool(snapshots) and all(s is not None for s in snapshots)
        return {
            "backend": getattr(self.envs, "backend", "gymnasium"),  # EnvPoolVecEnv: envpool
            "obs": torch.from_numpy(np.array(self.obs)),
            "env_steps": self.env_steps,
            "running_return": torch.from_numpy(self._running_return.copy()),
            "running_length": torch.from_numpy(self._running_length.copy()),
            "envs": snapshots if exact else None,
            "action_space_rng": self.envs.action_space.np_random.bit_generator.state,
            "chunk": self._chunk.state_dict() if self._chunk is not None else None,
            # Episodes finished by a collect stopped part-way, not yet handed to the module.
            "finished_returns": list(self._finished_returns),
            "finished_lengths": list(self._finished_lengths),
            "fresh_starts": torch.from_numpy(self._fresh_starts.copy()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> bool:
        """Continues where ``state`` left off.

        Returns:
            True if the envs continue their episodes exactly; False if they could not be
            snapshotted and were reset instead (their unfinished episodes are dropped).
        """
        self.env_steps = state["env_steps"]
        self.envs.action_space.np_random.bit_generator.state = state["action_space_rng"]
        self._finished_returns = list(state.get("finished_returns", []))
        self._finished_lengths = list(state.get("finished_lengths", []))
        chunk = state.get("chunk")
        self._chunk = _Chunk.from_state_dict(chunk) if chunk is not None else None
        if "fresh_starts" in state:
            self._fresh_starts = state["fresh_starts"].numpy().copy()
        if state["envs"] is None:
            if self._chunk is not None and self._chunk.filled:
                # The envs restart below: the stopped chunk's last step ends its episodes.
                self._chunk.truncated[self._chunk.filled - 1] = True
            self.obs, _ = self.envs.reset(seed=self.seed + self.env_steps)
            self._running_return[:] = 0.0
            self._running_length[:] = 0
            return False
        for env, env_state in zip(self.envs.envs, state["envs"], strict=True):  # type: ignore[attr-defined]
            restore(env, env_state)
        self.obs = state["obs"].numpy().copy()
        self._running_return = state["running_return"].numpy().copy()
        self._running_length = state["running_length"].numpy().copy()
        return True

    def _actions(self, actor: Actor | None) -> np.ndarray:
        if actor is None:
            return self.envs.action_space.sample()
        # Image frames travel as bytes (4x less to copy); the CNN scales them.
        dtype = torch.uint8 if self._obs_dtype == np.uint8 else torch.float32
        obs = torch.as_tensor(self.obs, dtype=dtype, device=self.device)
        return actor.act(obs, self.env_steps).cpu().numpy()

    def _track_episodes(self, reward: np.ndarray, ended: np.ndarray) -> None:
        self._running_return += reward
        self._running_length += 1
        for i in np.flatnonzero(ended):
            self._finished_returns.append(float(self._running_return[i]))
            self._finished_lengths.append(int(self._running_length[i]))
        self._running_return[ended] = 0.0
        self._running_length[ended] = 0


def make_collector(
    envs: VectorEnv | TorchVecEnv,
    device: torch.device,
    seed: int,
    clock: PhaseClock | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Collector | TensorCollector:
    """The collector for these envs: ``TensorCollector`` for a torch-backend batch, else
    ``Collector`` (same arguments)."""
    if isinstance(envs, TorchVecEnv):
        return TensorCollector(envs, device, seed, clock, should_stop)
    return Collector(envs, device, seed, clock, should_stop)


def evaluate(
    actor: Actor,
    envs: VectorEnv | TorchVecEnv,
    episodes: int,
    seed: int,
    device: torch.device,
    should_stop: Callable[[], bool] | None = None,
) -> Episodes:
    """Runs ``episodes`` greedy episodes spread over the sub-envs.

    Each sub-env gets a fixed quota up front, so short episodes are not over-counted the way
    "first N to finish" would count them. A torch-backend batch is evaluated on its own device
    (``evaluate_batch``).

    Raises:
        EvaluationInterrupted: ``should_stop()``, asked before every vector step, said True.
    """
    if isinstance(envs, TorchVecEnv):
        return evaluate_batch(actor, envs, episodes, seed, should_stop)
    should_stop = should_stop or never_stop
    quota = np.full(envs.num_envs, episodes // envs.num_envs)
    quota[: episodes % envs.num_envs] += 1
    returns: list[float] = []
    lengths: list[int] = []
    running_return = np.zeros(envs.num_envs)
    running_length = np.zeros(envs.num_envs, dtype=np.int64)
    obs, _ = envs.reset(seed=seed)
    while quota.any():
        if should_stop():
            raise EvaluationInterrupted(f"stopped with {len(returns)} of {episodes} episodes done")
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=device)
        action = actor.act(obs_t, env_steps=0, greedy=True).cpu().numpy()
        obs, reward, terminated, truncated, _ = envs.step(
            to_env_action(action, envs.single_action_space)
        )
        running_return += reward
        running_length += 1
        for i in np.flatnonzero((terminated | truncated) & (quota > 0)):
            returns.append(float(running_return[i]))
            lengths.append(int(running_length[i]))
            quota[i] -= 1
        ended = terminated | truncated
        running_return[ended] = 0.0
        running_length[ended] = 0
    return Episodes(torch.tensor(returns), torch.tensor(lengths))

"""Collecting from the torch backend's batched envs (``env.backend=torch``) without leaving the device.

``TensorCollector`` keeps ``Collector``'s contract (``collect`` and its ``CollectInterrupted``,
``fresh_starts``, ``pop_finished_episodes``, exact-resume state dicts, ``should_stop`` asked
before every vector step), but everything a vector step touches stays on the training device:
the env's tensors go straight into a chunk preallocated there, Box actions are clipped there,
random warm-up actions come from a generator there, and episode returns and lengths are summed
there. The host waits for the device only at the end of a chunk, to take the finished episodes
and to check that the chunk is finite (the guard's per-step check, done in bulk).

Env steps run under ``torch.inference_mode``; the chunk is allocated outside it, so the
transitions it hands over are ordinary tensors that the update can differentiate through.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import torch
from torch import Tensor

from litrl.data.buffers import Transitions
from litrl.data.contract import (
    Actor,
    CollectInterrupted,
    Episodes,
    EvaluationInterrupted,
    never_stop,
)
from litrl.envs.guard import check_finite_steps
from litrl.envs.torch_backend import TorchVecEnv
from litrl.errors import ConfigError
from litrl.perf import PhaseClock

log = logging.getLogger(__name__)
BACKEND = "torch"  # the collector state's tag: a checkpoint knows which collector wrote it
EVAL_CHECK_EVERY = 16  # vector steps between the evaluation's "quotas done?" host syncs


class ActionBounds:
    """Clips Box actions to the space's bounds on the device; Discrete actions pass as they are.

    The unclipped action is the one stored (the policy's log-probability refers to it); only
    the env sees the clipped one.
    """

    def __init__(self, space: gym.Space, device: torch.device) -> None:
        self.bounds: tuple[Tensor, Tensor] | None = None
        if isinstance(space, gym.spaces.Box):
            low, high = (torch.as_tensor(b, device=device) for b in (space.low, space.high))
            self.bounds = (low, high)

    def __call__(self, action: Tensor) -> Tensor:
        return action if self.bounds is None else torch.clamp(action, *self.bounds)


@dataclass
class _TensorChunk:
    """A chunk being collected: device tensors ``(steps, num_envs, ...)`` filled up to ``filled``.

    ``episode_return`` and ``episode_length`` hold each env's return and length so far after
    each step (read at the steps that end an episode); ``start_lengths`` is each env's episode
    length when the chunk began (0: a fresh episode).
    """

    obs: Tensor
    next_obs: Tensor
    action: Tensor
    reward: Tensor
    terminated: Tensor
    truncated: Tensor
    episode_return: Tensor
    episode_length: Tensor
    start_lengths: Tensor
    filled: int = 0

    @property
    def steps(self) -> int:
        return len(self.reward)

    def transitions(self) -> Transitions:
        return Transitions(
            obs=self.obs,
            action=self.action,
            reward=self.reward,
            next_obs=self.next_obs,
            terminated=self.terminated,
            episode_ended=self.terminated | self.truncated,
        )

    def finished_episodes(self, rows: int) -> Episodes:
        """The episodes that ended in the first ``rows`` steps, in finishing order (a host sync)."""
        ended = self.terminated[:rows] | self.truncated[:rows]
        returns = self.episode_return[:rows][ended].float()  # row-major: step, then env
        return Episodes(returns.cpu(), self.episode_length[:rows][ended].cpu())

    def state_dict(self) -> dict[str, Any]:
        tensors = {
            f.name: getattr(self, f.name).clone() for f in fields(self) if f.name != "filled"
        }
        return {**tensors, "filled": self.filled}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: torch.device) -> _TensorChunk:
        tensors = {
            f.name: state[f.name].to(device, copy=True) for f in fields(cls) if f.name != "filled"
        }
        return cls(**tensors, filled=state["filled"])


class TensorCollector:
    """Steps a ``TorchVecEnv`` with an actor; transitions and episode stats stay on its device.

    Args:
        envs: the batch, built on the training device.
        device: where the actor's networks live; must be the batch's device.
        seed: seeds the envs' first reset and the random warm-up actions.
        clock: gets the seconds spent acting (``act``) and stepping the envs (``env``); on a
            GPU these are launch times (nothing here waits for the device).
        should_stop: asked before every vector step; True stops the collect there
            (``CollectInterrupted``; the next ``collect`` of the same length continues it).
    """

    def __init__(
        self,
        envs: TorchVecEnv,
        device: torch.device,
        seed: int,
        clock: PhaseClock | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        if envs.device.type != torch.device(device).type:
            raise ValueError(f"the envs live on {envs.device}, the actor on {device}")
        self.envs = envs
        self.device = envs.device
        self.seed = seed
        self.clock = clock or PhaseClock()
        self.should_stop = should_stop or never_stop
        self.num_envs = envs.num_envs
        self.obs = envs.reset(seed=seed)
        self._generator = torch.Generator(self.device).manual_seed(seed)
        self._space = envs.single_action_space
        if isinstance(self._space, gym.spaces.Box) and not self._space.is_bounded():
            raise ValueError(f"{envs.env_id}: random actions need a bounded Box action space")
        self._clip = ActionBounds(self._space, self.device)
        self.env_steps = 0
        self._running_return = torch.zeros(self.num_envs, dtype=torch.float64, device=self.device)
        self._running_length = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        self._finished_returns: list[float] = []
        self._finished_lengths: list[int] = []
        self._chunk: _TensorChunk | None = None  # under way, or stopped part-way (kept for resume)
        self._fresh_starts = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)

    def collect(self, actor: Actor | None, steps_per_env: int) -> Transitions:
        """Takes ``steps_per_env`` vector steps; uniformly random actions when ``actor`` is None.

        Raises:
            CollectInterrupted: ``should_stop()`` said True before one of the steps; calling
                ``collect`` again with the same length continues this chunk.
            EnvError: the chunk holds a non-finite observation or reward.
        """
        chunk = self._continue_or_start(steps_per_env)
        with torch.inference_mode():
            for t in range(chunk.filled, steps_per_env):
                if self.should_stop():
                    raise CollectInterrupted(f"stopped after {t} of {steps_per_env} vector steps")
                self._step(actor, chunk, t)
                self.env_steps += self.num_envs
                chunk.filled = t + 1
        self._take_episodes(chunk)
        self._chunk = None
        self._fresh_starts = chunk.start_lengths == 0
        return chunk.transitions()

    def fresh_starts(self) -> Tensor:
        """True for the envs whose episode began with the chunk ``collect`` returned last."""
        return self._fresh_starts.clone()

    def pop_finished_episodes(self) -> Episodes:
        """Episodes finished since the last call."""
        episodes = Episodes(
            torch.tensor(self._finished_returns, dtype=torch.float32),
            torch.tensor(self._finished_lengths, dtype=torch.int64),
        )
        self._finished_returns, self._finished_lengths = [], []
        return episodes

    def _step(self, actor: Actor | None, chunk: _TensorChunk, t: int) -> None:
        started = time.perf_counter()
        action = self._actions(actor)
        acted = time.perf_counter()
        step = self.envs.step(self._clip(action))
        self.clock.add("act", acted - started)
        self.clock.add("env", time.perf_counter() - acted)
        chunk.obs[t], chunk.action[t] = self.obs, action
        chunk.reward[t], chunk.next_obs[t] = step.reward, step.final_obs  # truncation bootstraps
        chunk.terminated[t], chunk.truncated[t] = step.terminated, step.truncated
        self.obs = step.obs
        self._running_return += step.reward
        self._running_length += 1
        chunk.episode_return[t], chunk.episode_length[t] = (
            self._running_return,
            self._running_length,
        )
        ended = step.terminated | step.truncated
        self._running_return.masked_fill_(ended, 0.0)
        self._running_length.masked_fill_(ended, 0)

    def _actions(self, actor: Actor | None) -> Tensor:
        if actor is not None:
            return actor.act(self.obs, self.env_steps)
        shape = (self.num_envs, *(self._space.shape or ()))
        if isinstance(self._space, gym.spaces.Discrete):
            n = int(self._space.n)
            draw = torch.randint(n, shape, generator=self._generator, device=self.device)
            return draw + int(self._space.start)
        assert self._clip.bounds is not None
        low, high = self._clip.bounds
        unit = torch.rand(shape, generator=self._generator, device=self.device)
        return low + unit * (high - low)

    def chunk_nbytes(self, steps_per_env: int) -> int:
        """Bytes of the chunk ``collect(steps_per_env)`` fills, known before it is allocated;
        it lives on the envs' device (``chunk_device``)."""
        return sum(
            math.prod(shape) * dtype.itemsize
            for shape, dtype in self._chunk_layout(steps_per_env).values()
        )

    @property
    def chunk_device(self) -> torch.device:
        return self.device

    def _chunk_layout(self, steps_per_env: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """Each field's shape and dtype, for ``steps_per_env`` vector steps."""
        shape = (steps_per_env, self.num_envs)
        obs = (shape + tuple(self.obs.shape[1:]), torch.float32)
        return {
            "obs": obs,
            "next_obs": obs,
            "action": (
                shape + (self._space.shape or ()),
                torch.float32 if self._clip.bounds is not None else torch.int64,
            ),
            "reward": (shape, torch.float32),
            "terminated": (shape, torch.bool),
            "truncated": (shape, torch.bool),
            "episode_return": (shape, torch.float64),
            "episode_length": (shape, torch.int64),
        }

    def _continue_or_start(self, steps_per_env: int) -> _TensorChunk:
        if self._chunk is not None and self._chunk.steps == steps_per_env:
            return self._chunk
        if self._chunk is not None and self._chunk.filled:
            # As Collector does: steps of a stopped collect of another length stay counted (and
            # their finished episodes reported) but are not stored.
            log.info("dropping %d vector steps of a stopped collect", self._chunk.filled)
            self._take_episodes(self._chunk)
        # Any: each field has its own array type, and the dataclass names them all.
        empty: dict[str, Any] = {
            name: torch.empty(shape, dtype=dtype, device=self.device)
            for name, (shape, dtype) in self._chunk_layout(steps_per_env).items()
        }
        self._chunk = _TensorChunk(**empty, start_lengths=self._running_length.clone())
        return self._chunk

    def _take_episodes(self, chunk: _TensorChunk) -> None:
        """Checks the filled rows and moves their finished episodes to the host (the chunk's
        host syncs; none happen per vector step)."""
        rows = chunk.filled
        check_finite_steps(
            self.envs.env_id,
            self.env_steps - rows * self.num_envs,
            obs=chunk.next_obs[:rows],
            reward=chunk.reward[:rows],
        )
        episodes = chunk.finished_episodes(rows)
        self._finished_returns += episodes.returns.tolist()
        self._finished_lengths += episodes.lengths.tolist()

    def state_dict(self) -> dict[str, Any]:
        """Where every env stands, as tensors (on the device) and plain data."""
        return {
            "backend": BACKEND,
            "obs": self.obs.clone(),
            "env_steps": self.env_steps,
            "running_return": self._running_return.clone(),
            "running_length": self._running_length.clone(),
            "envs": self.envs.state_dict(),
            "action_generator": self._generator.get_state(),
            "chunk": self._chunk.state_dict() if self._chunk is not None else None,
            # Episodes finished by a dropped collect, not yet handed to the module.
            "finished_returns": list(self._finished_returns),
            "finished_lengths": list(self._finished_lengths),
            "fresh_starts": self._fresh_starts.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> bool:
        """Continues exactly where ``state`` left off (the batch's state is plain tensors).

        Returns:
            True: the envs always continue their episodes.
        """
        if state.get("backend") != BACKEND:
            raise ConfigError(
                "the checkpoint's envs ran on env.backend=gymnasium, this run's on "
                "env.backend=torch: resume with the backend the run was started with."
            )
        try:
            self._generator.set_state(state["action_generator"].cpu())
        except RuntimeError as error:
            raise ConfigError(
                f"the checkpoint's random-action generator does not fit one on {self.device} "
                "(a CPU and a CUDA generator differ): resume on the device type the run used."
            ) from error
        self.envs.load_state_dict(state["envs"])
        self.env_steps = state["env_steps"]
        self.obs = state["obs"].to(self.device, copy=True)
        self._running_return = state["running_return"].to(self.device, copy=True)
        self._running_length = state["running_length"].to(self.device, copy=True)
        chunk = state["chunk"]
        self._chunk = None if chunk is None else _TensorChunk.from_state_dict(chunk, self.device)
        self._finished_returns = list(state["finished_returns"])
        self._finished_lengths = list(state["finished_lengths"])
        self._fresh_starts = state["fresh_starts"].to(self.device, copy=True)
        return True


def evaluate_batch(
    actor: Actor,
    envs: TorchVecEnv,
    episodes: int,
    seed: int,
    should_stop: Callable[[], bool] | None = None,
) -> Episodes:
    """``evaluate`` on a ``TorchVecEnv``: ``episodes`` greedy episodes spread over the batch.

    Each env has a fixed quota, as in ``evaluate``. The per-step bookkeeping stays on the
    device; the host asks whether the quotas are met every ``EVAL_CHECK_EVERY`` vector steps
    (envs whose quota is met keep stepping meanwhile, unrecorded). On the CPU, where reading a
    tensor costs the host no wait, the episode records are only updated at the steps that end
    an episode.

    Raises:
        EvaluationInterrupted: ``should_stop()``, asked before every vector step, said True.
    """
    should_stop = should_stop or never_stop
    n, device = envs.num_envs, envs.device
    quota = torch.full((n,), episodes // n, device=device)
    quota[: episodes % n] += 1
    running_return = torch.zeros(n, dtype=torch.float64, device=device)
    running_length = torch.zeros(n, dtype=torch.int64, device=device)
    counted: list[Tensor] = []  # per recorded step: which envs finished an episode that counts
    returns: list[Tensor] = []
    lengths: list[Tensor] = []
    clip = ActionBounds(envs.single_action_space, device)
    on_cpu = device.type == "cpu"
    with torch.inference_mode():
        obs, t = envs.reset(seed=seed), 0
        # Every episode ends by the time limit at the latest, so the quotas are met in the end.
        while t % EVAL_CHECK_EVERY or bool(quota.any()):
            if should_stop():
                done = int(torch.stack(counted).sum()) if counted else 0
                raise EvaluationInterrupted(f"stopped with {done} of {episodes} episodes done")
            step = envs.step(clip(actor.act(obs, env_steps=0, greedy=True)))
            obs, t = step.obs, t + 1
            running_return += step.reward
            running_length += 1
            ended = step.terminated | step.truncated
            if on_cpu and not ended.any():
                continue
            counts = ended & (quota > 0)
            counted.append(counts)
            returns.append(running_return.clone())
            lengths.append(running_length.clone())
            quota -= counts.long()
            running_return.masked_fill_(ended, 0.0)
            running_length.masked_fill_(ended, 0)
    mask = torch.stack(counted)  # (steps, n), read row-major: in finishing order
    return Episodes(torch.stack(returns)[mask].float().cpu(), torch.stack(lengths)[mask].cpu())

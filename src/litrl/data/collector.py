"""Stepping vector envs with an actor: transitions for the storage, episode stats, evaluation.

One ``Collector`` (and one ``evaluate``) serves every env backend through the ``TensorEnvs``
protocol (``litrl.envs.tensor_envs``): a torch-backend batch as it is, on its own device; numpy
vector envs (gymnasium's, EnvPool's) behind ``HostVecEnv``, on the CPU. Everything a vector step
touches stays on the envs' device: their tensors go straight into a chunk preallocated there,
actions are made the env's there (``litrl.envs.spaces.EnvActions``: Box ones clipped, Discrete
ones shifted by the space's start), random warm-up actions come from the envs' own generator, episode
returns and lengths are summed there. The host waits for the device only at the end of a chunk,
to take the finished episodes and, for envs that do not check their own steps, to check that the
chunk is finite (the guard's per-step check, done in bulk). One observation goes to the actor's
device and one action batch comes back per vector step.

Env steps run under ``torch.inference_mode``; the chunk is allocated outside it, so the
transitions it hands over are ordinary tensors that the update can differentiate through.

(About 450 lines: collecting and evaluating share the protocol, the action bounds and the episode
bookkeeping, and the checkpointed state with its older formats reads best beside what it saves.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import torch
from tensordict import TensorDict
from torch import Tensor

from litrl.data.contract import (
    Actor,
    CollectInterrupted,
    Episodes,
    EvaluationInterrupted,
    OnPolicyActor,
    never_stop,
)
from litrl.data.record import (
    Field,
    action_field,
    allocate,
    from_plain,
    layout_nbytes,
    to_plain,
    transition_layout,
)
from litrl.envs.guard import check_finite_steps
from litrl.envs.spaces import EnvActions
from litrl.envs.tensor_envs import TensorEnvs, as_tensor_envs
from litrl.errors import ConfigError
from litrl.perf import PhaseClock

__all__ = [
    "Actor",
    "CollectInterrupted",
    "Collector",
    "Episodes",
    "EvaluationInterrupted",
    "OnPolicyActor",
    "evaluate",
]
log = logging.getLogger(__name__)
EVAL_CHECK_EVERY = 16  # vector steps between an evaluation's "quotas done?" checks


class _Chunk:
    """A chunk being collected: the transitions (a record, ``(steps, num_envs)``) filled up to
    ``filled``, and the collector's own bookkeeping beside them.

    ``episode_return`` and ``episode_length`` hold each env's return and length so far after
    each step (read at the steps that end an episode); ``start_lengths`` is each env's episode
    length when the chunk began (0: a fresh episode). The record's leaves are looked up once,
    here, for the per-step writes.
    """

    def __init__(
        self,
        record: TensorDict,
        start_lengths: Tensor,
        episode_return: Tensor | None = None,
        episode_length: Tensor | None = None,
        filled: int = 0,
    ) -> None:
        self.record, self.start_lengths, self.filled = record, start_lengths, filled
        shape, device = tuple(record.batch_size), record.device
        self.episode_return = (
            torch.empty(shape, dtype=torch.float64, device=device)
            if episode_return is None
            else episode_return
        )
        self.episode_length = (
            torch.empty(shape, dtype=torch.int64, device=device)
            if episode_length is None
            else episode_length
        )
        self.obs, self.next_obs, self.action = record["obs"], record["next_obs"], record["action"]
        self.reward, self.terminated = record["reward"], record["terminated"]
        self.truncated = record["truncated"]

    @property
    def steps(self) -> int:
        return int(self.record.batch_size[0])

    def finished_episodes(self, rows: int) -> Episodes:
        """The episodes that ended in the first ``rows`` steps, in finishing order (a host sync)."""
        ended = self.terminated[:rows] | self.truncated[:rows]
        returns = self.episode_return[:rows][ended].float()  # row-major: step, then env
        return Episodes(returns.cpu(), self.episode_length[:rows][ended].cpu())

    def state_dict(self) -> dict[str, Any]:
        return {
            "record": to_plain(self.record.clone()),
            "episode_return": self.episode_return.clone(),
            "episode_length": self.episode_length.clone(),
            "start_lengths": self.start_lengths.clone(),
            "filled": self.filled,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: torch.device) -> _Chunk:
        if "record" in state:
            record = from_plain(state["record"], batch_dims=2, device=device)
        else:  # the torch collector's chunk before records: the same fields, at the top level
            keys = ("obs", "next_obs", "action", "reward", "terminated", "truncated")
            record = from_plain({key: state[key] for key in keys}, batch_dims=2, device=device)
        extra = {
            name: state[name].to(device, copy=True)
            for name in ("start_lengths", "episode_return", "episode_length")
        }
        return cls(record, **extra, filled=state["filled"])


class Collector:
    """Steps a batch of envs with an actor; transitions and episode stats stay on its device.

    Args:
        envs: the batch: ``TensorEnvs`` (a torch-backend batch, built on the training device),
            or a numpy vector env in SAME_STEP autoreset mode (gymnasium's, EnvPool's).
        device: where the actor's networks live.
        seed: seeds the envs' first reset and the random warm-up actions.
        clock: gets the seconds spent acting (``act``) and stepping the envs (``env``); on a
            GPU these are launch times (nothing here waits for the device).
        should_stop: asked before every vector step; True stops the collect there
            (``CollectInterrupted``; the next ``collect`` of the same length continues it), so
            a stop request waits for one env step, not for a whole chunk or warm-up.
    """

    def __init__(
        self,
        envs: Any,
        device: torch.device | str,
        seed: int,
        clock: PhaseClock | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.envs: TensorEnvs = as_tensor_envs(envs)
        self.device = torch.device(device)
        self._moves = self.device != self.envs.device  # observations to the actor, actions back
        self.seed = seed
        self.clock = clock or PhaseClock()
        self.should_stop = should_stop or never_stop
        self.num_envs = self.envs.num_envs
        self.obs = self.envs.reset(seed=seed)
        self.envs.seed_actions(seed)
        self._space = self.envs.single_action_space
        self._env_actions = EnvActions(self._space, self.envs.device)
        self.env_steps = 0
        on_envs = self.envs.device
        self._running_return = torch.zeros(self.num_envs, dtype=torch.float64, device=on_envs)
        self._running_length = torch.zeros(self.num_envs, dtype=torch.int64, device=on_envs)
        self._finished_returns: list[float] = []
        self._finished_lengths: list[int] = []
        self._chunk: _Chunk | None = None  # under way, or stopped part-way (kept for resume)
        self._fresh_starts = torch.ones(self.num_envs, dtype=torch.bool, device=on_envs)

    def collect(self, actor: Actor | None, steps_per_env: int) -> TensorDict:
        """Takes ``steps_per_env`` vector steps; uniformly random actions when ``actor`` is None.

        Returns:
            The transitions, a record (``litrl.data.record``) of ``(steps_per_env, num_envs)``.

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
        return chunk.record

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

    def _step(self, actor: Actor | None, chunk: _Chunk, t: int) -> None:
        chunk.obs[t] = self.obs  # before the step, which may reuse a host env's arrays
        started = time.perf_counter()
        action = self._actions(actor)
        acted = time.perf_counter()
        step = self.envs.step(self._env_actions.to_env(action))
        self.clock.add("act", acted - started)
        self.clock.add("env", time.perf_counter() - acted)
        chunk.action[t] = action
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
        if actor is None:  # drawn by the env's space; stored as the policy's index would be
            return self._env_actions.to_policy(self.envs.sample_actions())
        # Image frames travel as bytes (4x less to copy); the CNN scales them.
        if not self._moves:
            return actor.act(self.obs, self.env_steps)
        return actor.act(self.obs.to(self.device), self.env_steps).to(self.envs.device)

    def chunk_nbytes(self, steps_per_env: int) -> int:
        """Bytes of the chunk ``collect(steps_per_env)`` fills, known before it is allocated;
        it lives on the envs' device (``chunk_device``). The episode sums beside the record
        take 16 bytes per env step."""
        return steps_per_env * self.num_envs * (layout_nbytes(self.layout) + 16)

    @property
    def chunk_device(self) -> torch.device:
        return self.envs.device

    @property
    def layout(self) -> dict[str, Field]:
        """The fields of one transition, from the envs' spaces (``litrl.data.record``)."""
        obs = Field(tuple(self.obs.shape[1:]), self.obs.dtype)
        return transition_layout(obs, action_field(self._space))

    def _continue_or_start(self, steps_per_env: int) -> _Chunk:
        if self._chunk is not None and self._chunk.steps == steps_per_env:
            return self._chunk
        if self._chunk is not None and self._chunk.filled:
            # A collect of another length (a resume whose warm-up refills a replay buffer the
            # checkpoint did not hold, or a changed config) starts afresh; those steps were
            # taken, so they stay counted (their finished episodes reported), not stored.
            log.info("dropping %d vector steps of a stopped collect", self._chunk.filled)
            self._take_episodes(self._chunk)
        record = allocate(
            self.layout, (steps_per_env, self.num_envs), self.envs.device, zeros=False
        )
        self._chunk = _Chunk(record, start_lengths=self._running_length.clone())
        return self._chunk

    def _take_episodes(self, chunk: _Chunk) -> None:
        """Checks the filled rows (for envs that do not check their own steps) and moves their
        finished episodes to the host (the chunk's host syncs; none happen per vector step)."""
        rows = chunk.filled
        if not self.envs.checks_each_step:
            check_finite_steps(
                getattr(self.envs, "env_id", type(self.envs).__name__),
                self.env_steps - rows * self.num_envs,
                obs=chunk.next_obs[:rows],
                reward=chunk.reward[:rows],
            )
        episodes = chunk.finished_episodes(rows)
        self._finished_returns += episodes.returns.tolist()
        self._finished_lengths += episodes.lengths.tolist()

    def state_dict(self) -> dict[str, Any]:
        """Where every env stands, as tensors (on the envs' device) and plain data.

        ``envs`` is None when the envs' state is not plain data (a Box2D world, an emulator,
        EnvPool's C++ pool): a resumed run then resets them.
        """
        return {
            "backend": self.envs.backend,
            "obs": self.obs.clone(),
            "env_steps": self.env_steps,
            "running_return": self._running_return.clone(),
            "running_length": self._running_length.clone(),
            "envs": self.envs.state_dict(),
            "actions": self.envs.actions_state(),
            "chunk": self._chunk.state_dict() if self._chunk is not None else None,
            # Episodes finished by a dropped collect, not yet handed to the module.
            "finished_returns": list(self._finished_returns),
            "finished_lengths": list(self._finished_lengths),
            "fresh_starts": self._fresh_starts.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> bool:
        """Continues where ``state`` left off.

        Returns:
            True if the envs continue their episodes exactly; False if they could not be
            snapshotted and were reset instead (their unfinished episodes are dropped).
        """
        saved_backend = state.get("backend", "gymnasium")
        if saved_backend != self.envs.backend:
            raise ConfigError(
                f"the checkpoint's envs ran on env.backend={saved_backend}, this run's on "
                f"env.backend={self.envs.backend}: resume with the backend the run was started with."
            )
        self._load_actions_state(state)
        self.env_steps = state["env_steps"]
        self._finished_returns = list(state.get("finished_returns", []))
        self._finished_lengths = list(state.get("finished_lengths", []))
        self._chunk = self._saved_chunk(state.get("chunk"))
        if "fresh_starts" in state:
            self._fresh_starts = state["fresh_starts"].to(self.envs.device, copy=True)
        if state["envs"] is None:
            if self._chunk is not None and self._chunk.filled:
                # The envs restart below: the stopped chunk's last step ends its episodes.
                self._chunk.truncated[self._chunk.filled - 1] = True
            self.obs = self.envs.reset(seed=self.seed + self.env_steps)
            self._running_return.zero_()
            self._running_length.zero_()
            return False
        self.envs.load_state_dict(state["envs"])
        on_envs = {"device": self.envs.device, "copy": True}
        self.obs = state["obs"].to(dtype=self.obs.dtype, **on_envs)
        self._running_return = state["running_return"].to(dtype=torch.float64, **on_envs)
        self._running_length = state["running_length"].to(dtype=torch.int64, **on_envs)
        return True

    def _load_actions_state(self, state: dict[str, Any]) -> None:
        # "action_space_rng" and "action_generator": the keys of checkpoints written before
        # litrl had one collector (the host and the torch backend's).
        saved = next(
            state[k] for k in ("actions", "action_space_rng", "action_generator") if k in state
        )
        try:
            self.envs.load_actions_state(saved)
        except ValueError as error:
            raise ConfigError(
                f"the checkpoint's random-action generator does not fit one on {self.envs.device} "
                "(a CPU and a CUDA generator differ): resume on the device type the run used."
            ) from error

    def _saved_chunk(self, chunk: dict[str, Any] | None) -> _Chunk | None:
        if chunk is None:
            return None
        if "episode_return" not in chunk:
            # A host collector's chunk from before litrl had one collector: it tracked episodes
            # as it went, so its rows cannot be continued; the collect under way restarts.
            log.info(
                "dropping %d vector steps of a stopped collect (older checkpoint)", chunk["filled"]
            )
            return None
        return _Chunk.from_state_dict(chunk, self.envs.device)


def evaluate(
    actor: Actor,
    envs: Any,
    episodes: int,
    seed: int,
    device: torch.device | str,
    should_stop: Callable[[], bool] | None = None,
) -> Episodes:
    """Runs ``episodes`` greedy episodes spread over the envs (``Collector``'s kinds).

    Each env gets a fixed quota up front, so short episodes are not over-counted the way "first
    N to finish" would count them. The per-step bookkeeping stays on the envs' device. For a
    tensor batch the host asks whether the quotas are met every ``EVAL_CHECK_EVERY`` vector steps
    (envs whose quota is met keep stepping meanwhile, unrecorded: on an accelerator each check
    waits for the device, on the CPU it costs a tenth of a batched step); for envs stepped one by
    one on the host, at every step, so none takes a step it does not need. On the CPU, where
    reading a tensor costs no wait, the episode records are only updated at the steps that end an
    episode.

    Raises:
        EvaluationInterrupted: ``should_stop()``, asked before every vector step, said True.
    """
    tensor_envs = as_tensor_envs(envs)
    should_stop = should_stop or never_stop
    n, on_envs, device = tensor_envs.num_envs, tensor_envs.device, torch.device(device)
    quota = torch.full((n,), episodes // n, device=on_envs)
    quota[: episodes % n] += 1
    running_return = torch.zeros(n, dtype=torch.float64, device=on_envs)
    running_length = torch.zeros(n, dtype=torch.int64, device=on_envs)
    counted: list[Tensor] = []  # per recorded step: which envs finished an episode that counts
    returns: list[Tensor] = []
    lengths: list[Tensor] = []
    env_actions = EnvActions(tensor_envs.single_action_space, on_envs)
    on_cpu, moves = on_envs.type == "cpu", device != on_envs
    check_every = 1 if tensor_envs.steps_one_by_one else EVAL_CHECK_EVERY
    with torch.inference_mode():
        obs, t = tensor_envs.reset(seed=seed), 0
        # Every episode ends by the time limit at the latest, so the quotas are met in the end.
        while t % check_every or bool(quota.any()):
            if should_stop():
                done = int(torch.stack(counted).sum()) if counted else 0
                raise EvaluationInterrupted(f"stopped with {done} of {episodes} episodes done")
            if moves:
                action = actor.act(obs.to(device), env_steps=0, greedy=True).to(on_envs)
            else:
                action = actor.act(obs, env_steps=0, greedy=True)
            step = tensor_envs.step(env_actions.to_env(action))
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
    if not counted:
        return Episodes(torch.zeros(0), torch.zeros(0, dtype=torch.int64))
    mask = torch.stack(counted)  # (steps, n), read row-major: in finishing order
    return Episodes(torch.stack(returns)[mask].float().cpu(), torch.stack(lengths)[mask].cpu())

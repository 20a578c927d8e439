"""Env-rollout DataModules: they own the envs and feed each training step a chunk of experience.

``ReplayDataModule`` (off-policy, DQN) stores env steps in a replay buffer and samples
minibatches; ``OnPolicyDataModule`` (REINFORCE) hands over the rollout just collected. Both
share ``EnvRolloutDataModule``: envs, the budget in env steps, greedy evaluation, and the
checkpointed rollout state. The three stay in one module (~560 lines, most of it the checks of
sizes and memory that run before any env step) because the subclasses are short overrides of the
base's hooks and read best next to it; configs and checkpoints name them here.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, cast

import lightning as L
import torch
from tensordict import TensorDict
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from litrl.data.buffers import ReplayBuffer
from litrl.data.collector import Actor, Collector, Episodes, OnPolicyActor, evaluate
from litrl.data.frame_stack_buffer import FrameStackReplayBuffer
from litrl.data.memory import check_fits
from litrl.data.record import Field, action_field, obs_field
from litrl.envs import EnvFactory, EnvSpec
from litrl.errors import ConfigError, check_choice, check_range
from litrl.perf import PhaseClock

log = logging.getLogger(__name__)
AUTO_CHECKPOINT_BUFFER_BYTES = 512 * 2**20


class ReplayBatch(NamedTuple):
    """What one off-policy ``training_step`` consumes: a chunk of env steps has just been
    collected and stored.

    ``sample`` holds ``updates_per_collect`` minibatches of n-step windows, a record
    ``(updates, batch_size)`` (``ReplayBuffer.windows``' keys). Episode stats are plain Python
    lists so that Lightning leaves them on the host.
    """

    sample: TensorDict
    env_steps: int
    episode_returns: list[float]
    episode_lengths: list[int]


class RolloutBatch(NamedTuple):
    """What one on-policy ``training_step`` consumes: the rollout its parameters just collected.

    ``rollout`` is the collected transitions, a record ``(steps, num_envs)``
    (``litrl.data.record.transition_layout``); ``fresh_start`` marks the envs whose episode
    began with this rollout; ``policy_version`` is the actor's version when it collected it.
    """

    rollout: TensorDict
    fresh_start: Tensor
    policy_version: int
    env_steps: int
    episode_returns: list[float]
    episode_lengths: list[int]


class _SizedIterable(IterableDataset):
    """A finite stream of known length: Lightning then skips prefetching the next batch, so
    every chunk is collected by the parameters of the step before it."""

    def __init__(self, length: int, next_item: Any) -> None:
        self.length = length
        self.next_item = next_item

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[Any]:
        for _ in range(self.length):
            yield self.next_item()


def _as_is(item: Any) -> Any:
    return item


def _loader(dataset: _SizedIterable) -> DataLoader:
    # Each DataLoader iterator draws a base seed from its generator; a private one keeps those
    # draws off the global torch RNG, so starting an evaluation does not shift exploration.
    return DataLoader(dataset, batch_size=None, collate_fn=_as_is, generator=torch.Generator())


class EnvRolloutDataModule(L.LightningDataModule):
    """Owns the training and evaluation envs; yields one item per training step.

    Subclasses implement ``next_batch()``.

    Args:
        env: makes the training and evaluation envs.
        num_envs: training envs stepped in lock-step.
        env_steps_per_collect: env steps (all envs together) collected per training step.
        total_env_steps: the run's budget (warm-up included).
        eval_every_env_steps: env steps between greedy evaluations; the budget is rounded up
            to a whole number of these, so a run always ends with an evaluation.
        eval_episodes: greedy episodes per evaluation.
        eval_num_envs: envs the evaluation episodes are spread over.
        seed: seeds the training envs; evaluation envs get ``seed + 10_000 + evaluation index``.
        actor: acts in the envs; defaults to the trainer's LightningModule.
        eval_max_episode_steps: evaluation episodes longer than this end as truncated (an env
            without a time limit, or a policy that never ends its episode, would hang it).
        should_stop: asked before every vector env step (warm-up and evaluations included); True
            stops the collect there with ``CollectInterrupted``, an evaluation with
            ``EvaluationInterrupted`` (``run()`` passes the signal handler's flag).
    """

    warmup_env_steps = 0

    def __init__(
        self,
        env: EnvFactory,
        num_envs: int,
        env_steps_per_collect: int,
        total_env_steps: int,
        eval_every_env_steps: int,
        eval_episodes: int,
        eval_num_envs: int,
        seed: int,
        actor: Actor | None,
        should_stop: Callable[[], bool] | None = None,
        eval_max_episode_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.env = env
        self.num_envs = num_envs
        self.env_steps_per_collect = env_steps_per_collect
        self.total_env_steps = total_env_steps
        self.eval_every_env_steps = eval_every_env_steps
        self.eval_episodes = eval_episodes
        self.eval_num_envs = min(eval_num_envs, eval_episodes)
        self.eval_max_episode_steps = eval_max_episode_steps
        self.seed = seed
        self.actor = actor
        self.should_stop = should_stop
        self.evaluations_done = 0
        self.clock = PhaseClock()  # seconds in env stepping, acting and the buffer (perf/*)
        self.collector: Collector | None = None
        self.resumed_exactly: bool | None = None  # set by load_state_dict
        self._pending_state: dict[str, Any] | None = None

    def _check_sizes(self) -> None:
        check_range("total_env_steps", self.total_env_steps, 1, math.inf)
        check_range("algo.data.num_envs", self.num_envs, 1, math.inf)
        check_range("eval.episodes", self.eval_episodes, 1, math.inf)
        check_range("eval.every_env_steps", self.eval_every_env_steps, 1, math.inf)
        if self.env_steps_per_collect < self.num_envs or self.env_steps_per_collect % self.num_envs:
            raise ConfigError(
                f"algo.data.env_steps_per_collect={self.env_steps_per_collect} must be a positive "
                f"multiple of algo.data.num_envs={self.num_envs}."
            )
        if self.eval_every_env_steps % self.env_steps_per_collect:
            raise ConfigError(
                f"eval.every_env_steps={self.eval_every_env_steps} must be a multiple of "
                f"algo.data.env_steps_per_collect={self.env_steps_per_collect}."
            )

    @property
    def training_steps_per_eval(self) -> int:
        """Training steps between evaluations."""
        return self.eval_every_env_steps // self.env_steps_per_collect

    @property
    def num_evaluations(self) -> int:
        """Evaluations in the budget, rounded up: a run always ends with one.

        The trainer runs one epoch per evaluation, so a resumed run whose budget grew simply
        has more epochs to go.
        """
        learning_env_steps = max(self.total_env_steps - self.warmup_env_steps, 1)
        return math.ceil(learning_env_steps / self.eval_every_env_steps)

    @property
    def final_env_steps(self) -> int:
        """The env step the run ends at: the warm-up, then whole eval intervals until the
        budget is reached (``total_env_steps`` rounded up to the next evaluation)."""
        return self.warmup_env_steps + self.num_evaluations * self.eval_every_env_steps

    @property
    def num_training_steps(self) -> int:
        """Training steps in the budget."""
        return self.num_evaluations * self.training_steps_per_eval

    @property
    def steps_per_env(self) -> int:
        """Vector steps per collect."""
        return self.env_steps_per_collect // self.num_envs

    def setup(self, stage: str) -> None:
        """Builds the envs on the trainer's device (once per fit)."""
        if self.collector is not None:
            return
        if self.actor is None and self.trainer is not None:
            self.actor = cast(Actor, self.trainer.lightning_module)
        self._check_actor()
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        envs = self.env.make_vector(self.num_envs, training=True, device=device)
        self.collector = Collector(envs, device, self.seed, self.clock, self.should_stop)
        self.eval_envs = self.env.make_vector(
            self.eval_num_envs, device=device, max_episode_steps=self.eval_max_episode_steps
        )
        self._setup_storage(device)
        if self._pending_state is not None:
            self.load_state_dict(self._pending_state)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs to continue collecting where this run stands."""
        assert self.collector is not None, "call setup() first"
        return {"collector": self.collector.state_dict(), "evaluations_done": self.evaluations_done}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continues from a checkpoint's ``state_dict()`` (applied at ``setup`` if not built yet)."""
        if self.collector is None:
            self._pending_state = state_dict
            return
        self._pending_state = None
        self.evaluations_done = state_dict["evaluations_done"]
        saved_backend = state_dict["collector"].get("backend", "gymnasium")
        if saved_backend != self.env.backend:
            raise ConfigError(
                f"the checkpoint's envs ran on env.backend={saved_backend}, this run's on "
                f"env.backend={self.env.backend}: resume with the backend the run started with."
            )
        self.resumed_exactly = self.collector.load_state_dict(state_dict["collector"])
        self._load_storage(state_dict)

    def _load_storage(self, state_dict: dict[str, Any]) -> None:
        """Restores what ``_setup_storage`` allocated."""

    def _setup_storage(self, device: torch.device) -> None:
        """Allocates what the subclass keeps between training steps."""

    def _check_actor(self) -> None:
        """Raises a ConfigError if the actor cannot feed this DataModule (before any env is built)."""

    def next_batch(self) -> Any:
        """Collects with the actor and returns what one training step consumes."""
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        return _loader(_SizedIterable(self.training_steps_per_eval, self.next_batch))

    def val_dataloader(self) -> DataLoader:
        return _loader(_SizedIterable(1, self.evaluate))

    def evaluate(self) -> Episodes:
        """Greedy episodes on the evaluation envs, seeded per evaluation for reproducibility.

        An evaluation stopped part-way (``EvaluationInterrupted``) is not counted: a resumed run
        runs it again with the same seed.
        """
        assert self.actor is not None and self.collector is not None, "call setup() first"
        seed = self.seed + 10_000 + self.evaluations_done
        episodes = evaluate(
            self.actor, self.eval_envs, self.eval_episodes, seed, self.collector.device,
            self.should_stop,
        )  # fmt: skip
        self.evaluations_done += 1
        return episodes

    def teardown(self, stage: str) -> None:
        """Closes the envs; a later ``setup`` builds fresh ones."""
        if self.collector is not None:
            self.collector.envs.close()
            self.eval_envs.close()
            self.collector = None


class ReplayDataModule(EnvRolloutDataModule):
    """Collects env steps with the module's ``act()`` into a replay buffer on the training device.

    Each training step first collects ``env_steps_per_collect`` env steps (split across
    ``num_envs`` vector envs), then hands over ``updates_per_collect`` minibatches of n-step
    windows. Before the first step, ``warmup_env_steps`` are collected with random actions.

    Args:
        env: makes the training and evaluation envs.
        num_envs: training envs stepped in lock-step.
        buffer_capacity: transitions the replay buffer holds.
        batch_size: transitions per gradient update.
        env_steps_per_collect: env steps (all envs together) per training step.
        updates_per_collect: gradient updates per training step.
        warmup_env_steps: random-action env steps before learning starts.
        n_step: length of the return windows sampled for the targets.
        checkpoint_buffer: store the replay buffer in checkpoints so that a resumed run
            continues with it: true, false, or "auto" (when it takes at most 512 MiB).
        store_frames_once: for stacked-frame observations (Atari), store each frame once and
            rebuild the stacks at sample time (``FrameStackReplayBuffer``, ~4x less memory):
            true, false, or "auto" (when the env stacks frames).
        total_env_steps: the run's budget, warm-up included.
        eval_every_env_steps: env steps between greedy evaluations (see EnvRolloutDataModule).
        eval_episodes: greedy episodes per evaluation.
        eval_num_envs: envs the evaluation episodes are spread over.
        seed: seeds the envs.
        actor: acts in the envs; defaults to the trainer's LightningModule.
        should_stop: see EnvRolloutDataModule.
        eval_max_episode_steps: see EnvRolloutDataModule.
    """

    def __init__(
        self,
        env: EnvFactory,
        num_envs: int = 8,
        buffer_capacity: int = 100_000,
        batch_size: int = 128,
        env_steps_per_collect: int = 64,
        updates_per_collect: int = 16,
        warmup_env_steps: int = 1_000,
        n_step: int = 8,
        checkpoint_buffer: bool | str = "auto",
        store_frames_once: bool | str = "auto",
        total_env_steps: int = 50_000,
        eval_every_env_steps: int = 2_048,
        eval_episodes: int = 10,
        eval_num_envs: int = 10,
        seed: int = 0,
        actor: Actor | None = None,
        should_stop: Callable[[], bool] | None = None,
        eval_max_episode_steps: int | None = None,
    ) -> None:
        super().__init__(
            env, num_envs, env_steps_per_collect, total_env_steps, eval_every_env_steps,
            eval_episodes, eval_num_envs, seed, actor, should_stop, eval_max_episode_steps,
        )  # fmt: skip
        self.buffer_capacity = buffer_capacity
        self.batch_size = batch_size
        self.updates_per_collect = updates_per_collect
        self.warmup_env_steps = warmup_env_steps
        self.n_step = n_step
        self.checkpoint_buffer = checkpoint_buffer
        self.store_frames_once = store_frames_once
        self._check_sizes()
        spec = env.spec()
        self._frames_once(spec)  # fails now, before any compute, if it cannot apply
        self._check_buffer_fits(spec, torch.device("cpu"))  # the host's memory, before any write
        self.buffer: ReplayBuffer | None = None

    def _buffer_class(self, spec: EnvSpec) -> type[ReplayBuffer]:
        return FrameStackReplayBuffer if self._frames_once(spec) else ReplayBuffer

    @staticmethod
    def _fields(spec: EnvSpec) -> tuple[Field, Field]:
        """How the env's observations and actions are stored (``litrl.data.record``)."""
        return obs_field(spec.obs_shape, spec.obs_dtype), action_field(spec.action_space)

    def _check_buffer_fits(self, spec: EnvSpec, device: torch.device) -> None:
        obs, action = self._fields(spec)
        per_transition = self._buffer_class(spec).bytes_per_transition(
            obs.shape, obs.dtype, action.shape, action.dtype
        )
        transitions = self.buffer_capacity // self.num_envs * self.num_envs
        check_fits(
            f"the replay buffer of algo.data.buffer_capacity={self.buffer_capacity} transitions "
            f"of {spec.env_id} ({per_transition:,} bytes each, observations {spec.obs_shape})",
            transitions * per_transition,
            device,
            lambda available: (
                "lower algo.data.buffer_capacity (about "
                f"{available // per_transition:,} transitions fit) or use a machine with more memory"
            ),
        )

    def _check_sizes(self) -> None:
        super()._check_sizes()
        check_range("algo.data.buffer_capacity", self.buffer_capacity, self.num_envs, math.inf)
        check_range("algo.data.batch_size", self.batch_size, 1, self.buffer_capacity)
        check_range("algo.data.n_step", self.n_step, 1, math.inf)
        check_range("algo.data.updates_per_collect", self.updates_per_collect, 0, math.inf)
        check_range("algo.data.warmup_env_steps", self.warmup_env_steps, 0, self.buffer_capacity)
        if self.total_env_steps <= self.warmup_env_steps:
            raise ConfigError(
                f"total_env_steps={self.total_env_steps} leaves nothing to learn after the "
                f"algo.data.warmup_env_steps={self.warmup_env_steps} random-action steps it "
                "includes; raise total_env_steps or lower algo.data.warmup_env_steps."
            )
        check_choice("algo.data.checkpoint_buffer", self.checkpoint_buffer, [True, False, "auto"])
        check_choice("algo.data.store_frames_once", self.store_frames_once, [True, False, "auto"])
        rows_per_env = self.buffer_capacity // self.num_envs
        for field, steps_per_env in (
            ("algo.data.env_steps_per_collect", self.steps_per_env),
            ("algo.data.warmup_env_steps", math.ceil(self.warmup_env_steps / self.num_envs)),
        ):
            if steps_per_env > rows_per_env:
                raise ConfigError(
                    f"{field} needs {steps_per_env} steps per env in the buffer, which holds "
                    f"{rows_per_env} per env (algo.data.buffer_capacity={self.buffer_capacity} over "
                    f"{self.num_envs} envs); raise the capacity or lower {field}."
                )

    def _setup_storage(self, device: torch.device) -> None:
        if self.buffer is not None:  # set up again after a teardown: the new envs start afresh
            self.buffer.mark_episode_ends()
            return
        spec = self.env.spec()
        if device.type == "cuda":  # the host was checked at construction; this is the GPU
            self._check_buffer_fits(spec, device)
        obs, action = self._fields(spec)
        self.buffer = self._buffer_class(spec)(
            self.buffer_capacity, self.num_envs, obs.shape, device, obs.dtype,
            action.shape, action.dtype,
        )  # fmt: skip

    def _frames_once(self, spec: EnvSpec) -> bool:
        stacked_frames = spec.image_obs and spec.frame_stack > 1
        if self.store_frames_once is True and not stacked_frames:
            raise ConfigError(
                f"algo.data.store_frames_once=true needs stacked image frames (env=atari), but "
                f"{spec.env_id} observations are {spec.obs_dtype} {spec.obs_shape}; set it to "
                "auto or false."
            )
        return stacked_frames and self.store_frames_once in (True, "auto")

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        assert self.buffer is not None
        state["buffer"] = self.buffer.state_dict() if self._buffer_in_checkpoint() else None
        return state

    def _load_storage(self, state_dict: dict[str, Any]) -> None:
        assert self.buffer is not None
        if state_dict.get("buffer") is not None:
            self.buffer.load_state_dict(state_dict["buffer"])
        else:
            log.warning(
                "the checkpoint holds no replay buffer (algo.data.checkpoint_buffer); the resumed "
                "run refills it, with %d random warm-up steps first.",
                self.warmup_env_steps,
            )
        if not self.resumed_exactly:
            self.buffer.mark_episode_ends()

    def _buffer_in_checkpoint(self) -> bool:
        if self.checkpoint_buffer == "auto":
            assert self.buffer is not None
            return self.buffer.nbytes <= AUTO_CHECKPOINT_BUFFER_BYTES
        return bool(self.checkpoint_buffer)

    def next_batch(self) -> ReplayBatch:
        """Collects one chunk with the actor, stores it, samples the chunk's minibatches."""
        assert self.collector is not None and self.buffer is not None, "call setup() first"
        if len(self.buffer) < self.warmup_env_steps:
            warmup_steps_per_env = math.ceil(self.warmup_env_steps / self.num_envs)
            self.buffer.extend(self.collector.collect(None, warmup_steps_per_env))
        chunk = self.collector.collect(self.actor, self.steps_per_env)
        started = time.perf_counter()
        self.buffer.extend(chunk)
        sample = self.buffer.sample(self.updates_per_collect, self.batch_size, self.n_step)
        self.clock.add("buffer", time.perf_counter() - started)
        episodes = self.collector.pop_finished_episodes()
        return ReplayBatch(
            sample=sample,
            env_steps=self.collector.env_steps,
            episode_returns=episodes.returns.tolist(),
            episode_lengths=episodes.lengths.tolist(),
        )


class OnPolicyDataModule(EnvRolloutDataModule):
    """Hands each training step the rollout the current parameters just collected.

    The envs are not reset between rollouts: an episode cut by the end of one rollout goes on
    in the next, where the steps of its rest are valid on-policy samples of the new parameters
    (their reward-to-go depends only on actions taken from there on). The actor's
    ``policy_version`` is stamped on every batch so the module can refuse a stale one.

    Args:
        env: makes the training and evaluation envs.
        num_envs: training envs stepped in lock-step.
        env_steps_per_collect: env steps (all envs together) per update.
        total_env_steps: the run's budget.
        eval_every_env_steps: env steps between greedy evaluations (see EnvRolloutDataModule).
        eval_episodes: greedy episodes per evaluation.
        eval_num_envs: envs the evaluation episodes are spread over.
        seed: seeds the envs.
        actor: acts in the envs; defaults to the trainer's LightningModule.
        should_stop: see EnvRolloutDataModule.
        eval_max_episode_steps: see EnvRolloutDataModule.
    """

    def __init__(
        self,
        env: EnvFactory,
        num_envs: int = 8,
        env_steps_per_collect: int = 1_024,
        total_env_steps: int = 100_000,
        eval_every_env_steps: int = 2_048,
        eval_episodes: int = 10,
        eval_num_envs: int = 10,
        seed: int = 0,
        actor: Actor | None = None,
        should_stop: Callable[[], bool] | None = None,
        eval_max_episode_steps: int | None = None,
    ) -> None:
        super().__init__(
            env, num_envs, env_steps_per_collect, total_env_steps, eval_every_env_steps,
            eval_episodes, eval_num_envs, seed, actor, should_stop, eval_max_episode_steps,
        )  # fmt: skip
        self._check_sizes()

    def _check_actor(self) -> None:
        if not isinstance(self.actor, OnPolicyActor):
            raise ConfigError(
                f"algo.data={type(self).__name__} feeds on-policy algorithms, but "
                f"{type(self.actor).__name__} has no policy_version to stamp rollouts with; use "
                "the DataModule of the algorithm's own config (conf/algo/<name>.yaml)."
            )

    def _setup_storage(self, device: torch.device) -> None:
        self._check_rollout_fits(device)

    def _check_rollout_fits(self, device: torch.device) -> None:
        """Before the first rollout is allocated: the collector's chunk on its device, and as
        much again on the training device for what the update builds from it (the batch moved
        there, log-probs, values, advantages, normalised observations, minibatch gathers)."""
        assert self.collector is not None, "call setup() first"
        chunk = self.collector.chunk_nbytes(self.steps_per_env)
        per_env_step = max(1, chunk // self.env_steps_per_collect)
        needs = {self.collector.chunk_device: chunk}
        needs[device] = needs.get(device, 0) + chunk
        for where, nbytes in needs.items():
            copies = nbytes // chunk

            def fix(available: int, copies: int = copies) -> str:
                fit = available // (copies * per_env_step)
                return f"lower algo.data.env_steps_per_collect (about {fit:,} env steps fit)"

            check_fits(
                f"a rollout of algo.data.env_steps_per_collect={self.env_steps_per_collect} env "
                f"steps (algo.data.num_envs={self.num_envs} x {self.steps_per_env} steps, "
                f"{per_env_step:,} bytes each, counted {copies}x on {where.type})",
                nbytes,
                where,
                fix,
            )

    def next_batch(self) -> RolloutBatch:
        """Collects one rollout with the actor's current parameters."""
        assert self.collector is not None, "call setup() first"
        actor = cast(OnPolicyActor, self.actor)
        policy_version = actor.policy_version
        rollout = self.collector.collect(actor, self.steps_per_env)
        episodes = self.collector.pop_finished_episodes()
        return RolloutBatch(
            rollout=rollout,
            fresh_start=torch.as_tensor(self.collector.fresh_starts()),
            policy_version=policy_version,
            env_steps=self.collector.env_steps,
            episode_returns=episodes.returns.tolist(),
            episode_lengths=episodes.lengths.tolist(),
        )

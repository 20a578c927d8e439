"""The batched tensor env: time limit, same-step autoreset, per-env seeding and exact resume.

Subclasses give the physics of one gymnasium id as pure functions of tensors: one transition and
the observation of a state (and, if gymnasium's is not uniform in a box, the start state). Spaces,
time limit and reward threshold are read from gymnasium's own registration, so they cannot drift.

The state is held as ``(state_dim, num_envs)``: one contiguous row per state variable, which keeps
the physics' elementwise ops on contiguous vectors (a quarter faster than strided columns on CPU).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, NamedTuple

import gymnasium as gym
import torch
from gymnasium.vector.utils import batch_space
from torch import Tensor

from litrl.envs.spec import EnvSpec
from litrl.envs.torch_backend.seeding import start_streams, uniform_bits

_STATE_KEYS = ("state", "elapsed_steps", "episode", "seeds")


class TorchStep(NamedTuple):
    """One vector step. ``obs`` is after autoreset; ``final_obs`` is the step's own observation.

    For an env that did not finish, ``final_obs`` equals ``obs``; for one that did, ``obs`` is the
    first observation of its next episode and ``final_obs`` the last of the one that ended
    (truncation still bootstraps from it).
    """

    obs: Tensor
    reward: Tensor
    terminated: Tensor
    truncated: Tensor
    final_obs: Tensor


class TorchVecEnv(ABC):
    """``num_envs`` copies of one gymnasium classic-control env, stepped as tensors on ``device``.

    Args:
        num_envs: envs in the batch.
        device: where the state lives and the physics runs.
        dtype: floating dtype of the state and the physics. Observations and rewards are float32
            either way. float64 follows gymnasium's own arithmetic (CartPole, Acrobot, both
            MountainCars and Pendulum compute in float64 in gymnasium), float32 is faster on GPUs.
        max_episode_steps: the time limit (truncation); None keeps the id's registered one.
    """

    env_id: ClassVar[str]
    backend: ClassVar[str] = "torch"  # the collector's checkpoint tag
    # Outputs are checked by the collector once per chunk (a per-step check would sync).
    checks_each_step: ClassVar[bool] = False
    steps_one_by_one: ClassVar[bool] = False  # the whole batch is one tensor step
    state_dim: ClassVar[int]
    start_low: ClassVar[tuple[float, ...]]
    start_high: ClassVar[tuple[float, ...]]

    def __init__(
        self,
        num_envs: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        max_episode_steps: int | None = None,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be at least 1, got {max_episode_steps}")
        reference = gym.make(self.env_id)
        assert reference.spec is not None and reference.spec.max_episode_steps is not None
        self.max_episode_steps: int = max_episode_steps or reference.spec.max_episode_steps
        self.reward_threshold: float | None = reference.spec.reward_threshold
        self.single_observation_space: gym.Space = reference.observation_space
        self.single_action_space: gym.Space = reference.action_space
        reference.close()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.num_envs, self.device, self.dtype = num_envs, torch.device(device), dtype
        self._action_generator = torch.Generator(self.device).manual_seed(0)  # seed_actions
        self._action_shape = (num_envs, *(self.single_action_space.shape or ()))
        self._start_low = torch.tensor(self.start_low, dtype=dtype, device=self.device)[:, None]
        high = torch.tensor(self.start_high, dtype=dtype, device=self.device)[:, None]
        self._start_step = (high - self._start_low) * 2.0**-24  # the width of one of 2**24 bins
        self.state = torch.zeros(self.state_dim, num_envs, dtype=dtype, device=self.device)
        # The state each env's last returned observation shows: ``state``, except for an env
        # whose episode just ended, where it is the state that episode ended in (for rendering).
        self.final_state = self.state
        self.elapsed_steps = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self.episode = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self.seeds = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self._streams = start_streams(self.seeds, self.state_dim)
        self._started = False
        self.build_constants()

    def build_constants(self) -> None:  # noqa: B027 (an optional hook, not abstract)
        """Makes the env's constant tensors on ``self.device`` in ``self.dtype`` (called at the
        end of ``__init__``); none by default."""

    @abstractmethod
    def transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(next_state, reward, terminated)`` of one step: a new ``(state_dim, num_envs)`` state,
        float32 ``(num_envs,)`` rewards and bool ``(num_envs,)`` terminations."""

    def observe(self, state: Tensor) -> Tensor:
        """The ``(num_envs, *obs_shape)`` float32 observations of ``state``, in a new tensor; by
        default the state itself (CartPole, both MountainCars)."""
        return state.T.to(torch.float32, memory_format=torch.contiguous_format, copy=True)

    def start_states(self) -> Tensor:
        """Each env's start state for its current ``episode``, uniform in the gymnasium bounds."""
        bits = uniform_bits(self._streams, self.episode).to(self.dtype)
        return self._start_low + self._start_step * bits

    def reset(self, seed: int | Sequence[int] | None = None) -> Tensor:
        """Starts every env anew and returns the ``(num_envs, *obs_shape)`` float32 observations.

        Args:
            seed: env ``i`` gets ``seed + i`` (as gymnasium's vector envs seed theirs), or a
                sequence of ``num_envs`` seeds, one per env; None draws a base seed from torch's
                global generator (so ``torch.manual_seed`` makes it reproducible).
        """
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 1, ()).item())
        if isinstance(seed, Sequence):
            seeds = torch.as_tensor(list(seed), dtype=torch.int64)
            if seeds.shape != (self.num_envs,):
                raise ValueError(
                    f"reset(seed=...) got {seeds.numel()} seeds for {self.num_envs} envs"
                )
        else:  # an int (numpy's integers too)
            seeds = int(seed) + torch.arange(self.num_envs, dtype=torch.int64)
        self.seeds = seeds.to(self.device)
        self._streams = start_streams(self.seeds, self.state_dim)
        self.episode.zero_()
        self.elapsed_steps.zero_()
        self.state = self.final_state = self.start_states()
        self._started = True
        return self.observe(self.state)

    def step(self, actions: Tensor) -> TorchStep:
        """Steps every env once; envs that terminate or hit the time limit restart in the same step.

        Args:
            actions: ``(num_envs,)`` integers for a Discrete action space (values in range; not
                checked, which would cost a device sync), ``(num_envs, *shape)`` floats for a Box.
        """
        if not self._started:
            raise RuntimeError(f"{self.env_id}: call reset() before step()")
        if tuple(actions.shape) != self._action_shape:
            raise ValueError(
                f"{self.env_id}: actions have shape {tuple(actions.shape)}, expected {self._action_shape}"
            )
        next_state, reward, terminated = self.transition(self.state, actions)
        self.elapsed_steps += 1
        truncated = self.elapsed_steps >= self.max_episode_steps
        done = terminated | truncated
        self.episode += done
        self.elapsed_steps.masked_fill_(done, 0)
        # Autoreset: finished envs take their next start state (a pure function of the env's
        # seed and episode count). Off the CPU it is branch-free: every env's start state is
        # drawn, so nothing reads a tensor's value on the host and a GPU batch never waits. On
        # the CPU that read is free, and skipping the start-state hash when no env finished (most
        # steps of a small batch, e.g. an evaluation's) saves about a third of the step.
        if self.device.type != "cpu" or bool(done.any()):
            self.state = torch.where(done, self.start_states(), next_state)
        else:
            self.state = next_state
        self.final_state = next_state
        obs, final_obs = self.observe(self.state), self.observe(next_state)
        return TorchStep(obs, reward, terminated, truncated, final_obs)

    def seed_actions(self, seed: int) -> None:
        """Seeds ``sample_actions``' generator, which lives on the batch's device."""
        self._action_generator = torch.Generator(self.device).manual_seed(seed)

    def sample_actions(self) -> Tensor:
        """Uniformly random actions for every env (the space's bounds for a Box), drawn on the
        device from the generator ``seed_actions`` seeded."""
        space, generator = self.single_action_space, self._action_generator
        shape = (self.num_envs, *(space.shape or ()))
        if isinstance(space, gym.spaces.Discrete):
            draw = torch.randint(int(space.n), shape, generator=generator, device=self.device)
            return draw + int(space.start)
        assert isinstance(space, gym.spaces.Box)
        low = torch.as_tensor(space.low, device=self.device)
        high = torch.as_tensor(space.high, device=self.device)
        return low + torch.rand(shape, generator=generator, device=self.device) * (high - low)

    def actions_state(self) -> Tensor:
        """The random-action generator's state (``load_actions_state`` restores it)."""
        return self._action_generator.get_state()

    def load_actions_state(self, state: Tensor) -> None:
        """Continues the random actions where ``actions_state`` left them.

        Raises:
            ValueError: the state is another kind of generator's (a CUDA one on a CPU batch).
        """
        try:
            self._action_generator.set_state(state.cpu())
        except RuntimeError as error:
            raise ValueError(
                f"a random-action generator state does not fit one on {self.device}: {error}"
            ) from error

    def state_dict(self) -> dict[str, Tensor]:
        """Copies of everything the future of this batch depends on (plain tensors)."""
        return {key: getattr(self, key).clone() for key in _STATE_KEYS}

    def load_state_dict(self, state_dict: dict[str, Tensor]) -> None:
        """Restores a :meth:`state_dict` so the batch continues exactly where it was saved."""
        if set(state_dict) != set(_STATE_KEYS):
            raise ValueError(
                f"{self.env_id}: a state dict needs exactly the keys {list(_STATE_KEYS)}, got {sorted(state_dict)}"
            )
        for key in _STATE_KEYS:
            current, saved = getattr(self, key), state_dict[key]
            if saved.shape != current.shape or saved.dtype != current.dtype:
                raise ValueError(
                    f"{self.env_id}: state_dict[{key!r}] is {saved.dtype} {tuple(saved.shape)}, this "
                    f"env needs {current.dtype} {tuple(current.shape)} (num_envs={self.num_envs}, "
                    f"dtype={self.dtype}): build the env as it was when saved"
                )
            setattr(self, key, saved.to(self.device, copy=True))
        self._streams = start_streams(self.seeds, self.state_dim)
        self.final_state = self.state
        self._started = True

    def close(self) -> None:
        """Ends the batch's episodes, as a gymnasium vector env's ``close``: ``step`` then needs
        a ``reset`` first. (Plain tensors: nothing else to release.)"""
        self._started = False

    def env_spec(self) -> EnvSpec:
        """litrl's description of this env, for building networks and buffers."""
        obs_space = self.single_observation_space
        assert obs_space.shape is not None
        return EnvSpec(
            self.env_id, tuple(obs_space.shape), self.single_action_space, self.reward_threshold
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id}, num_envs={self.num_envs}, device={self.device}, dtype={self.dtype})"

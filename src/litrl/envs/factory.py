"""Building environments from config: one ``EnvFactory`` per ``env`` node, one backend class per
source of envs.

``EnvFactory`` holds the config and the checks every backend shares; the backend it names
(``env.backend``) checks the rest and makes the envs: ``GymnasiumBackend`` (any id or user class,
``litrl.envs.gymnasium_backend``), ``TorchBackend`` (five classic-control ids as batched tensor
code, ``litrl.envs.torch_backend.backend``), ``EnvPoolBackend`` (EnvPool's C++ thread pool, the
optional extra, ``litrl.envs.envpool_backend``). A new backend is one class and one entry in
``BACKENDS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch
from gymnasium.vector import SyncVectorEnv

from litrl.envs.backend import EnvBackend
from litrl.envs.envpool_backend import EnvPoolBackend, EnvPoolVecEnv
from litrl.envs.gymnasium_backend import GymnasiumBackend
from litrl.envs.spec import EnvSpec
from litrl.envs.torch_backend import TorchVecEnv
from litrl.envs.torch_backend.backend import TorchBackend
from litrl.errors import ConfigError, check_choice

BACKENDS: dict[str, type[EnvBackend]] = {
    backend.name: backend for backend in (GymnasiumBackend, TorchBackend, EnvPoolBackend)
}
# The standard DQN preprocessing (Mnih et al. 2015; Machado et al. 2018 for the noop starts).
ATARI_DEFAULTS: dict[str, Any] = {
    "frame_skip": 4,
    "screen_size": 84,
    "noop_max": 30,
    "frame_stack": 4,
    "clip_rewards": True,
    "terminal_on_life_loss": False,
}


@dataclass
class EnvFactory:
    """Makes (vector) environments from a registered id or from a user's class; checks them when built.

    Exactly one of ``id`` and ``entry_point`` is set.

    Args:
        id: a registered Gymnasium id, e.g. ``CartPole-v1``.
        entry_point: a user env class as ``module.path:ClassName``, importable from the current
            directory or PYTHONPATH. Classic-Gym classes (``step`` returning 3 or 4 values,
            ``reset`` returning the state) are adapted; Gymnasium's ``check_env`` runs on it.
        package: a module imported first, for packages that register ids on import.
        kwargs: keyword arguments for ``gymnasium.make`` or the class.
        max_episode_steps: the time limit (truncation); for ids, overrides the id's own.
        reward_threshold: the return that counts as solved; defaults to the id's own.
        atari: Atari preprocessing options (keys of ``ATARI_DEFAULTS``); None for other envs.
            Training envs get reward clipping and, if asked, a life loss as termination;
            evaluation envs report the game's own score.
        backend: what steps the envs: ``gymnasium`` (``SyncVectorEnv``), ``torch`` (batched
            tensor dynamics on the training device, for the ids in ``TORCH_ENVS``; no ``kwargs``,
            ``entry_point`` or ``atari``), or ``envpool`` (EnvPool's Atari, classic-control, Box2D
            and MuJoCo ids; ``kwargs`` are EnvPool's options; ``package`` is not imported).
            Training and evaluation envs share it.
        num_threads: EnvPool's worker threads (``backend=envpool`` only); None: every core
            this process may use, at most one per env.
    """

    id: str | None = None
    entry_point: str | None = None
    package: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    reward_threshold: float | None = None
    atari: dict[str, Any] | None = None
    backend: str = "gymnasium"
    num_threads: int | None = None

    def __post_init__(self) -> None:
        self.kwargs = dict(self.kwargs or {})
        if self.atari is not None:
            unknown = set(self.atari) - set(ATARI_DEFAULTS)
            if unknown:
                raise ConfigError(
                    f"env.atari has unknown keys {sorted(unknown)}; choose from {sorted(ATARI_DEFAULTS)}."
                )
        if (self.id is None) == (self.entry_point is None):
            raise ConfigError(
                "set exactly one of env.id (a registered Gymnasium id) and env.entry_point "
                f"(module.path:ClassName); got env.id={self.id}, env.entry_point={self.entry_point}."
            )
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ConfigError(
                f"env.max_episode_steps={self.max_episode_steps} must be >= 1 or null."
            )
        check_choice("env.backend", self.backend, list(BACKENDS))
        backend = BACKENDS[self.backend]
        if self.num_threads is not None and "num_threads" not in backend.own_fields:
            takers = " or ".join(n for n, b in BACKENDS.items() if "num_threads" in b.own_fields)
            raise ConfigError(
                f"env.num_threads={self.num_threads} sets EnvPool's threads, but "
                f"env.backend={self.backend}: drop it, or set env.backend={takers}."
            )
        self.source: EnvBackend = backend(self)  # checks the rest; makes the envs

    @property
    def name(self) -> str:
        """How messages call this env: ``env.id=...`` or ``env.entry_point=...``."""
        return f"env.id={self.id}" if self.id is not None else f"env.entry_point={self.entry_point}"

    def atari_options(self) -> dict[str, Any]:
        """``env.atari`` with every option filled in from ``ATARI_DEFAULTS``."""
        return {**ATARI_DEFAULTS, **(self.atari or {})}

    def has_time_limit(self) -> bool:
        """Whether every episode ends by a time limit: ``env.max_episode_steps``, the id's own
        (an ALE game's frame cap included), or the torch and EnvPool backends' (each id they
        serve has one). A user class without ``env.max_episode_steps`` has none."""
        return self.source.has_time_limit()

    def make(
        self,
        render_mode: str | None = None,
        training: bool = False,
        max_episode_steps: int | None = None,
    ) -> gym.Env:
        """One environment, with the time limit applied and its outputs checked on every step.

        Args:
            render_mode: e.g. ``rgb_array`` for videos; None renders nothing.
            training: an env the agent learns from (Atari: clipped rewards), not one it is
                evaluated on.
            max_episode_steps: a cap on top of the env's own time limit (evaluation's
                ``eval.max_episode_steps``): a longer episode ends as truncated.
        """
        return self.source.make(render_mode, training, max_episode_steps)

    def make_vector(
        self,
        num_envs: int,
        training: bool = False,
        device: torch.device | str = "cpu",
        max_episode_steps: int | None = None,
    ) -> SyncVectorEnv | TorchVecEnv | EnvPoolVecEnv:
        """``num_envs`` copies stepped in lock-step.

        The autoreset mode is SAME_STEP: the observation returned at an episode end is already
        the next episode's first one, and the true final observation sits in
        ``info["final_obs"]`` (``final_obs`` of a ``TorchVecEnv`` step), so the transition
        stored for that step bootstraps from the right state. (EnvPool's own mode is NEXT_STEP;
        ``EnvPoolVecEnv`` maps it, see ``litrl.envs.envpool_backend``.)

        Args:
            num_envs: envs in the batch.
            training: envs the agent learns from (Atari: clipped rewards).
            device: where a torch-backend batch lives (the training device); gymnasium envs
                live on the host.
            max_episode_steps: a cap on top of the envs' own time limit (see ``make``); an
                EnvPool batch keeps the limit EnvPool gives every task.
        """
        if num_envs < 1:
            raise ConfigError(f"num_envs={num_envs} must be >= 1.")
        return self.source.make_vector(num_envs, training, device, max_episode_steps)

    def spec(self) -> EnvSpec:
        """Reads the spaces of one throwaway instance, after a reset and a random step.

        That first step is a preflight: an env that raises, or returns a NaN or misshapen
        observation straight away, fails here, before any compute is spent (for the torch and
        envpool backends: a batch of two, ``check_batch`` / ``check_host_batch``).
        """
        return self.source.spec()

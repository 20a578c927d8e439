"""Building environments from config: ids, user classes, checks, vector envs, specs.

Three backends serve them (``env.backend``): gymnasium (any id or user class, stepped by
``SyncVectorEnv``), torch (five classic-control ids as batched tensor code on the training
device, ``litrl.envs.torch_backend``) and envpool (EnvPool's C++ thread pool, the optional extra,
``litrl.envs.envpool_backend``). (About 510 lines: every source of envs, ids, user classes and
the two other backends, is checked and built by the one ``EnvFactory`` a config names, and its
checks read best side by side.)
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import inspect
import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import AtariPreprocessing, ClipReward, FrameStackObservation, TimeLimit

from litrl.envs.envpool_backend import EnvPoolAsGym, EnvPoolTask, EnvPoolVecEnv, envpool_task
from litrl.envs.guard import GuardedEnv, check_batch, check_host_batch
from litrl.envs.legacy import LegacyEnvAdapter, api_of
from litrl.envs.mujoco_support import (
    MujocoRendering,
    choose_headless_backend,
    import_error,
    is_mujoco_id,
    log_mujoco_warnings,
    missing_dependency,
    uses_mujoco,
)
from litrl.envs.spec import EnvSpec
from litrl.envs.torch_backend import TORCH_ENVS, TorchVecEnv, make_torch_env
from litrl.envs.torch_backend.gym_env import TorchEnvAsGym
from litrl.errors import ConfigError, check_choice, unknown_key

log = logging.getLogger(__name__)

# The standard DQN preprocessing (Mnih et al. 2015; Machado et al. 2018 for the noop starts).
BACKENDS = ("gymnasium", "torch", "envpool")
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
        self._check_num_threads()
        if self.backend == "torch":
            self._check_torch_backend()
        self._env_class: Callable[..., Any] | None = None
        self._legacy_api: str | None = None
        if self.backend == "envpool":  # EnvPool's own ids: no gymnasium registry, no package
            self._check_envpool_backend()
            return
        if self.package:
            _import(self.package, "env.package")
        if self.id is not None:
            _check_registered(self.id)
            try:  # loads the id's env module: MuJoCo's fails without the mujoco extra
                _check_id_kwargs(self.id, self.kwargs)
            except gym.error.DependencyNotInstalled as error:
                raise missing_dependency(self.id, error) from error
            except Exception as error:  # e.g. a MUJOCO_GL backend whose library is missing
                if not is_mujoco_id(self.id):
                    raise
                raise import_error(self.id, error) from error
            if is_mujoco_id(self.id):
                log_mujoco_warnings()
            if self.reward_threshold is None:
                self.reward_threshold = gym.spec(self.id).reward_threshold
        else:
            self._load_user_class()

    @property
    def name(self) -> str:
        """How messages call this env: ``env.id=...`` or ``env.entry_point=...``."""
        return f"env.id={self.id}" if self.id is not None else f"env.entry_point={self.entry_point}"

    def has_time_limit(self) -> bool:
        """Whether every episode ends by a time limit: ``env.max_episode_steps``, the id's own
        (an ALE game's frame cap included), or the torch and EnvPool backends' (each id they
        serve has one). A user class without ``env.max_episode_steps`` has none."""
        if self.max_episode_steps is not None or self.backend != "gymnasium":
            return True
        if self.id is None:
            return False
        spec = gym.spec(self.id)
        return spec.max_episode_steps is not None or "max_num_frames_per_episode" in spec.kwargs

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
        if self.backend == "torch":  # one env of the batch, drawn by gymnasium's own
            batch = self._torch_batch(1, cap=max_episode_steps)
            return GuardedEnv(TorchEnvAsGym(batch, render_mode), self.name)
        if self.backend == "envpool":
            return GuardedEnv(EnvPoolAsGym(self._envpool_task(training), render_mode), self.name)
        extra: dict[str, Any] = {"render_mode": render_mode} if render_mode else {}
        if self._env_class is None:
            assert self.id is not None
            env = gym.make(
                self.id, max_episode_steps=self.max_episode_steps, **self.kwargs, **extra
            )
        else:
            env = self._make_user_env(render_mode)
        if render_mode and uses_mujoco(env):
            choose_headless_backend()  # before the first render, which fixes the GL backend
            env = MujocoRendering(env)
        if self.atari is not None:
            env = _atari_preprocessing(env, {**ATARI_DEFAULTS, **self.atari}, training)
        if max_episode_steps is not None:
            env = TimeLimit(env, max_episode_steps)  # the env's own limit, if shorter, ends first
        return GuardedEnv(env, self.name)

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
        if self.backend == "torch":
            return self._torch_batch(num_envs, device, cap=max_episode_steps)
        if self.backend == "envpool":
            return EnvPoolVecEnv(self._envpool_task(training), num_envs, self.num_threads)
        makers: list[Callable[[], gym.Env]] = [
            functools.partial(self.make, training=training, max_episode_steps=max_episode_steps)
        ] * num_envs
        return SyncVectorEnv(makers, autoreset_mode=AutoresetMode.SAME_STEP)

    def spec(self) -> EnvSpec:
        """Reads the spaces of one throwaway instance, after a reset and a random step.

        That first step is a preflight: an env that raises, or returns a NaN or misshapen
        observation straight away, fails here, before any compute is spent (for the torch and
        envpool backends: a batch of two, ``check_batch`` / ``check_host_batch``).
        """
        if self.backend == "torch":
            batch = self._torch_batch(2)
            check_batch(batch, self.name)
            return dataclasses.replace(batch.env_spec(), reward_threshold=self.reward_threshold)
        if self.backend == "envpool":
            envs = self.make_vector(2)
            try:
                self._check_obs_space(envs.single_observation_space)
                check_host_batch(envs, self.name)
            finally:
                envs.close()
            return self._spec_of(envs.single_observation_space, envs.single_action_space)
        env = self.make()
        try:
            obs_space, action_space = env.observation_space, env.action_space
            self._check_obs_space(obs_space)
            env.reset(seed=0)
            action_space.seed(0)
            env.step(action_space.sample())
        finally:
            env.close()
        return self._spec_of(obs_space, action_space)

    def _check_obs_space(self, obs_space: gym.Space) -> None:
        if not isinstance(obs_space, (gym.spaces.Box, gym.spaces.Discrete)):
            raise ConfigError(
                f"{self.name} has observation space {obs_space}; litrl supports Box and "
                "Discrete observations, not this one yet. Flatten it with a wrapper (e.g. "
                "gymnasium.wrappers.FlattenObservation) in your env class."
            )

    def _spec_of(self, obs_space: gym.Space, action_space: gym.Space) -> EnvSpec:
        name = self.id or str(self.entry_point)
        if isinstance(obs_space, gym.spaces.Discrete):
            return EnvSpec(name, (), action_space, self.reward_threshold, int(obs_space.n))
        dtype = "uint8" if obs_space.dtype == np.uint8 else "float32"
        frame_stack = 1 if self.atari is None else {**ATARI_DEFAULTS, **self.atari}["frame_stack"]
        return EnvSpec(
            name,
            tuple(obs_space.shape or ()),
            action_space,
            self.reward_threshold,
            0,
            dtype,
            frame_stack,
        )

    # ---- the torch backend --------------------------------------------------------------

    def _check_torch_backend(self) -> None:
        served = ", ".join(TORCH_ENVS)
        if self.entry_point is not None:
            raise ConfigError(
                f"env.backend=torch serves registered ids ({served}), not your own class "
                f"env.entry_point={self.entry_point}; use env.backend=gymnasium for it."
            )
        if self.id not in TORCH_ENVS:
            raise ConfigError(
                f"env.backend=torch cannot serve env.id={self.id}; it serves {served}. Use "
                "env.backend=gymnasium for other ids."
            )
        for name, value in (("kwargs", self.kwargs), ("atari", self.atari)):
            if value:
                raise ConfigError(
                    f"env.backend=torch has no env.{name} (got {value}): its envs are the ids "
                    f"as registered. Drop env.{name}, or use env.backend=gymnasium."
                )

    def _torch_batch(
        self, num_envs: int, device: torch.device | str = "cpu", cap: int | None = None
    ) -> TorchVecEnv:
        assert self.id is not None
        limit = self.max_episode_steps
        if cap is not None:  # every torch-backend id has a limit of its own
            limit = min(cap, limit or gym.spec(self.id).max_episode_steps or cap)
        return make_torch_env(self.id, num_envs, device, max_episode_steps=limit)

    # ---- the envpool backend ------------------------------------------------------------

    def _check_num_threads(self) -> None:
        if self.num_threads is None:
            return
        if self.backend != "envpool":
            raise ConfigError(
                f"env.num_threads={self.num_threads} sets EnvPool's threads, but "
                f"env.backend={self.backend}: drop it, or set env.backend=envpool."
            )
        if self.num_threads < 1:
            raise ConfigError(
                f"env.num_threads={self.num_threads} must be >= 1, or null for every core."
            )

    def _check_envpool_backend(self) -> None:
        if self.entry_point is not None:
            raise ConfigError(
                "env.backend=envpool serves EnvPool's ids, not your own class "
                f"env.entry_point={self.entry_point}; use env.backend=gymnasium for it."
            )
        task = self._envpool_task(training=True)  # checks the id and the options
        self._envpool_task(training=False)
        if self.reward_threshold is None:
            self.reward_threshold = _envpool_reward_threshold(task)

    def _envpool_task(self, training: bool) -> EnvPoolTask:
        assert self.id is not None
        atari = None if self.atari is None else {**ATARI_DEFAULTS, **self.atari}
        return envpool_task(self.id, self.kwargs, atari, self.max_episode_steps, training)

    # ---- user classes -------------------------------------------------------------------

    def _load_user_class(self) -> None:
        module_name, _, class_name = str(self.entry_point).partition(":")
        if not module_name or not class_name:
            raise ConfigError(
                f"env.entry_point={self.entry_point} must look like module.path:ClassName, "
                "e.g. env.entry_point=my_envs.grid:GridWorld."
            )
        module = _import(module_name, "env.entry_point")
        env_class = getattr(module, class_name, None)
        if env_class is None:
            classes = [name for name in vars(module) if isinstance(getattr(module, name), type)]
            close = difflib.get_close_matches(class_name, classes, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"env.entry_point={self.entry_point}: {module_name} has no {class_name}.{hint}"
            )
        self._env_class = env_class
        probe = self._instantiate()
        try:
            self._legacy_api = api_of(probe)
        except Exception as error:
            raise ConfigError(f"{self.name} fails its first reset()/step(): {error!r}") from error
        finally:
            _close(probe)
        if self._legacy_api:
            log.warning(
                "%s uses the classic Gym API (%s); litrl adapts it: done -> terminated, and "
                "time limits come from env.max_episode_steps.",
                self.name,
                self._legacy_api,
            )
        self._check_user_env()

    def _instantiate(self, render_mode: str | None = None) -> Any:
        assert self._env_class is not None
        kwargs = dict(self.kwargs)
        if render_mode and _accepts(self._env_class, "render_mode"):
            kwargs["render_mode"] = render_mode
        try:
            inspect.signature(self._env_class).bind(**kwargs)
        except TypeError as error:
            raise ConfigError(
                f"{self.name} cannot be built with env.kwargs={self.kwargs}: {error}"
            ) from error
        except ValueError:  # no signature to check (a C extension): let the call decide
            pass
        try:
            env = self._env_class(**kwargs)
        except Exception as error:
            raise ConfigError(f"{self.name}: its __init__ raised {error!r}") from error
        if render_mode and getattr(env, "render_mode", None) is None:
            env.render_mode = render_mode  # classic classes render without being told to
        for space in ("observation_space", "action_space"):
            if not isinstance(getattr(env, space, None), gym.spaces.Space):
                raise ConfigError(
                    f"{self.name} defines no {space}; set self.{space} to a gymnasium.spaces "
                    "object (e.g. Box or Discrete) in its __init__."
                )
        return env

    def _make_user_env(self, render_mode: str | None = None) -> gym.Env:
        env = self._instantiate(render_mode)
        if self._legacy_api:
            env = LegacyEnvAdapter(env)
        if self.max_episode_steps is not None:
            env = TimeLimit(env, self.max_episode_steps)
        return env

    def _check_user_env(self) -> None:
        """Gymnasium's ``check_env`` on a fresh instance; a failed check is a ConfigError.

        Seeding-determinism findings stay warnings: course envs often draw from the global
        numpy RNG, which ``seed`` seeds, so their runs still repeat.
        """
        env = self._make_user_env()
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*render.*")
                check_env(env.unwrapped, skip_render_check=True)
        except AssertionError as error:
            if "determinis" in str(error).lower() or "super().reset(seed=seed)" in str(error):
                log.warning(
                    "%s: %s. It does not seed itself from reset(seed=...); runs repeat only if it "
                    "draws from numpy's global RNG, which litrl seeds.",
                    self.name,
                    error,
                )
            else:
                raise ConfigError(f"{self.name} fails gymnasium's check_env: {error}") from error
        except Exception as error:
            raise ConfigError(f"{self.name} fails gymnasium's check_env: {error!r}") from error
        finally:
            _close(env)


def _atari_preprocessing(env: gym.Env, options: dict[str, Any], training: bool) -> gym.Env:
    """Frame skip with max-pooling, noop starts, 84x84 grayscale uint8 frames, a stack of 4."""
    if env.unwrapped.spec is not None and env.unwrapped.spec.kwargs.get("frameskip", 1) != 1:
        raise ConfigError(
            "env.atari skips frames itself: set env.kwargs.frameskip=1 (ALE v5 ids default to 4)."
        )
    env = AtariPreprocessing(
        env,
        frame_skip=options["frame_skip"],
        screen_size=options["screen_size"],
        noop_max=options["noop_max"],
        terminal_on_life_loss=options["terminal_on_life_loss"] and training,
        grayscale_obs=True,
        scale_obs=False,  # uint8 in the buffer: 4x smaller than floats; the CNN scales
    )
    if options["clip_rewards"] and training:
        env = ClipReward(env, -1.0, 1.0)
    return FrameStackObservation(env, options["frame_stack"])


def _envpool_reward_threshold(task: EnvPoolTask) -> float | None:
    """The id's solved return: Gymnasium's where it registers the id, else EnvPool's."""
    if task.env_id in gym.registry:
        return gym.spec(task.env_id).reward_threshold
    threshold = getattr(task.config(), "reward_threshold", None)
    return None if threshold is None else float(threshold)


def final_observations(next_obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """The observation each sub-env actually reached this step.

    Under SAME_STEP autoreset, ``next_obs`` of a finished sub-env is the reset observation of
    its new episode; the state the finished episode ended in is ``info["final_obs"]``.
    """
    ended = info.get("_final_obs")
    if ended is None or not ended.any():
        return next_obs
    reached = next_obs.copy()
    for i in np.flatnonzero(ended):
        reached[i] = info["final_obs"][i]
    return reached


def _import(module_name: str, field_name: str) -> Any:
    # Users run from their project directory, which is not on sys.path when train.py lives elsewhere.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise ConfigError(
            f"{field_name}: cannot import module {error.name!r} (needed for {module_name}). Run from "
            "the directory that holds it, add that directory to PYTHONPATH, or pip install it."
        ) from error


def _accepts(cls: Any, parameter: str) -> bool:
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return parameter in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _close(env: Any) -> None:
    if callable(getattr(env, "close", None)):
        env.close()


def _check_registered(env_id: str) -> None:
    if env_id in gym.registry:
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ConfigError(
        f"env.id={env_id} is not a registered Gymnasium id.{hint} "
        "List them with `python -c 'import gymnasium; gymnasium.pprint_registry()'`; "
        "for a package that registers ids on import, set env.package=<module>."
    )


def _check_id_kwargs(env_id: str, kwargs: dict[str, Any]) -> None:
    """A ConfigError for an ``env.kwargs`` key the id's env class does not take, as for user
    classes: gymnasium would raise a TypeError from deep inside ``make``."""
    creator: Any = gym.spec(env_id).entry_point
    if isinstance(creator, str):
        creator = gym.envs.registration.load_env_creator(creator)
    try:
        parameters = inspect.signature(creator).parameters
    except (TypeError, ValueError):  # no signature to check (a C extension): let make decide
        return
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [name for name in parameters if name != "self"]
    for key in kwargs:
        if key not in parameters:
            raise unknown_key("env.kwargs", key, accepted, env_id)

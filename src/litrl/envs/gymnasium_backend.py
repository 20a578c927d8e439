"""``env.backend=gymnasium``: any registered id or a user's own class, stepped by ``SyncVectorEnv``.

Ids are made with ``gymnasium.make`` (after ``env.package`` registers its own), user classes are
imported from ``env.entry_point`` and checked with gymnasium's ``check_env``; classic-Gym classes
(``step`` returning 3 or 4 values) are adapted (``litrl.envs.legacy``). Atari ids get the standard
DQN preprocessing, MuJoCo ids a headless renderer. Every env is wrapped in ``GuardedEnv``.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import torch
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import AtariPreprocessing, ClipReward, FrameStackObservation, TimeLimit

from litrl.envs.backend import EnvBackend, check_obs_space, spec_of
from litrl.envs.guard import GuardedEnv
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
from litrl.errors import ConfigError, unknown_key

log = logging.getLogger(__name__)


class GymnasiumBackend(EnvBackend):
    """Serves registered ids and user classes as gymnasium envs on the host."""

    name = "gymnasium"

    def check(self) -> None:
        env = self.env
        self._env_class: Callable[..., Any] | None = None
        self._legacy_api: str | None = None
        if env.package:
            import_module(env.package, "env.package")
        if env.id is None:
            self._load_user_class()
            return
        _check_registered(env.id)
        try:  # loads the id's env module: MuJoCo's fails without the mujoco extra
            _check_id_kwargs(env.id, env.kwargs)
        except gym.error.DependencyNotInstalled as error:
            raise missing_dependency(env.id, error) from error
        except Exception as error:  # e.g. a MUJOCO_GL backend whose library is missing
            if not is_mujoco_id(env.id):
                raise
            raise import_error(env.id, error) from error
        if is_mujoco_id(env.id):
            log_mujoco_warnings()
        if env.reward_threshold is None:
            env.reward_threshold = gym.spec(env.id).reward_threshold

    def make(
        self, render_mode: str | None, training: bool, max_episode_steps: int | None
    ) -> gym.Env:
        env = self.env
        extra: dict[str, Any] = {"render_mode": render_mode} if render_mode else {}
        if self._env_class is None:
            assert env.id is not None
            made = gym.make(env.id, max_episode_steps=env.max_episode_steps, **env.kwargs, **extra)
        else:
            made = self._make_user_env(render_mode)
        if render_mode and uses_mujoco(made):
            choose_headless_backend()  # before the first render, which fixes the GL backend
            made = MujocoRendering(made)
        if env.atari is not None:
            made = _atari_preprocessing(made, env.atari_options(), training)
        if max_episode_steps is not None:
            made = TimeLimit(made, max_episode_steps)  # the env's own limit, if shorter, ends first
        return GuardedEnv(made, env.name)

    def make_vector(
        self,
        num_envs: int,
        training: bool,
        device: torch.device | str,
        max_episode_steps: int | None,
    ) -> SyncVectorEnv:
        makers: list[Callable[[], gym.Env]] = [
            functools.partial(self.make, None, training, max_episode_steps)
        ] * num_envs
        return SyncVectorEnv(makers, autoreset_mode=AutoresetMode.SAME_STEP)

    def spec(self) -> EnvSpec:
        env = self.make(None, training=False, max_episode_steps=None)
        try:
            obs_space, action_space = env.observation_space, env.action_space
            check_obs_space(self.env, obs_space)
            env.reset(seed=0)
            action_space.seed(0)
            env.step(action_space.sample())
        finally:
            env.close()
        frame_stack = 1 if self.env.atari is None else self.env.atari_options()["frame_stack"]
        return spec_of(self.env, obs_space, action_space, frame_stack)

    def has_time_limit(self) -> bool:
        env = self.env
        if env.max_episode_steps is not None:
            return True
        if env.id is None:
            return False
        spec = gym.spec(env.id)
        return spec.max_episode_steps is not None or "max_num_frames_per_episode" in spec.kwargs

    # ---- user classes -------------------------------------------------------------------

    def _load_user_class(self) -> None:
        entry_point = str(self.env.entry_point)
        module_name, _, class_name = entry_point.partition(":")
        if not module_name or not class_name:
            raise ConfigError(
                f"env.entry_point={entry_point} must look like module.path:ClassName, "
                "e.g. env.entry_point=my_envs.grid:GridWorld."
            )
        module = import_module(module_name, "env.entry_point")
        env_class = getattr(module, class_name, None)
        if env_class is None:
            classes = [name for name in vars(module) if isinstance(getattr(module, name), type)]
            close = difflib.get_close_matches(class_name, classes, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"env.entry_point={entry_point}: {module_name} has no {class_name}.{hint}"
            )
        self._env_class = env_class
        probe = self._instantiate()
        try:
            self._legacy_api = api_of(probe)
        except Exception as error:
            raise ConfigError(
                f"{self.env.name} fails its first reset()/step(): {error!r}"
            ) from error
        finally:
            _close(probe)
        if self._legacy_api:
            log.warning(
                "%s uses the classic Gym API (%s); litrl adapts it: done -> terminated, and "
                "time limits come from env.max_episode_steps.",
                self.env.name,
                self._legacy_api,
            )
        self._check_user_env()

    def _instantiate(self, render_mode: str | None = None) -> Any:
        assert self._env_class is not None
        name, kwargs = self.env.name, dict(self.env.kwargs)
        if render_mode and _accepts(self._env_class, "render_mode"):
            kwargs["render_mode"] = render_mode
        try:
            inspect.signature(self._env_class).bind(**kwargs)
        except TypeError as error:
            raise ConfigError(
                f"{name} cannot be built with env.kwargs={self.env.kwargs}: {error}"
            ) from error
        except ValueError:  # no signature to check (a C extension): let the call decide
            pass
        try:
            env = self._env_class(**kwargs)
        except Exception as error:
            raise ConfigError(f"{name}: its __init__ raised {error!r}") from error
        if render_mode and getattr(env, "render_mode", None) is None:
            env.render_mode = render_mode  # classic classes render without being told to
        for space in ("observation_space", "action_space"):
            if not isinstance(getattr(env, space, None), gym.spaces.Space):
                raise ConfigError(
                    f"{name} defines no {space}; set self.{space} to a gymnasium.spaces "
                    "object (e.g. Box or Discrete) in its __init__."
                )
        return env

    def _make_user_env(self, render_mode: str | None = None) -> gym.Env:
        env = self._instantiate(render_mode)
        if self._legacy_api:
            env = LegacyEnvAdapter(env)
        if self.env.max_episode_steps is not None:
            env = TimeLimit(env, self.env.max_episode_steps)
        return env

    def _check_user_env(self) -> None:
        """Gymnasium's ``check_env`` on a fresh instance; a failed check is a ConfigError.

        Seeding-determinism findings stay warnings: course envs often draw from the global
        numpy RNG, which ``seed`` seeds, so their runs still repeat.
        """
        name = self.env.name
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
                    name,
                    error,
                )
            else:
                raise ConfigError(f"{name} fails gymnasium's check_env: {error}") from error
        except Exception as error:
            raise ConfigError(f"{name} fails gymnasium's check_env: {error!r}") from error
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


def import_module(module_name: str, field_name: str) -> Any:
    """``module_name`` imported, or a ConfigError naming ``field_name`` and where to run from."""
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

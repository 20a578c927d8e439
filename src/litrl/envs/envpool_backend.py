"""EnvPool (``env.backend=envpool``, the optional ``envpool`` extra): batches of envs stepped by
EnvPool's C++ thread pool, for its Atari, classic-control, Box2D and Gymnasium-MuJoCo ids.

EnvPool hands back numpy batches, so its envs take the host path (``Collector``) behind
``EnvPoolVecEnv``, a gymnasium ``VectorEnv`` that keeps litrl's conventions:

- Autoreset, mapped. EnvPool resets an env on the step *after* its episode ended (NEXT_STEP: the
  action sent then is ignored and the step returns the reset observation, reward 0, no flags).
  litrl's collectors want SAME_STEP, so ``step`` resets the envs that just ended at once, through
  EnvPool's partial reset (``reset(env_id)``): ``obs`` holds their next episode's first
  observation, ``info["final_obs"]`` (mask ``info["_final_obs"]``) the observation the ended
  episode reached, which a truncated episode bootstraps from. EnvPool then never has a reset
  pending, so no step is spent on one and no reset step is ever stored as a transition. The
  explicit reset draws the start state EnvPool's own autoreset would have drawn (tested).
- Flags: EnvPool's ``terminated`` and ``truncated`` (its time limit) as they are.
- Seeding: EnvPool seeds env ``i`` with ``seed + i`` when a pool is built and cannot be reseeded,
  so ``reset(seed=s)`` builds a fresh pool seeded ``s`` (``SyncVectorEnv`` too seeds env ``i`` with
  ``s + i``); ``reset()`` resets the envs of the pool in place. A build costs ~0.1-0.2 s per Atari env.
- Atari: EnvPool's own preprocessing, set to ``env=atari``'s (``atari_options``). A life loss as
  termination (``terminal_on_life_loss``, training envs) is read from ``info["lives"]`` and starts
  a new game, as Gymnasium's ``AtariPreprocessing`` does; EnvPool's ``episodic_life`` would play
  on with the lost life's frames still in the stack, which the frame-stack buffer cannot rebuild.
- State lives in C++ and cannot be snapshotted: a resumed run restarts the envs (as for gymnasium
  envs that hold an emulator or a physics world).

(About 490 lines: the checks of ids and options, the backend class, the batch and the single env
all read one ``EnvPoolTask``, and the mapping's reasons read best beside its code.)
"""

from __future__ import annotations

import difflib
import importlib
import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from litrl.envs.backend import EnvBackend, check_obs_space, spec_of
from litrl.envs.guard import EnvError, GuardedEnv, check_host_batch
from litrl.envs.spec import EnvSpec
from litrl.errors import ConfigError, unknown_key

INSTALL = 'pip install -e ".[envpool]" (litrl\'s envpool extra) or pip install envpool'
# EnvPool's families litrl serves (their ids are Gymnasium's, Atari's without the ALE/ prefix).
FAMILIES = {
    "envpool.atari": "Atari",
    "envpool.classic_control": "classic control",
    "envpool.box2d": "Box2D",
    "envpool.mujoco.gym": "MuJoCo",
}
ALE_PREFIX = "ALE/"
ALE_MAX_FRAMES = 108_000  # ALE v5's episode limit in frames (30 minutes of play)
ALE_STICKY_ACTIONS = 0.25  # ALE v5's repeat_action_probability (Machado et al. 2018)
# envpool.make options litrl sets itself, and where the config sets them.
_BATCH_OPTIONS = {
    "num_envs": "algo.data.num_envs / eval.num_envs",
    "batch_size": "algo.data.num_envs (EnvPool runs synchronously)",
    "num_threads": "env.num_threads",
    "seed": "seed",
    "env_seed": "seed",
    "max_episode_steps": "env.max_episode_steps",
    "reward_threshold": "env.reward_threshold",
    "gym_reset_return_info": "nothing (litrl needs reset infos)",
    "max_num_players": "nothing (single-agent envs only)",
    "base_path": "nothing (EnvPool's assets)",
}
_ATARI_OPTIONS = {
    "frame_skip": "env.atari.frame_skip",
    "img_height": "env.atari.screen_size",
    "img_width": "env.atari.screen_size",
    "noop_max": "env.atari.noop_max",
    "stack_num": "env.atari.frame_stack",
    "reward_clip": "env.atari.clip_rewards",
    "episodic_life": "env.atari.terminal_on_life_loss",
    "gray_scale": "nothing (frames are grayscale, as env=atari's)",
}


def import_envpool() -> ModuleType:
    """``envpool``, or a ConfigError with the install command."""
    try:
        return importlib.import_module("envpool")
    except ImportError as error:
        raise ConfigError(
            f"env.backend=envpool needs EnvPool, which is not installed ({error}). "
            f"Install it with {INSTALL}, or use env.backend=gymnasium."
        ) from error


class EnvPoolBackend(EnvBackend):
    """Serves EnvPool's Atari, classic-control, Box2D and MuJoCo ids: ``EnvPoolVecEnv`` batches,
    and one env as ``EnvPoolAsGym``. Every task has a time limit of EnvPool's, which an
    evaluation's cap leaves as it is."""

    name = "envpool"
    own_fields = frozenset({"num_threads"})

    def check(self) -> None:
        env = self.env
        if env.num_threads is not None and env.num_threads < 1:
            raise ConfigError(
                f"env.num_threads={env.num_threads} must be >= 1, or null for every core."
            )
        if env.entry_point is not None:
            raise ConfigError(
                "env.backend=envpool serves EnvPool's ids, not your own class "
                f"env.entry_point={env.entry_point}; use env.backend=gymnasium for it."
            )
        task = self.task(training=True)  # checks the id and the options
        self.task(training=False)
        if env.reward_threshold is None:
            env.reward_threshold = _reward_threshold(task)

    def make(
        self, render_mode: str | None, training: bool, max_episode_steps: int | None
    ) -> gym.Env:
        return GuardedEnv(EnvPoolAsGym(self.task(training), render_mode), self.env.name)

    def make_vector(
        self,
        num_envs: int,
        training: bool,
        device: torch.device | str,
        max_episode_steps: int | None,
    ) -> EnvPoolVecEnv:
        return EnvPoolVecEnv(self.task(training), num_envs, self.env.num_threads)

    def spec(self) -> EnvSpec:
        envs = self.make_vector(2, training=False, device="cpu", max_episode_steps=None)
        try:
            check_obs_space(self.env, envs.single_observation_space)
            check_host_batch(envs, self.env.name)
        finally:
            envs.close()
        frame_stack = 1 if self.env.atari is None else self.env.atari_options()["frame_stack"]
        return spec_of(
            self.env, envs.single_observation_space, envs.single_action_space, frame_stack
        )

    def task(self, training: bool) -> EnvPoolTask:
        """The EnvPool env for the factory's config (``training``: reward clipping, life loss)."""
        env = self.env
        assert env.id is not None
        atari = None if env.atari is None else env.atari_options()
        return envpool_task(env.id, env.kwargs, atari, env.max_episode_steps, training)


def _reward_threshold(task: EnvPoolTask) -> float | None:
    """The id's solved return: Gymnasium's where it registers the id, else EnvPool's."""
    if task.env_id in gym.registry:
        return gym.spec(task.env_id).reward_threshold
    threshold = getattr(task.config(), "reward_threshold", None)
    return None if threshold is None else float(threshold)


@dataclass(frozen=True)
class EnvPoolTask:
    """One EnvPool env kind: what ``envpool.make`` builds, less the batch's own options.

    Args:
        env_id: the id as the config names it (``ALE/Pong-v5``).
        task_id: EnvPool's id (``Pong-v5``).
        family: EnvPool's module of the id, a key of ``FAMILIES``.
        options: ``envpool.make`` keyword arguments (Atari preprocessing, time limit, ...).
        life_loss_ends_episode: a lost life terminates the episode (Atari training envs).
    """

    env_id: str
    task_id: str
    family: str
    options: dict[str, Any] = field(default_factory=dict)
    life_loss_ends_episode: bool = False

    @property
    def name(self) -> str:
        return f"env.id={self.env_id} (env.backend=envpool)"

    def render_fps(self) -> int:
        """Gymnasium's frame rate for the id's videos (30 where Gymnasium does not know it)."""
        if self.env_id in gym.registry:
            entry_point = gym.spec(self.env_id).entry_point
            try:
                creator: Any = (
                    gym.envs.registration.load_env_creator(entry_point)
                    if isinstance(entry_point, str)
                    else entry_point
                )
                return int(creator.metadata.get("render_fps") or 30)
            except Exception:  # the id's module needs a missing package (mujoco, ale_py)
                pass
        return 30

    def make_pool(self, num_envs: int, seed: int, num_threads: int, **extra: Any) -> Any:
        """A synchronous pool of ``num_envs`` envs (env ``i`` seeded ``seed + i``)."""
        envpool = import_envpool()
        with _quiet():
            pool = envpool.make(
                self.task_id,
                env_type="gymnasium",
                num_envs=num_envs,
                batch_size=num_envs,
                num_threads=num_threads,
                seed=seed % 2**30,  # EnvPool takes int32 seeds; a resume's seed + env_steps grows
                **self.options,
                **extra,
            )
            pool.observation_space  # noqa: B018  (built on first use, which warns: now, quietly)
        return pool

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        """One env's observation and action space, read without building an env."""
        with _quiet():
            spec = import_envpool().make_spec(self.task_id, **self.options)
            return spec.gymnasium_observation_space, spec.gymnasium_action_space

    def config(self) -> Any:
        """EnvPool's config for these options (a named tuple: ``max_episode_steps``, ...)."""
        with _quiet():
            return import_envpool().make_spec(self.task_id, **self.options).config


def envpool_task(
    env_id: str,
    kwargs: dict[str, Any],
    atari: dict[str, Any] | None,
    max_episode_steps: int | None,
    training: bool,
) -> EnvPoolTask:
    """The EnvPool env for a config's ``env`` (``atari``: the full options, defaults filled in).

    Raises:
        ConfigError: EnvPool is missing, the id is not one litrl serves through EnvPool, or an
            ``env.kwargs`` key is not an EnvPool option (or one the config sets elsewhere).
    """
    envpool = import_envpool()
    task_id = env_id.removeprefix(ALE_PREFIX)
    registry = envpool.registration.registry.specs
    family = registry[task_id][0] if task_id in registry else None
    if family not in FAMILIES or (env_id.startswith(ALE_PREFIX) and family != "envpool.atari"):
        raise ConfigError(_unserved(env_id, envpool))
    with _quiet():
        accepted = list(envpool.make_spec(task_id).config._fields)
    options = dict(kwargs)
    if family == "envpool.atari":
        options = _atari_kwargs(env_id, options)
    reserved = {**_BATCH_OPTIONS, **(_ATARI_OPTIONS if family == "envpool.atari" else {})}
    for key in options:
        if key in reserved:
            raise ConfigError(
                f"env.kwargs.{key}: litrl sets EnvPool's {key} from {reserved[key]}; drop it "
                "from env.kwargs."
            )
        if key not in accepted:
            choices = [k for k in accepted if k not in reserved]
            raise unknown_key("env.kwargs", key, choices, f"EnvPool's {task_id}")
    life_loss = False
    if family == "envpool.atari":
        if atari is None:
            raise ConfigError(
                f"env.id={env_id} with env.backend=envpool needs env.atari (EnvPool always "
                "preprocesses Atari frames): use env=atari, which sets it."
            )
        options.update(atari_options(atari, training))
        life_loss = bool(atari["terminal_on_life_loss"]) and training
        frames = max_episode_steps or ALE_MAX_FRAMES  # env=atari counts frames, EnvPool steps
        options["max_episode_steps"] = math.ceil(frames / atari["frame_skip"])
    else:
        if atari is not None:
            raise ConfigError(
                f"env.atari is for Atari ids; env.id={env_id} is not one. Drop env.atari."
            )
        if max_episode_steps is not None:
            options["max_episode_steps"] = max_episode_steps
    return EnvPoolTask(env_id, task_id, family, options, life_loss)


def atari_options(atari: dict[str, Any], training: bool) -> dict[str, Any]:
    """EnvPool's Atari options for litrl's ``env.atari`` (``ATARI_DEFAULTS``' keys, all set).

    Both preprocess alike: frame skip with max-pooling over the last two frames, 1 to
    ``noop_max`` no-ops at reset, grayscale frames resized with OpenCV's INTER_AREA, a stack
    padded with the reset frame, rewards clipped to their sign (Atari rewards are integers, so
    that is ``[-1, 1]`` clipping) in training envs only; no FIRE at reset (EnvPool presses it by
    default, Gymnasium's preprocessing does not).
    """
    if atari["noop_max"] < 1:
        raise ConfigError(
            f"env.atari.noop_max={atari['noop_max']}: EnvPool needs at least 1 (with 0 its "
            "Atari reset crashes). Set env.atari.noop_max>=1, or use env.backend=gymnasium."
        )
    return {
        "frame_skip": atari["frame_skip"],
        "img_height": atari["screen_size"],
        "img_width": atari["screen_size"],
        "noop_max": atari["noop_max"],
        "stack_num": atari["frame_stack"],
        "gray_scale": True,
        "reward_clip": bool(atari["clip_rewards"]) and training,
        "episodic_life": False,  # a life loss is read from info["lives"] instead (module doc)
        "use_fire_reset": False,
    }


def _atari_kwargs(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """ALE's ``gymnasium.make`` kwargs as EnvPool's: ``frameskip`` (ALE's own skip) must be 1,
    as for env=atari; sticky actions default to ALE v5's 0.25."""
    options = dict(kwargs)
    if options.pop("frameskip", 1) != 1:
        raise ConfigError(
            "env.atari skips frames itself: set env.kwargs.frameskip=1 (ALE v5 ids default to 4)."
        )
    options.setdefault("repeat_action_probability", ALE_STICKY_ACTIONS)
    return options


def served_ids() -> dict[str, list[str]]:
    """The ids litrl serves through EnvPool, by family (Atari's as ``ALE/<Game>-v5``)."""
    envpool = import_envpool()
    registry = envpool.registration.registry.specs
    served: dict[str, list[str]] = {label: [] for label in FAMILIES.values()}
    for task_id in envpool.list_all_envs():
        family = registry[task_id][0]
        if family == "envpool.atari":
            served["Atari"].append(ALE_PREFIX + task_id)
        elif family in FAMILIES:
            served[FAMILIES[family]].append(task_id)
    return served


def _unserved(env_id: str, envpool: ModuleType) -> str:
    served = served_ids()
    every = [i for ids in served.values() for i in ids]
    close = difflib.get_close_matches(env_id, every, n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    atari = served.pop("Atari")
    listed = "; ".join(f"{label}: {', '.join(ids)}" for label, ids in served.items())
    return (
        f"env.backend=envpool cannot serve env.id={env_id}.{hint} It serves Atari as "
        f"ALE/<Game>-v5 ({len(atari)} games, e.g. {', '.join(atari[:3])}; with env=atari); "
        f"{listed}. (EnvPool's other families, {len(envpool.list_all_envs())} ids in all, "
        "are not wired into litrl.) Use env.backend=gymnasium for other ids."
    )


def default_threads(num_envs: int) -> int:
    """All cores this process may use, but no more threads than envs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(num_envs, cores or 1))


@contextmanager
def _quiet() -> Iterator[None]:
    # EnvPool declares float64 bounds for float32 Boxes; gymnasium warns on every space built.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*precision lowered.*")
        yield


class EnvPoolVecEnv(VectorEnv):
    """A batch of EnvPool envs as a gymnasium ``VectorEnv`` in SAME_STEP autoreset mode.

    See the module docstring for the autoreset mapping and the seeding. Every step's
    observations (float ones) and rewards are checked for NaN/infinity, naming the env.

    Args:
        task: the env kind.
        num_envs: envs in the batch.
        num_threads: EnvPool's worker threads; None: ``default_threads(num_envs)``.
    """

    backend = "envpool"

    def __init__(self, task: EnvPoolTask, num_envs: int, num_threads: int | None = None) -> None:
        self.task = task
        self.num_envs = num_envs
        self.num_threads = num_threads or default_threads(num_envs)
        self.single_observation_space, self.single_action_space = task.spaces()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
        self._pool: Any = None
        self._lives = np.zeros(num_envs, dtype=np.int64)
        self._floats = np.issubdtype(self.single_observation_space.dtype or np.uint8, np.floating)
        self.steps = 0

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None or self._pool is None:  # a pool's seeds are fixed: build a new one
            if isinstance(seed, list):
                raise ValueError("EnvPoolVecEnv seeds env i with seed + i; pass one int")
            if self._pool is not None:
                self._pool.close()
            self._pool = self.task.make_pool(self.num_envs, seed or 0, self.num_threads)
        obs, info = self._pool.reset()
        self._lives = np.asarray(info.get("lives", self._lives), dtype=np.int64)
        self._check(obs, np.zeros(self.num_envs, dtype=np.float32), "reset()")
        return obs, {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._pool is None:
            raise RuntimeError("call reset() before step()")
        obs, reward, terminated, truncated, info = self._pool.step(np.asarray(actions))
        self.steps += 1
        if self.task.life_loss_ends_episode:  # as AtariPreprocessing(terminal_on_life_loss=True)
            lives = np.asarray(info["lives"], dtype=np.int64)
            terminated = terminated | (lives < self._lives)
            self._lives = lives
        ended = terminated | truncated
        infos: dict[str, Any] = {}
        if ended.any():  # SAME_STEP: restart them now, not on EnvPool's next step
            reset_obs, reset_info = self._pool.reset(np.flatnonzero(ended).astype(np.int32))
            infos = {"final_obs": obs, "_final_obs": ended}
            obs = obs.copy()
            obs[reset_info["env_id"]] = reset_obs
            if "lives" in reset_info:
                self._lives[reset_info["env_id"]] = reset_info["lives"]
        self._check(obs, reward, f"step() at its step {self.steps}")
        return obs, reward, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _check(self, obs: np.ndarray, reward: np.ndarray, call: str) -> None:
        bad = ~np.isfinite(reward)
        if self._floats:
            bad |= ~np.isfinite(obs.reshape(self.num_envs, -1)).all(axis=1)
        if bad.any():
            env = int(np.flatnonzero(bad)[0])
            raise EnvError(
                f"{self.task.name}: env {env}'s {call} returned a non-finite observation or "
                f"reward (reward {reward[env]}, observation {obs[env].tolist()}). Look for NaN "
                "actions (a diverged policy); the run dir keeps what was finished."
            )


class EnvPoolAsGym(gym.Env):
    """One EnvPool env behind gymnasium's single-env API, for what wants a ``gymnasium.Env``
    (eval videos, ``RecordVideo``, ``evaluate.py``).

    Steps are EnvPool's own: once an episode ends, ``render`` still shows its last frame and the
    next ``reset()`` starts the next episode. ``reset(seed=s)`` builds the env afresh from ``s``.
    Frames come from EnvPool's renderer (Atari: the 210x160 colour screen), except MuJoCo's,
    which aborts the process without an OpenGL context: its ``render`` raises instead.

    Args:
        task: the env kind.
        render_mode: ``rgb_array`` to draw frames; None draws nothing.
    """

    def __init__(self, task: EnvPoolTask, render_mode: str | None = None) -> None:
        self.task = task
        self.render_mode = render_mode
        self.observation_space, self.action_space = task.spaces()
        self.metadata = {"render_modes": ["rgb_array"], "render_fps": task.render_fps()}
        self._pool: Any = None
        self._lives = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None or self._pool is None:
            if self._pool is not None:
                self._pool.close()
            drawn = self.render_mode == "rgb_array" and self.task.family != "envpool.mujoco.gym"
            extra = {"render_mode": "rgb_array"} if drawn else {}
            self._pool = self.task.make_pool(1, seed or 0, 1, **extra)
        obs, info = self._pool.reset()
        self._lives = int(info.get("lives", [0])[0])
        return obs[0], {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self._pool.step(np.asarray(action)[None])
        lost = False
        if self.task.life_loss_ends_episode:
            lives = int(info["lives"][0])
            lost, self._lives = lives < self._lives, lives
        return obs[0], float(reward[0]), bool(terminated[0]) or lost, bool(truncated[0]), {}

    def render(self) -> Any:
        if self.render_mode != "rgb_array":
            return None
        if self.task.family == "envpool.mujoco.gym":
            raise RuntimeError(
                "EnvPool's MuJoCo renderer needs an OpenGL context it cannot make off-screen "
                "here (it aborts the process rather than raise), so litrl does not call it; "
                "env.backend=gymnasium renders MuJoCo"
            )
        return self._pool.render()[0]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

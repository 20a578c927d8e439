"""MuJoCo envs (the optional ``mujoco`` extra): what to install when MuJoCo is missing or fails to
import."""

from __future__ import annotations

import os

import gymnasium as gym

from litrl.errors import ConfigError

MUJOCO_PACKAGE = "gymnasium.envs.mujoco"
INSTALL = 'pip install -e ".[mujoco]" (litrl\'s mujoco extra) or pip install "gymnasium[mujoco]"'
BACKEND_HELP = (
    "Without a display, set MUJOCO_GL=egl (needs libEGL: apt install libegl1; on a GPU, the "
    "driver's) or MUJOCO_GL=osmesa (needs libOSMesa: apt install libosmesa6); with a display, "
    "leave MUJOCO_GL unset (glfw)."
)


def is_mujoco_id(env_id: str) -> bool:
    """Whether a registered id is one of Gymnasium's MuJoCo envs (``HalfCheetah-v5``, ...)."""
    entry_point = gym.spec(env_id).entry_point
    return isinstance(entry_point, str) and entry_point.startswith(MUJOCO_PACKAGE)


def missing_dependency(env_id: str, error: Exception) -> ConfigError:
    """The error for a registered id whose env module needs a package that is not installed."""
    if is_mujoco_id(env_id):
        return ConfigError(
            f"env.id={env_id} is a MuJoCo env, but MuJoCo is not installed. "
            f"Install it with {INSTALL}."
        )
    return ConfigError(f"env.id={env_id} needs a package that is not installed: {error}")


def import_error(env_id: str, error: Exception) -> ConfigError:
    """The error for a MuJoCo env whose module fails to import for another reason than a missing
    package: ``import mujoco`` loads the OpenGL backend that ``MUJOCO_GL`` names."""
    detail = f"{type(error).__name__}: {error}"
    backend = os.environ.get("MUJOCO_GL")
    if backend is None:
        return ConfigError(
            f"env.id={env_id}: MuJoCo fails to import ({detail}). Reinstall it with {INSTALL}."
        )
    return ConfigError(
        f"env.id={env_id}: MuJoCo fails to import with MUJOCO_GL={backend} ({detail}). "
        f"{BACKEND_HELP} Or unset MUJOCO_GL: litrl then picks egl or osmesa where its library "
        "is found, or trains without eval videos."
    )

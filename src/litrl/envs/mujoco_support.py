"""MuJoCo envs (the optional ``mujoco`` extra): what to install when MuJoCo is missing, and how
their eval videos render on a machine without a display."""

from __future__ import annotations

import ctypes.util
import logging
import os
import sys
from typing import Any

import gymnasium as gym

from litrl.errors import ConfigError

log = logging.getLogger(__name__)

MUJOCO_PACKAGE = "gymnasium.envs.mujoco"
INSTALL = 'pip install -e ".[mujoco]" (litrl\'s mujoco extra) or pip install "gymnasium[mujoco]"'
# MUJOCO_GL backends that render without a display, in the order tried, and the library each loads.
HEADLESS_BACKENDS = {"egl": "EGL", "osmesa": "OSMesa"}
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


def log_mujoco_warnings() -> None:
    """MuJoCo's own warnings through litrl's log, each distinct message once.

    MuJoCo's default handler prints every warning (under MuJoCo 4, HalfCheetah-v5's model warns
    each time it is compiled, once per env) and appends it to MUJOCO_LOG.TXT in the working
    directory. A handler installed by someone else is kept. Call it once MuJoCo imports.
    """
    import mujoco

    if mujoco.get_mju_user_warning() is None:
        mujoco.set_mju_user_warning(_warn_once)


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("MuJoCo: %s", message)


def uses_mujoco(env: gym.Env) -> bool:
    """Whether ``env`` is (a subclass of) one of Gymnasium's MuJoCo envs."""
    return any(cls.__module__.startswith(MUJOCO_PACKAGE) for cls in type(env.unwrapped).__mro__)


def choose_headless_backend() -> str | None:
    """Sets ``MUJOCO_GL`` to a backend that renders without a display, and returns it.

    Leaves it alone (and returns None) when the user set it, off Linux, or with a display, where
    MuJoCo's default (glfw) works. Gymnasium reads ``MUJOCO_GL`` when an env first renders, so
    this must run before that; ``import mujoco`` alone does not fix the choice.
    """
    if "MUJOCO_GL" in os.environ or not sys.platform.startswith("linux"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    for backend, library in HEADLESS_BACKENDS.items():
        if ctypes.util.find_library(library):
            os.environ["MUJOCO_GL"] = backend
            log.info(
                "MUJOCO_GL=%s: no display, so MuJoCo renders videos off-screen through lib%s",
                backend,
                library,
            )
            return backend
    return None


class MujocoRendering(gym.Wrapper):
    """A MuJoCo env that renders; a failed render says which ``MUJOCO_GL`` to set and what to
    install, instead of an OpenGL error from deep inside MuJoCo."""

    def render(self) -> Any:
        try:
            return self.env.render()
        except Exception as error:
            backend = os.environ.get("MUJOCO_GL", "unset, so glfw")
            raise RuntimeError(
                f"MuJoCo cannot render with MUJOCO_GL={backend} "
                f"({type(error).__name__}: {error}). {BACKEND_HELP}"
            ) from error

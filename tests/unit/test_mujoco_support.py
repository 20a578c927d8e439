"""MuJoCo support that needs no MuJoCo: which ids are MuJoCo's, the headless MUJOCO_GL choice."""

from __future__ import annotations

import ctypes.util
import os
import sys

import pytest

from litrl.envs.mujoco_support import choose_headless_backend, is_mujoco_id


def test_mujoco_ids_are_known_without_mujoco_installed() -> None:
    assert is_mujoco_id("HalfCheetah-v5") and is_mujoco_id("InvertedPendulum-v5")
    assert not is_mujoco_id("Pendulum-v1")


@pytest.fixture
def headless_linux(monkeypatch):
    """No MUJOCO_GL, no display, Linux; the libraries found are the test's to choose."""
    for name in ("MUJOCO_GL", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)  # and MUJOCO_GL is removed again afterwards
    monkeypatch.setattr(sys, "platform", "linux")

    def with_libraries(*found: str) -> None:
        monkeypatch.setattr(
            ctypes.util, "find_library", lambda name: name if name in found else None
        )

    return with_libraries


@pytest.mark.parametrize(
    ("libraries", "backend"),
    [(("EGL", "OSMesa"), "egl"), (("OSMesa",), "osmesa"), ((), None)],
)
def test_without_a_display_mujoco_renders_through_egl_or_osmesa(
    headless_linux, libraries: tuple[str, ...], backend: str | None
) -> None:
    headless_linux(*libraries)
    assert choose_headless_backend() == backend
    assert os.environ.get("MUJOCO_GL") == backend


def test_a_users_mujoco_gl_is_kept(headless_linux, monkeypatch) -> None:
    headless_linux("EGL")
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    assert choose_headless_backend() is None and os.environ["MUJOCO_GL"] == "osmesa"


def test_with_a_display_mujoco_keeps_its_default(headless_linux, monkeypatch) -> None:
    headless_linux("EGL")
    monkeypatch.setenv("DISPLAY", ":0")
    assert choose_headless_backend() is None and "MUJOCO_GL" not in os.environ

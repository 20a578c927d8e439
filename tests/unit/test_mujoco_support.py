"""MuJoCo support that needs no MuJoCo: which ids are MuJoCo's."""

from __future__ import annotations

from litrl.envs.mujoco_support import is_mujoco_id


def test_mujoco_ids_are_known_without_mujoco_installed() -> None:
    assert is_mujoco_id("HalfCheetah-v5") and is_mujoco_id("InvertedPendulum-v5")
    assert not is_mujoco_id("Pendulum-v1")

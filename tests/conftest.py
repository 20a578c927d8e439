"""Shared test helpers: composing the real config, shrunk for speed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from litrl.config import compose_config

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def smoke_cfg(tmp_path: Path):
    """Composes ``train`` with the smoke preset, writing into a temporary run dir."""

    def make(*overrides: str):
        return compose_config(["debug=smoke", f"run_dir={tmp_path / 'run'}", *overrides])

    return make


@pytest.fixture
def compose():
    """Composes ``train`` with the smoke preset and the given overrides into ``run_dir``."""

    def make(*overrides: str, run_dir: Path):
        return compose_config(["debug=smoke", f"run_dir={run_dir}", *overrides])

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip_gpu)

"""MuJoCo through Gymnasium (the optional ``mujoco`` extra, part of ``dev``): the continuous-action
algorithms train on HalfCheetah-v5, and its eval videos render headless or say why not.

Without the extra the module skips; the error a MuJoCo id gives then is a case in
test_bad_input.py.
"""

from __future__ import annotations

import ctypes.util
import logging
import math
import os

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litrl.envs import EnvFactory
from litrl.envs.mujoco_support import HEADLESS_BACKENDS
from litrl.events import read_scalars
from litrl.train import run

mujoco = pytest.importorskip("mujoco")

# HalfCheetah never terminates: a short time limit keeps the evaluations (and videos) short.
CHEETAH = ["env=gym", "env.id=HalfCheetah-v5", "env.max_episode_steps=100"]
EVALS = ["eval.every_env_steps=256", "eval.episodes=1", "eval.num_envs=1"]
# Per algorithm: tiny nets and a budget of two evaluation intervals (after TD3's warm-up).
ALGOS = {
    "td3": [
        "algo=td3",
        "total_env_steps=768",
        "algo.data.warmup_env_steps=256",
        "algo.data.buffer_capacity=1024",
        "algo.data.batch_size=32",
        "algo.data.updates_per_collect=8",
        "algo.actor_hidden_sizes=[32,32]",
        "algo.critic_hidden_sizes=[32,32]",
    ],
    "sac": [
        "algo=sac",
        "total_env_steps=768",
        "algo.data.warmup_env_steps=256",
        "algo.data.buffer_capacity=1024",
        "algo.data.batch_size=32",
        "algo.data.updates_per_collect=8",
        "algo.actor_hidden_sizes=[32,32]",
        "algo.critic_hidden_sizes=[32,32]",
    ],
    "ppo": [
        "algo=ppo",
        "total_env_steps=512",
        "algo.n_epochs=2",
        "algo.hidden_sizes=[32,32]",
        "algo.value_hidden_sizes=[32,32]",
    ],
}


@pytest.mark.parametrize("algo", ALGOS)
def test_algorithm_trains_on_halfcheetah(smoke_cfg, algo: str) -> None:
    cfg = smoke_cfg(*CHEETAH, *EVALS, *ALGOS[algo])
    final_return = run(cfg)
    scalars = read_scalars(cfg.run_dir)
    assert scalars["train/updates"][-1].value > 0
    evals = scalars["eval/return_mean"]
    assert [e.step for e in evals] == [cfg.total_env_steps - 256, cfg.total_env_steps]
    assert all(math.isfinite(e.value) for e in evals) and math.isfinite(final_return)


def _can_render() -> bool:
    """A display (glfw), or a library that renders without one (egl, osmesa)."""
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return bool(display) or any(map(ctypes.util.find_library, HEADLESS_BACKENDS.values()))


@pytest.mark.skipif(not _can_render(), reason="no display, libEGL or libOSMesa")
def test_eval_video_renders_headless(smoke_cfg, monkeypatch) -> None:
    monkeypatch.delenv("MUJOCO_GL", raising=False)  # litrl chooses; restored afterwards
    # One video (at the second evaluation) of 10 frames: software rendering runs at ~10 fps.
    video = ["env.max_episode_steps=10", "video.every_n_evals=2"]
    cfg = smoke_cfg(*CHEETAH, *EVALS, *ALGOS["ppo"], *video)
    run(cfg)
    accumulator = EventAccumulator(cfg.run_dir, size_guidance={"images": 0})
    accumulator.Reload()
    videos = accumulator.Images("eval/video")
    assert [v.step for v in videos] == [512]
    assert videos[0].encoded_image_string[:3] == b"GIF"
    assert videos[0].width == 240  # 480x480 frames, halved for TensorBoard


# gymnasium's OffScreenViewer.__del__ then raises on the viewer it never finished building.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_failed_render_names_mujoco_gl_and_training_goes_on(smoke_cfg, monkeypatch, caplog):
    monkeypatch.setenv("MUJOCO_GL", "nosuchbackend")  # gymnasium refuses it at the first render
    cfg = smoke_cfg(*CHEETAH, *EVALS, *ALGOS["ppo"], "video.every_n_evals=1")
    with caplog.at_level(logging.WARNING, logger="litrl.callbacks"):
        assert math.isfinite(run(cfg))
    assert [e.step for e in read_scalars(cfg.run_dir)["eval/return_mean"]] == [256, 512]
    warnings = [r.getMessage() for r in caplog.records if "eval videos off" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once: videos stay off for the rest of the run
    assert "env.id=HalfCheetah-v5 cannot render rgb_array frames" in warnings[0]
    assert "MuJoCo cannot render with MUJOCO_GL=nosuchbackend" in warnings[0]
    assert "set MUJOCO_GL=egl" in warnings[0] and "apt install libosmesa6" in warnings[0]
    assert warnings[0].endswith("video.every_n_evals=0 trains without them.")


def test_mujocos_warnings_reach_the_log_once_and_write_no_file(monkeypatch, tmp_path, caplog):
    monkeypatch.chdir(tmp_path)  # where MuJoCo's own handler would append to MUJOCO_LOG.TXT
    EnvFactory(id="HalfCheetah-v5")
    ball = "<mujoco><worldbody><body><joint type='slide'/><geom size='.1'/></body></worldbody></mujoco>"
    model = mujoco.MjModel.from_xml_string(ball)
    for _ in range(2):
        data = mujoco.MjData(model)
        data.qvel[0] = math.nan  # an unstable simulation: MuJoCo warns
        mujoco.mj_step(model, data)
    warnings = [r.getMessage() for r in caplog.records if "QVEL" in r.getMessage()]
    assert warnings == [
        "MuJoCo: Nan, Inf or huge value in QVEL at DOF 0. The simulation is unstable. Time = 0.0000."
    ]
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()

"""PPO on Pong: training throughput (env steps/s) of litrl's `experiment=ppo_atari` on the gymnasium
and EnvPool env backends, and of Stable-Baselines3's PPO with the RL Zoo's Atari settings.

    python -m benchmarks.bench_ppo_atari [--env-steps 8192] [--rounds 2]
        [--libs litrl_gymnasium litrl_envpool sb3] [--game ALE/Pong-v5] [--device cpu|cuda]

Each run is a fresh subprocess training for ``--env-steps`` from scratch with all the machine's
cores (litrl's preset sets ``torch_threads: 0``; torch's own default for SB3); the libraries take
turns, ``--rounds`` times, so a burst of load on a shared machine does not land on one library.
Throughput is the median over each run's rollout windows (8 envs x 128 steps = 1,024 env steps:
collecting one rollout and learning from it), leaving out the first two (start-up, first
allocations) and litrl's last (it holds the final evaluation, capped at 2,000 env steps); the
reported figure is the median over rounds. Both libraries run the same work per window: 8 envs,
128 steps each, 4 epochs of 256-sample minibatches through the Nature CNN.

The env is the same for all three: ``ALE/Pong-v5`` with frame skip 4 (max-pooled), up to 30
no-ops at reset, 84x84 grayscale, a stack of 4 and sticky actions 0.25, as `env=atari` sets it
(SB3: ``make_atari_env`` with ``frameskip=1`` and its ``AtariWrapper``, which also skips 4 frames,
plus ``VecFrameStack(4)``); training rewards clipped to their sign. The Zoo's own env id,
``PongNoFrameskip-v4``, has no sticky actions; the emulator's cost per frame is the same.
EnvPool needs the `envpool` extra (``pip install -e .[envpool]``); without it that library is
left out. ``--device cuda`` trains on the GPU (litrl: ``accelerator=gpu``; SB3: ``device="cuda"``),
where the update is cheap and the env backend's step rate decides the throughput.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import side_by_side
from benchmarks.bench_dqn_cartpole import fmt, spawn

LIBS = ("litrl_gymnasium", "litrl_envpool", "sb3")
ROLLOUT = 8 * 128  # env steps per window, both libraries
SKIPPED_WINDOWS = 2
# rl-baselines3-zoo hyperparams/ppo.yml, atari (n_envs 8, frame_stack 4, AtariWrapper, CnnPolicy;
# lin_2.5e-4 / lin_0.1: linear to 0)
ZOO_PPO_ATARI = dict(
    n_steps=128,
    n_epochs=4,
    batch_size=256,
    learning_rate="lin_2.5e-4",
    clip_range="lin_0.1",
    vf_coef=0.5,
    ent_coef=0.01,
)


def litrl_worker(backend: str, env_steps: int, game: str, device: str) -> dict:
    from litrl.config import compose_config
    from litrl.events import read_scalars
    from litrl.train import run

    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-ppo-atari-{backend}-"))
    cfg = compose_config(
        [
            "experiment=ppo_atari",
            f"env.id={game}",
            f"env.backend={backend}",
            f"accelerator={'gpu' if device == 'cuda' else 'cpu'}",
            f"total_env_steps={env_steps}",
            f"algo.log_every_env_steps={ROLLOUT}",
            f"eval.every_env_steps={env_steps}",
            "eval.episodes=1",
            "eval.num_envs=1",
            "env.max_episode_steps=8000",  # frames: caps the final evaluation at 2,000 steps
            "video.every_n_evals=0",
            "progress_bar_refresh_steps=0",
            f"run_dir={run_dir}",
        ]
    )
    started = time.time()
    run(cfg)
    seconds = time.time() - started
    windows = [e.value for e in read_scalars(run_dir)["perf/env_steps_per_sec"]]
    return _result(windows[SKIPPED_WINDOWS:-1], seconds, env_steps)


def sb3_worker(env_steps: int, game: str, device: str, seed: int = 0) -> dict:
    side_by_side.import_sb3()
    import ale_py
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gym.register_envs(ale_py)
    ends: list[float] = []

    class RolloutClock(BaseCallback):
        """The time at the end of every rollout: between two, one update and one rollout."""

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            ends.append(time.perf_counter())

    env = make_atari_env(
        game, n_envs=8, seed=seed, env_kwargs={"frameskip": 1, "repeat_action_probability": 0.25}
    )
    env = VecFrameStack(env, n_stack=4)
    started = time.time()
    model = PPO(
        "CnnPolicy", env, seed=seed, device=device, **side_by_side.zoo_schedules(ZOO_PPO_ATARI)
    )
    model.learn(env_steps, callback=RolloutClock())
    seconds = time.time() - started
    windows = [ROLLOUT / (b - a) for a, b in itertools.pairwise(ends)]
    return _result(windows[SKIPPED_WINDOWS - 1 :], seconds, env_steps)


def _result(windows: list[float], seconds: float, env_steps: int) -> dict:
    import torch

    return {
        "env_steps_per_sec": statistics.median(windows),
        "windows": windows,
        "wall_s": seconds,
        "env_steps": env_steps,
        "torch_threads": torch.get_num_threads(),
    }


def libraries(requested: list[str]) -> list[str]:
    """The requested libraries less EnvPool where its extra is not installed."""
    if "litrl_envpool" in requested and importlib.util.find_spec("envpool") is None:
        print("envpool is not installed (pip install -e .[envpool]): litrl_envpool left out")
        return [lib for lib in requested if lib != "litrl_envpool"]
    return requested


def report(runs: list[dict], command: str) -> str:
    libs = list(dict.fromkeys(run["lib"] for run in runs))
    median = {
        lib: statistics.median(r["env_steps_per_sec"] for r in runs if r["lib"] == lib)
        for lib in libs
    }
    lines = [
        side_by_side.machine_line().replace("1 torch thread", "all cores"),
        f"command: {command}",
        "",
        "| lib | env steps/s per round | median | wall s per round |",
        "|---|---|---|---|",
    ]
    for lib in libs:
        mine = [r for r in runs if r["lib"] == lib]
        rates = " / ".join(fmt(r["env_steps_per_sec"], 0) for r in mine)
        walls = " / ".join(fmt(r["wall_s"]) for r in mine)
        lines.append(f"| {lib} | {rates} | {fmt(median[lib], 0)} | {walls} |")
    lines.append("")
    for mine, theirs in (
        ("litrl_envpool", "litrl_gymnasium"),
        ("litrl_envpool", "sb3"),
        ("litrl_gymnasium", "sb3"),
    ):
        if mine in median and theirs in median:
            lines.append(f"- {mine} / {theirs}: {median[mine] / median[theirs]:.2f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env-steps", type=int, default=8 * ROLLOUT, help="a multiple of 1,024")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--libs", nargs="+", default=list(LIBS), choices=LIBS)
    parser.add_argument("--game", default="ALE/Pong-v5")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/ppo_atari.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.env_steps % ROLLOUT or args.env_steps < (SKIPPED_WINDOWS + 2) * ROLLOUT:
        parser.error(f"--env-steps must be a multiple of {ROLLOUT} and at least {4 * ROLLOUT}")
    if args.worker:
        if args.worker == "sb3":
            result = sb3_worker(args.env_steps, args.game, args.device)
        else:
            backend = args.worker.removeprefix("litrl_")
            result = litrl_worker(backend, args.env_steps, args.game, args.device)
        print(json.dumps(result))
        return
    command = "python -m benchmarks.bench_ppo_atari " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items()
        if k not in ("worker", "out")
    )
    runs, libs = [], libraries(args.libs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for round_ in range(args.rounds):
        for lib in libs:
            worker = ["--worker", lib, "--env-steps", str(args.env_steps), "--game", args.game,
                      "--device", args.device]  # fmt: skip
            result = spawn(worker, module="benchmarks.bench_ppo_atari")
            runs.append({"round": round_, "lib": lib, **result})
            print(json.dumps({"lib": lib, "round": round_, "rate": result["env_steps_per_sec"]}))
            args.out.write_text(json.dumps({"runs": runs, "command": command}, indent=1))
    print(report(runs, command))
    print(f"load average now: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""Tuned DQN presets on the classic-control and Box2D envs: do they reach the Gymnasium thresholds?

    python -m benchmarks.bench_presets [--presets dqn_acrobot dqn_mountaincar dqn_lunarlander] [--seeds 0 1 2 3 4]

Each (preset, seed) is a fresh subprocess running `python train.py experiment=<preset> seed=S`'s
config through `litrl.train.run`, one at a time. Reported per seed: the first env step with a
greedy 10-episode eval >= the env's reward threshold, the best and final evals, wall seconds.
The issue's mark: the threshold on at least 3 of 5 seeds (about 30 minutes for all three).

Held-out confirmation of any preset (no tuning run used seeds 100-109):

    python -m benchmarks.bench_presets --presets td3_pendulum sac_pendulum --seeds 100 ... 109 \
        --threshold -200 --out outputs/bench/presets_continuous_held_out.json

``--threshold`` stands in for envs that define none (Pendulum-v1: -200, the mark the RL Zoo's
and the issues' Pendulum targets use). The final eval is also compared against it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.bench_dqn_cartpole import spawn

PRESETS = ("dqn_acrobot", "dqn_mountaincar", "dqn_lunarlander")


def worker(preset: str, seed: int, fallback_threshold: float | None) -> dict:
    from litrl.config import compose_config
    from litrl.events import read_scalars
    from litrl.train import build, run

    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-{preset}-{seed}-"))
    cfg = compose_config(
        [
            f"experiment={preset}",
            f"seed={seed}",
            f"run_dir={run_dir}",
            "video.every_n_evals=0",
            "progress_bar_refresh_steps=100000",
        ]
    )
    threshold = build(cfg.env).reward_threshold
    if threshold is None:
        if fallback_threshold is None:
            raise SystemExit(f"{cfg.env.id} defines no reward threshold: pass --threshold")
        threshold = fallback_threshold
    started = time.time()
    final = run(cfg)
    evals = [(e.step, e.value) for e in read_scalars(run_dir)["eval/return_mean"]]
    first = next((step for step, value in evals if value >= threshold), None)
    return {
        "preset": preset,
        "seed": seed,
        "threshold": threshold,
        "first_at_threshold": first,
        "best": max(value for _, value in evals),
        "final": final,
        "seconds": time.time() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/presets.json"))
    parser.add_argument("--threshold", type=float, help="for envs that define none")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        torch.set_num_threads(1)
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.threshold)))
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for preset in args.presets:
        for seed in args.seeds:
            extra = [] if args.threshold is None else ["--threshold", str(args.threshold)]
            rows.append(
                spawn(["--worker", preset, str(seed), *extra], module="benchmarks.bench_presets")
            )
            args.out.write_text(json.dumps(rows, indent=2))  # finished runs survive a crash
    print("| preset | seed | first eval >= threshold (env steps) | best | final | wall s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['preset']} | {r['seed']} | {r['first_at_threshold'] or 'never'} | {r['best']:.1f} | {r['final']:.1f} | {r['seconds']:.0f} |"
        )
    for preset in args.presets:
        reached = sum(r["first_at_threshold"] is not None for r in rows if r["preset"] == preset)
        ended = sum(r["final"] >= r["threshold"] for r in rows if r["preset"] == preset)
        finals = [r["final"] for r in rows if r["preset"] == preset]
        print(
            f"- {preset}: threshold reached on {reached}/{len(args.seeds)} seeds, ended at or "
            f"above it on {ended}; final mean {sum(finals) / len(finals):.1f}"
        )


if __name__ == "__main__":
    main()

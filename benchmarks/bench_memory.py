"""Bounded memory over a long run: DQN on CartPole for many env steps, resident memory sampled.

    python -m benchmarks.bench_memory [--env-steps 800000]

The run logs ``perf/rss_mb`` every 1024 env steps (litrl.perf.PerfBreakdown). The replay buffer
is allocated once; growth is measured from the point where it is full (its capacity in env
steps) to the end, and should stay under 5%.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.bench_dqn_cartpole import spawn

BUFFER_CAPACITY = 100_000


def worker(env_steps: int) -> dict:
    from litrl.config import compose_config
    from litrl.events import read_scalars
    from litrl.train import run

    run_dir = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    cfg = compose_config(
        [
            f"run_dir={run_dir}",
            f"total_env_steps={env_steps}",
            "eval.every_env_steps=16384",  # a long run: fewer evaluations, same training
            "progress_bar_refresh_steps=100000",
            "video.every_n_evals=0",
        ]
    )
    started = time.time()
    final = run(cfg)
    seconds = time.time() - started
    rss = [(s.step, s.value) for s in read_scalars(run_dir)["perf/rss_mb"]]
    return {"final_eval": final, "seconds": seconds, "rss": rss}


def summarize(result: dict) -> dict:
    rss = result["rss"]
    after_fill = next(value for step, value in rss if step >= BUFFER_CAPACITY)
    middle = rss[len(rss) // 2][1]
    end = rss[-1][1]
    return {
        "start_mb": rss[0][1],
        "buffer_full_mb": after_fill,
        "middle_mb": middle,
        "end_mb": end,
        "peak_mb": max(value for _, value in rss),
        "growth_after_fill": end / after_fill - 1,
        "env_steps": rss[-1][0],
        "seconds": result["seconds"],
        "final_eval": result["final_eval"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env-steps", type=int, default=800_000)
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/memory.json"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        torch.set_num_threads(1)
        print(json.dumps(worker(args.env_steps)))
        return
    summary = summarize(
        spawn(["--worker", "--env-steps", str(args.env_steps)], module="benchmarks.bench_memory")
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"command: python -m benchmarks.bench_memory --env-steps {args.env_steps}")
    print(
        f"machine: {platform.processor() or platform.machine()}, python {sys.version.split()[0]}, torch {torch.__version__}"
    )
    print(
        "| env steps | wall s | RSS start | buffer full | middle | end | peak | growth after fill |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {summary['env_steps']:,} | {summary['seconds']:.0f} | {summary['start_mb']:.0f} MiB "
        f"| {summary['buffer_full_mb']:.0f} MiB | {summary['middle_mb']:.0f} MiB | {summary['end_mb']:.0f} MiB "
        f"| {summary['peak_mb']:.0f} MiB | {100 * summary['growth_after_fill']:+.2f}% |"
    )


if __name__ == "__main__":
    main()

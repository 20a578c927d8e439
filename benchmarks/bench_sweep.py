"""Parallel local sweeps: 4 DQN CartPole seeds through Hydra's joblib launcher (2 jobs) vs serially.

    python -m benchmarks.bench_sweep [--seeds 0 1 2 3] [--jobs 2]

Both are real `python train.py -m ...` multiruns with the default budget; each job runs torch on
one thread (torch_threads=1), so two jobs use the two cores without oversubscribing them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from litrl.events import read_scalars

REPO_ROOT = Path(__file__).resolve().parents[1]


def sweep(seeds: list[int], launcher: list[str]) -> tuple[float, list[float]]:
    """Wall seconds of one multirun, and each job's final eval return."""
    sweep_dir = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable, "train.py", "-m", f"seed={','.join(map(str, seeds))}",
            f"hydra.sweep.dir={sweep_dir}", "video.every_n_evals=0",
            "progress_bar_refresh_steps=100000", *launcher,
        ],
        cwd=REPO_ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    finals = [
        read_scalars(job)["eval/return_mean"][-1].value
        for job in sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    ]
    return seconds, finals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/sweep.json"))
    args = parser.parse_args()
    serial, serial_finals = sweep(args.seeds, [])
    parallel, parallel_finals = sweep(
        args.seeds, ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.jobs}"]
    )
    result = {
        "serial_s": serial,
        "joblib_s": parallel,
        "speedup": serial / parallel,
        "serial_finals": serial_finals,
        "joblib_finals": parallel_finals,
        "cpus": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(
        f"command: python -m benchmarks.bench_sweep --seeds {' '.join(map(str, args.seeds))} --jobs {args.jobs}"
    )
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    print(
        "| seeds | serial (basic launcher) | joblib, 2 jobs | speed-up | final evals serial / joblib |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {len(args.seeds)} | {serial:.1f} s | {parallel:.1f} s | {serial / parallel:.2f}x "
        f"| {serial_finals} / {parallel_finals} |"
    )


if __name__ == "__main__":
    main()

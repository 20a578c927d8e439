"""PPO's framework tax: litrl's PPO vs the same update loop in plain PyTorch (benchmarks/plain_ppo.py).

    python -m benchmarks.bench_ppo_tax [--seeds 0 1 2] [--preset ppo_cartpole] [--env-steps 20480]

The two compute identical evaluation returns for a seed (tests/e2e/test_plain_ppo_equivalence.py),
so the ratio of their wall times is what Lightning and litrl's module add. Each run is a fresh
subprocess, one at a time, one torch thread, litrl and plain alternating; one evaluation at the
end, no metric logging; imports are done before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.bench_dqn_cartpole import spawn


def tax_worker(kind: str, seed: int, preset: str, env_steps: int) -> dict:
    from benchmarks.plain_ppo import train_plain
    from litrl.config import compose_config
    from litrl.train import run

    cfg = compose_config(
        [
            f"seed={seed}",
            f"experiment={preset}",
            f"run_dir={tempfile.mkdtemp(prefix=f'bench-ppo-tax-{kind}-')}",
            f"total_env_steps={env_steps}",
            f"eval.every_env_steps={env_steps}",
            "logger=none",
            "accelerator=cpu",
            "video.every_n_evals=0",
            "progress_bar_refresh_steps=1000",
        ]
    )
    started = time.perf_counter()
    history = run(cfg) if kind == "litrl" else train_plain(cfg)[-1][1]
    return {"seconds": time.perf_counter() - started, "final_eval": history}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--preset", default="ppo_cartpole")
    parser.add_argument("--env-steps", type=int, default=20_480)
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/ppo_tax.json"))
    parser.add_argument("--worker", choices=["litrl", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.worker:
        print(json.dumps(tax_worker(args.worker, args.seed, args.preset, args.env_steps)))
        return
    rows = []
    for seed in args.seeds:
        common = ["--seed", str(seed), "--preset", args.preset, "--env-steps", str(args.env_steps)]
        litrl = spawn(["--worker", "litrl", *common], module="benchmarks.bench_ppo_tax")
        plain = spawn(["--worker", "plain", *common], module="benchmarks.bench_ppo_tax")
        rows.append({"seed": seed, "litrl": litrl, "plain": plain})
        print(json.dumps(rows[-1]), flush=True)
    command = " ".join(["python -m benchmarks.bench_ppo_tax", *sys.argv[1:]])
    lines = [
        f"command: `{command}`",
        "",
        "| seed | litrl s | plain PyTorch s | ratio | final eval litrl / plain |",
        "|---|---|---|---|---|",
    ]
    ratios = []
    for row in rows:
        ratio = row["litrl"]["seconds"] / row["plain"]["seconds"]
        ratios.append(ratio)
        lines.append(
            f"| {row['seed']} | {row['litrl']['seconds']:.2f} | {row['plain']['seconds']:.2f} | "
            f"{ratio:.3f} | {row['litrl']['final_eval']:.1f} / {row['plain']['final_eval']:.1f} |"
        )
    lines += ["", f"framework tax (median litrl / plain): {statistics.median(ratios):.3f}"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "command": command}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

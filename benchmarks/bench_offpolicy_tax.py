"""TD3's and SAC's framework tax: litrl vs the same update loops in plain PyTorch
(benchmarks/plain_offpolicy.py), on Pendulum-v1.

    python -m benchmarks.bench_offpolicy_tax [--algo td3 sac] [--seeds 0 1 2] [--env-steps 10000]
        [--preset td3_pendulum sac_pendulum | --algo-defaults]

Each algorithm runs its tuned preset (``experiment=<algo>_pendulum``; ``--preset`` names others,
one per ``--algo``), or with ``--algo-defaults`` its algo file's defaults (``algo=<algo>
env=pendulum``). The budget is the preset's random warm-up plus ``--env-steps`` learning env
steps (rounded up to whole collects; replay ratio 1 in every config, so as many critic
updates), so presets whose warm-ups differ compare the same learning. The two loops compute
identical evaluation returns for a seed (tests/e2e/test_plain_offpolicy_equivalence.py), so
the ratio of their wall times is what Lightning and litrl's module add. Each run is a fresh
subprocess, one at a time, one torch thread, litrl and plain alternating; one evaluation, at
the end; no metric logging; imports and config composition are done before the clock starts.
The table gives the ratio of CPU times too, steadier than wall time when other jobs share the
machine.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.bench_dqn_cartpole import spawn


def tax_config(kind: str, algo: str, seed: int, preset: str | None, env_steps: int):
    """litrl's composed config for one run: a single evaluation, at the end of the budget."""
    from litrl.config import compose_config

    cfg = compose_config(
        [
            f"seed={seed}",
            *([f"experiment={preset}"] if preset else [f"algo={algo}", "env=pendulum"]),
            f"run_dir={tempfile.mkdtemp(prefix=f'bench-{algo}-tax-{kind}-')}",
            "logger=none",
            "accelerator=cpu",
            "video.every_n_evals=0",
            "progress_bar_refresh_steps=1000",
        ]
    )
    data = cfg.algo.data
    collects = math.ceil(env_steps / data.env_steps_per_collect)
    cfg.eval.every_env_steps = collects * data.env_steps_per_collect
    cfg.total_env_steps = data.warmup_env_steps + cfg.eval.every_env_steps
    return cfg


def tax_worker(kind: str, algo: str, seed: int, preset: str | None, env_steps: int) -> dict:
    from benchmarks.plain_offpolicy import train_plain
    from litrl.train import run

    cfg = tax_config(kind, algo, seed, preset, env_steps)
    data, learning_env_steps = cfg.algo.data, cfg.eval.every_env_steps
    started, cpu_started = time.perf_counter(), time.process_time()
    final_eval = run(cfg) if kind == "litrl" else train_plain(cfg)[-1][1]
    return {
        "seconds": time.perf_counter() - started,
        # less shaken than wall time by other jobs on the machine (one torch thread)
        "cpu_seconds": time.process_time() - cpu_started,
        "final_eval": final_eval,
        "warmup_env_steps": data.warmup_env_steps,
        "learning_env_steps": learning_env_steps,
        "critic_updates": learning_env_steps
        // data.env_steps_per_collect
        * data.updates_per_collect,
    }


def report(rows: list[dict], command: str) -> str:
    lines = [f"command: `{command}`"]
    for algo in dict.fromkeys(row["algo"] for row in rows):
        algo_rows = [row for row in rows if row["algo"] == algo]
        first = algo_rows[0]
        config = f"experiment={first['preset']}" if first["preset"] else f"algo={algo} env=pendulum"
        lines += [
            "",
            f"{algo}: {config}, {first['litrl']['warmup_env_steps']} warm-up + "
            f"{first['litrl']['learning_env_steps']} learning env steps, "
            f"{first['litrl']['critic_updates']} critic updates",
            "",
            "| seed | litrl s | plain PyTorch s | ratio | CPU-time ratio | final eval litrl / plain |",
            "|---|---|---|---|---|---|",
        ]
        ratios = []
        for row in algo_rows:
            litrl, plain = row["litrl"], row["plain"]
            ratio = litrl["seconds"] / plain["seconds"]
            ratios.append(ratio)
            cpu_ratio = litrl["cpu_seconds"] / plain["cpu_seconds"]
            lines.append(
                f"| {row['seed']} | {litrl['seconds']:.2f} | {plain['seconds']:.2f} | "
                f"{ratio:.3f} | {cpu_ratio:.3f} | "
                f"{litrl['final_eval']:.1f} / {plain['final_eval']:.1f} |"
            )
        lines += [
            "",
            f"{algo} framework tax (median litrl / plain): {statistics.median(ratios):.3f}",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algo", nargs="+", choices=["td3", "sac"], default=["td3", "sac"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    config = parser.add_mutually_exclusive_group()
    config.add_argument("--preset", nargs="+", help="experiment presets, one per --algo")
    config.add_argument(
        "--algo-defaults", action="store_true", help="algo=<algo> env=pendulum, no preset"
    )
    parser.add_argument(
        "--env-steps", type=int, default=10_000, help="learning env steps, after the warm-up"
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/offpolicy_tax.json"))
    parser.add_argument("--worker", choices=["litrl", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.preset and len(args.preset) != len(args.algo):
        parser.error(f"--preset names {len(args.preset)} presets for {len(args.algo)} --algo")
    torch.set_num_threads(1)
    presets = args.preset or [None if args.algo_defaults else f"{a}_pendulum" for a in args.algo]
    if args.worker:
        result = tax_worker(args.worker, args.algo[0], args.seed, presets[0], args.env_steps)
        print(json.dumps(result))
        return
    rows = []
    for algo, preset in zip(args.algo, presets, strict=True):
        for seed in args.seeds:
            common = ["--algo", algo, "--seed", str(seed), "--env-steps", str(args.env_steps)]
            common += ["--preset", preset] if preset else ["--algo-defaults"]
            litrl = spawn(["--worker", "litrl", *common], module="benchmarks.bench_offpolicy_tax")
            plain = spawn(["--worker", "plain", *common], module="benchmarks.bench_offpolicy_tax")
            rows.append(
                {"algo": algo, "preset": preset, "seed": seed, "litrl": litrl, "plain": plain}
            )
            print(json.dumps(rows[-1]), flush=True)
    command = " ".join(["python -m benchmarks.bench_offpolicy_tax", *sys.argv[1:]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "command": command}, indent=1))
    print(report(rows, command))


if __name__ == "__main__":
    main()

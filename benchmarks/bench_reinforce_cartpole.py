"""REINFORCE on CartPole: litrl vs the classic PyTorch REINFORCE example (benchmarks/classic_reinforce.py).

    python -m benchmarks.bench_reinforce_cartpole [--seeds 0 1 2 3 4]

Both are measured the same way: 10 greedy episodes on 10 envs every 2048 env steps; "solved" is
the first evaluation that starts three in a row >= 475. The classic example's own criterion
(running reward > 475, weight 0.05) is reported too. The reference stops once both criteria
are met (or at 400k env steps); litrl runs its default budget.
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

from benchmarks.bench_dqn_cartpole import EVAL_EPISODES, EVAL_EVERY, fmt, peak_rss_mb, summarize
from benchmarks.bench_dqn_cartpole import spawn as run_worker

REFERENCE_MAX_ENV_STEPS = 400_000
HELD_OUT_SEEDS = list(range(100, 110))  # never used for tuning: they confirm the defaults


def litrl_worker(seed: int, overrides: list[str]) -> dict:
    from litrl.config import compose_config
    from litrl.events import read_scalars
    from litrl.train import run

    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-reinforce-{seed}-"))
    cfg = compose_config(
        [
            f"seed={seed}",
            "algo=reinforce",
            f"run_dir={run_dir}",
            "progress_bar_refresh_steps=100000",
            "video.every_n_evals=0",
            *overrides,
        ]
    )
    started = time.time()
    final = run(cfg)
    seconds = time.time() - started
    scalars = read_scalars(run_dir)
    episodes = scalars["train/episode_return"]
    running, running_solved = 10.0, None
    for point in episodes:  # per-log-window means: an approximation of the per-episode average
        running = 0.05 * point.value + 0.95 * running
        if running_solved is None and running > 475:
            running_solved = point.step
    return summarize(
        evals=[(e.step, e.wall_time - started, e.value) for e in scalars["eval/return_mean"]],
        final=final,
        seconds=seconds,
        env_steps_per_sec=statistics.median(s.value for s in scalars["perf/env_steps_per_sec"]),
        running_solved_env_steps=running_solved,
    )


def reference_worker(seed: int) -> dict:
    from benchmarks.classic_reinforce import train_classic
    from litrl.data.collector import evaluate
    from litrl.envs import EnvFactory

    eval_envs = EnvFactory("CartPole-v1").make_vector(EVAL_EPISODES)

    def greedy_return(actor, index: int) -> float:
        episodes = evaluate(
            actor, eval_envs, EVAL_EPISODES, seed + 10_000 + index, torch.device("cpu")
        )
        return episodes.returns.mean().item()

    result = train_classic(
        seed, REFERENCE_MAX_ENV_STEPS, EVAL_EVERY, greedy_return, stop_when_solved=True
    )
    evals = result["evals"]
    summary = summarize(
        evals=evals,
        final=evals[-1][2] if evals else float("nan"),
        seconds=result["seconds"],
        env_steps_per_sec=result["env_steps"] / result["seconds"],
    )
    solved = result["running_solved"]
    summary["running_solved_env_steps"] = solved[0] if solved else None
    summary["running_solved_seconds"] = solved[1] if solved else None
    return summary


def spawn(args: list[str]) -> dict:
    return run_worker(args, module="benchmarks.bench_reinforce_cartpole")


def report(rows: list[dict], command: str) -> str:
    lines = [
        f"command: {command}",
        "",
        "| seed | litrl streak: steps / s | litrl first ≥475 | litrl final | litrl env steps/s "
        "| reference streak: steps / s | reference running-reward: steps / s | reference env steps/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lit, ref = row["litrl"], row["reference"]
        lines.append(
            f"| {row['seed']} | {_pair(lit, 'streak')} | {lit['solved_env_steps'] or '—'} | {fmt(lit['final_eval'])} "
            f"| {fmt(lit['env_steps_per_sec'], 0)} | {_pair(ref, 'streak')} | {_pair(ref, 'running_solved')} "
            f"| {fmt(ref['env_steps_per_sec'], 0)} |"
        )
    lit_s = [r["litrl"]["streak_seconds"] or float("inf") for r in rows]
    ref_s = [r["reference"]["streak_seconds"] or float("inf") for r in rows]
    ref_run = [r["reference"]["running_solved_seconds"] or float("inf") for r in rows]
    lines += [
        "",
        f"- median seconds to a streak of three evals >= 475: litrl {fmt(statistics.median(lit_s))}, "
        f"reference {fmt(statistics.median(ref_s))} (reference's running-reward criterion: {fmt(statistics.median(ref_run))})",
        f"- litrl seeds ending >= 475: {sum(r['litrl']['final_eval'] >= 475 for r in rows)}/{len(rows)}",
        f"- peak RSS litrl {fmt(max(r['litrl']['peak_rss_mb'] for r in rows), 0)} MB",
    ]
    return "\n".join(lines)


def held_out_report(rows: list[dict], command: str) -> str:
    """litrl alone on the held-out seeds: do the defaults hold on seeds they were not tuned on?"""
    lines = [
        f"command: {command}",
        "",
        "| seed | streak: steps / s | first ≥475 | final | evals ≥475 after the streak |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lit = row["litrl"]
        lines.append(
            f"| {row['seed']} | {_pair(lit, 'streak')} | {lit['solved_env_steps'] or '—'} "
            f"| {fmt(lit['final_eval'])} | {_held_after_streak(lit)} |"
        )
    streaks = [r["litrl"]["streak_env_steps"] or float("inf") for r in rows]
    seconds = [r["litrl"]["streak_seconds"] or float("inf") for r in rows]
    lines += [
        "",
        f"- seeds ending >= 475: {sum(r['litrl']['final_eval'] >= 475 for r in rows)}/{len(rows)}",
        f"- seeds with a streak: {sum(r['litrl']['streak_env_steps'] is not None for r in rows)}"
        f"/{len(rows)}; median to the streak {fmt(statistics.median(streaks), 0)} env steps, "
        f"{fmt(statistics.median(seconds))} s",
    ]
    return "\n".join(lines)


def _held_after_streak(result: dict) -> str:
    if result["streak_env_steps"] is None:
        return "—"
    after = [v for step, _, v in result["evals"] if step >= result["streak_env_steps"]]
    return f"{sum(v >= 475 for v in after)}/{len(after)}"


def _pair(result: dict, criterion: str) -> str:
    steps, seconds = result.get(f"{criterion}_env_steps"), result.get(f"{criterion}_seconds")
    if steps is None:
        return "—"
    return f"{steps} / {seconds:.1f}" if seconds is not None else str(steps)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--override", nargs="*", default=[], help="litrl config overrides")
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="litrl alone on the held-out seeds 100-109 (unless --seeds is given)",
    )
    parser.add_argument(
        "--out", type=Path, help="default: outputs/bench/reinforce_cartpole[_held_out].json"
    )
    parser.add_argument("--worker", choices=["litrl", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.worker:
        result = (
            litrl_worker(args.seed, args.override)
            if args.worker == "litrl"
            else reference_worker(args.seed)
        )
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return
    seeds = args.seeds or (HELD_OUT_SEEDS if args.held_out else [0, 1, 2, 3, 4])
    rows = []
    for seed in seeds:
        row = {
            "seed": seed,
            "litrl": spawn(
                ["--worker", "litrl", "--seed", str(seed), "--override", *args.override]
            ),
        }
        if not args.held_out:
            row["reference"] = spawn(["--worker", "reference", "--seed", str(seed)])
        print(
            json.dumps(
                {
                    k: v if k == "seed" else {m: x for m, x in v.items() if m != "evals"}
                    for k, v in row.items()
                }
            ),
            flush=True,
        )
        rows.append(row)
    command = " ".join(["python -m benchmarks.bench_reinforce_cartpole", *sys.argv[1:]])
    out = args.out or Path(
        "outputs/bench/reinforce_cartpole" + ("_held_out" if args.held_out else "") + ".json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "command": command}, indent=1))
    text = held_out_report(rows, command) if args.held_out else report(rows, command)
    out.with_suffix(".md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""DQN on CartPole: litrl vs Stable-Baselines3 (RL-Zoo hyperparameters), and litrl vs plain PyTorch.

    python -m benchmarks.bench_dqn_cartpole [--seeds 0 1 2 3 4] [--override algo.lr=1e-3 ...]

Every run is a fresh subprocess (its own peak RSS), run one after another so timings do not
share the two cores. Both libraries are evaluated the same way: 10 greedy episodes on 10 envs
every 2048 env steps; "solved" is the first evaluation with a mean >= 475.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

SOLVED = 475.0
EVAL_EVERY = 2048
EVAL_EPISODES = 10
ZOO_CARTPOLE = dict(  # rl-baselines3-zoo hyperparams/dqn.yml, CartPole-v1
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1000,
    gamma=0.99,
    target_update_interval=10,
    train_freq=256,
    gradient_steps=128,
    exploration_fraction=0.16,
    exploration_final_eps=0.04,
    policy_kwargs=dict(net_arch=[256, 256]),
)
ZOO_TIMESTEPS = 50_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def litrl_worker(seed: int, overrides: list[str]) -> dict:
    from litrl.algos import DQN
    from litrl.config import compose_config
    from litrl.data.collector import evaluate
    from litrl.envs import EnvFactory
    from litrl.events import read_scalars
    from litrl.train import run

    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-litrl-{seed}-"))
    cfg = compose_config(
        [
            f"seed={seed}",
            f"run_dir={run_dir}",
            "progress_bar_refresh_steps=1000",
            "video.every_n_evals=0",
            *overrides,
        ]
    )
    started = time.time()
    final = run(cfg)
    seconds = time.time() - started
    evals = read_scalars(run_dir)["eval/return_mean"]
    steps_per_sec = read_scalars(run_dir)["perf/env_steps_per_sec"]
    best = DQN.load_from_checkpoint(run_dir / "checkpoints" / "best.ckpt", map_location="cpu")
    env = EnvFactory("CartPole-v1")
    best_eval = evaluate(
        best, env.make_vector(EVAL_EPISODES), EVAL_EPISODES, seed + 20_000, torch.device("cpu")
    )
    return summarize(
        evals=[(e.step, e.wall_time - started, e.value) for e in evals],
        final=final,
        seconds=seconds,
        env_steps_per_sec=statistics.median(s.value for s in steps_per_sec),
        best_checkpoint_eval=best_eval.returns.mean().item(),
    )


def sb3_worker(seed: int) -> dict:
    import gymnasium as gym  # noqa: F401  (registers CartPole for make_vec_env)
    from stable_baselines3 import DQN as SB3DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    evals: list[tuple[int, float, float]] = []
    started = time.time()

    class EvalEvery(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % EVAL_EVERY == 0:
                eval_env = make_vec_env(
                    "CartPole-v1", n_envs=EVAL_EPISODES, seed=seed + 10_000 + len(evals)
                )
                mean, _ = evaluate_policy(
                    self.model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True
                )
                evals.append((self.num_timesteps, time.time() - started, float(mean)))
            return True

    model = SB3DQN("MlpPolicy", "CartPole-v1", seed=seed, device="cpu", **ZOO_CARTPOLE)
    model.learn(ZOO_TIMESTEPS, callback=EvalEvery())
    seconds = time.time() - started
    return summarize(
        evals=evals, final=evals[-1][2], seconds=seconds, env_steps_per_sec=ZOO_TIMESTEPS / seconds
    )


def tax_worker(kind: str, seed: int, overrides: list[str]) -> dict:
    """Wall seconds of one training budget with a single evaluation at the end."""
    from litrl.config import compose_config

    budget = ["total_env_steps=20480", "eval.every_env_steps=20480", "logger=none"]
    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-tax-{kind}-"))
    cfg = compose_config(
        [
            f"seed={seed}",
            f"run_dir={run_dir}",
            "progress_bar_refresh_steps=1000",
            *budget,
            *overrides,
        ]
    )
    from benchmarks.plain_dqn import train_plain
    from litrl.train import run

    started = time.perf_counter()  # imports done: time the training alone
    if kind == "litrl":
        run(cfg)
    else:
        train_plain(cfg)
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def summarize(
    evals: list[tuple[int, float, float]],
    final: float,
    seconds: float,
    env_steps_per_sec: float,
    **extra: float,
) -> dict:
    solved = next((e for e in evals if e[2] >= SOLVED), None)
    # A lucky greedy evaluation is common early on, so also report the first evaluation that
    # starts a streak of three >= SOLVED (the criterion the REINFORCE benchmark uses).
    streak = next(
        (evals[i] for i in range(len(evals) - 2) if min(e[2] for e in evals[i : i + 3]) >= SOLVED),
        None,
    )
    return {
        "solved_env_steps": solved[0] if solved else None,
        "solved_seconds": solved[1] if solved else None,
        "streak_env_steps": streak[0] if streak else None,
        "streak_seconds": streak[1] if streak else None,
        "best_eval": max(e[2] for e in evals),
        "final_eval": final,
        "seconds": seconds,
        "env_steps_per_sec": env_steps_per_sec,
        "peak_rss_mb": peak_rss_mb(),
        "evals": evals,
        **extra,
    }


def spawn(args: list[str], module: str = "benchmarks.bench_dqn_cartpole") -> dict:
    """Runs ``python -m module *args`` (a benchmark worker) and returns its last JSON line."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"worker {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--override", nargs="*", default=[], help="litrl config overrides")
    parser.add_argument("--skip-sb3", action="store_true")
    parser.add_argument("--skip-tax", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/dqn_cartpole.json"))
    parser.add_argument(
        "--worker", choices=["litrl", "sb3", "tax-litrl", "tax-plain"], help=argparse.SUPPRESS
    )
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--from-json", type=Path, help="only rewrite the report of an earlier run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        print(report(saved["rows"], saved["tax"], saved.get("command", "")))
        return
    if args.worker:
        if args.worker == "litrl":
            result = litrl_worker(args.seed, args.override)
        elif args.worker == "sb3":
            result = sb3_worker(args.seed)
        else:
            result = tax_worker(args.worker.removeprefix("tax-"), args.seed, args.override)
        print(json.dumps(result))
        return

    rows = []
    for seed in args.seeds:
        row = {
            "seed": seed,
            "litrl": spawn(
                ["--worker", "litrl", "--seed", str(seed), "--override", *args.override]
            ),
        }
        if not args.skip_sb3:
            row["sb3"] = spawn(["--worker", "sb3", "--seed", str(seed)])
        print(
            json.dumps(
                {
                    k: (v if k == "seed" else {m: x for m, x in v.items() if m != "evals"})
                    for k, v in row.items()
                }
            ),
            flush=True,
        )
        rows.append(row)
    tax = []
    if not args.skip_tax:
        for seed in args.seeds[:3]:
            litrl_s = spawn(
                ["--worker", "tax-litrl", "--seed", str(seed), "--override", *args.override]
            )["seconds"]
            plain_s = spawn(
                ["--worker", "tax-plain", "--seed", str(seed), "--override", *args.override]
            )["seconds"]
            tax.append(
                {
                    "seed": seed,
                    "litrl_seconds": litrl_s,
                    "plain_seconds": plain_s,
                    "ratio": litrl_s / plain_s,
                }
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python -m benchmarks.bench_dqn_cartpole", *sys.argv[1:]])
    args.out.write_text(json.dumps({"rows": rows, "tax": tax, "command": command}, indent=1))
    text = report(rows, tax, command)
    args.out.with_suffix(".md").write_text(text + "\n")
    print(text)


def report(rows: list[dict], tax: list[dict], command: str) -> str:
    """The benchmark's markdown: per-seed table, medians under both criteria, framework tax."""
    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"python {platform.python_version()}, torch {torch.__version__}, 1 torch thread",
        f"command: {command}",
        "",
        "| seed | litrl first ≥475: steps / s | litrl streak: steps / s | litrl best / final | litrl best ckpt "
        "| litrl env steps/s | litrl peak RSS MB | SB3 first ≥475: steps / s | SB3 streak: steps / s "
        "| SB3 best / final | s ratio first | s ratio streak |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lit, sb3 = row["litrl"], row.get("sb3", {})
        lines.append(
            f"| {row['seed']} | {_solve(lit, 'solved')} | {_solve(lit, 'streak')} | "
            f"{fmt(lit['best_eval'])} / {fmt(lit['final_eval'])} | {fmt(lit['best_checkpoint_eval'])} | "
            f"{fmt(lit['env_steps_per_sec'], 0)} | {fmt(lit['peak_rss_mb'], 0)} | "
            f"{_solve(sb3, 'solved')} | {_solve(sb3, 'streak')} | "
            f"{fmt(sb3.get('best_eval'))} / {fmt(sb3.get('final_eval'))} | "
            f"{fmt(_ratio(lit, sb3, 'solved'), 2)} | {fmt(_ratio(lit, sb3, 'streak'), 2)} |"
        )
    lines.append("")
    for criterion, name in (
        ("solved", "first eval ≥ 475"),
        ("streak", "three evals in a row ≥ 475"),
    ):
        lit_median = _median_seconds([r["litrl"] for r in rows], criterion)
        sb3_median = _median_seconds([r.get("sb3", {}) for r in rows], criterion)
        per_seed = [
            x for r in rows if (x := _ratio(r["litrl"], r.get("sb3", {}), criterion)) is not None
        ]
        lines.append(
            f"- {name}: litrl {_count(rows, 'litrl', criterion)}/{len(rows)} seeds, median {fmt(lit_median)} s; "
            f"SB3 {_count(rows, 'sb3', criterion)}/{len(rows)}, median {fmt(sb3_median)} s; "
            f"ratio of medians {fmt(lit_median / sb3_median if lit_median and sb3_median else None, 2)}, "
            f"median per-seed ratio {fmt(statistics.median(per_seed) if per_seed else None, 2)}"
        )
    if tax:
        lines += ["", "| seed | litrl s | plain PyTorch s | ratio |", "|---|---|---|---|"]
        lines += [
            f"| {t['seed']} | {t['litrl_seconds']:.2f} | {t['plain_seconds']:.2f} | {t['ratio']:.3f} |"
            for t in tax
        ]
        lines.append(
            f"\nframework tax (median litrl / plain): {statistics.median(t['ratio'] for t in tax):.3f}"
        )
    return "\n".join(lines)


def _solve(result: dict, criterion: str) -> str:
    steps = result.get(f"{criterion}_env_steps")
    return "—" if steps is None else f"{steps} / {result[f'{criterion}_seconds']:.1f}"


def _ratio(litrl: dict, sb3: dict, criterion: str) -> float | None:
    lit, ref = litrl.get(f"{criterion}_seconds"), sb3.get(f"{criterion}_seconds")
    return lit / ref if lit and ref else None


def _count(rows: list[dict], who: str, criterion: str) -> int:
    return sum(r.get(who, {}).get(f"{criterion}_seconds") is not None for r in rows)


def _median_seconds(results: list[dict], criterion: str) -> float | None:
    """Median over seeds; a seed that never met the criterion counts as slower than all others."""
    if not results or not all(results):
        return None
    seconds = [r.get(f"{criterion}_seconds") or math.inf for r in results]
    median = statistics.median(seconds)
    return None if math.isinf(median) else median


if __name__ == "__main__":
    main()

"""TD3 and SAC: litrl vs Stable-Baselines3 with the RL Zoo's hyperparameters.

(About 420 lines: the Zoo's settings for four cases with their sources, both workers, the report.)

    python -m benchmarks.bench_continuous [--seeds 0 1 2 3 4] [--cases td3_pendulum sac_pendulum]
        [--libs litrl sb3] [--env-steps N] [--warmup-env-steps N] [--override KEY=VALUE ...]

Cases: TD3 and SAC on Pendulum-v1 (experiment=td3_pendulum, sac_pendulum; the default cases),
and on LunarLanderContinuous-v3 (experiment=td3_lunarlander_continuous,
sac_lunarlander_continuous; hours per run on one core, so only when asked for).

Every run is a fresh subprocess with one torch thread, run one after another (the libraries
alternate within a seed) so timings do not share the cores. Both libraries train on one env
with the Zoo's warm-up (``learning_starts``: uniformly random actions) and are evaluated the same
way: 10 greedy (deterministic) episodes on 10 envs, reset with seeds ``seed + 10_000 + i``, after
every ``eval_every`` env steps that follow the warm-up (litrl evaluates only after it), each
evaluation's wall time counted from the start of training to the end of that evaluation. SB3
evaluates at the start of the rollout that follows the interval, so, like litrl, after training
on the interval's data, and once more at the end. Both train for the warm-up plus the rest of the
budget rounded up to whole eval intervals (litrl's rounding), so both are evaluated at the same
env steps.

"first" is the first evaluation >= the threshold (Pendulum -200, LunarLanderContinuous 200);
"streak" is the first evaluation that starts three in a row >= the threshold. env steps/s is the
run's env steps over its wall seconds, evaluations included.

``--env-steps`` and ``--warmup-env-steps`` shrink a run for a smoke test of the plumbing (for
example ``--env-steps 3000 --warmup-env-steps 1000``); both libraries get the same values.
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
from typing import Any

import torch

from benchmarks.bench_actor_critic import (
    EVAL_EPISODES,
    _median,
    _pair,
    linear,
    machine_line,
    summarize,
)
from benchmarks.bench_dqn_cartpole import fmt
from benchmarks.bench_dqn_cartpole import spawn as run_worker

LIBS = ("litrl", "sb3")
SB3_LEARNING_STARTS = 100  # SB3's default for TD3 and SAC, which the Zoo keeps unless it says

# rl-baselines3-zoo hyperparams/td3.yml, Pendulum-v1 (listed as Pendulum-v0 before gym's v1; the
# published sb3/td3-Pendulum-v1 agent was trained with these). The rest are SB3's TD3 defaults:
# batch 256, tau 0.005, policy_delay 2, target_policy_noise 0.2, target_noise_clip 0.5. SB3 adds
# the Gaussian noise to the action in its [-1, 1] units (OffPolicyAlgorithm._sample_action), so
# noise_std 0.1 is litrl's exploration_noise 0.1 (litrl's noise unit is half the action range).
ZOO_TD3_PENDULUM: dict[str, Any] = dict(
    n_timesteps=20_000,
    gamma=0.98,
    buffer_size=200_000,
    learning_starts=10_000,
    noise_type="normal",
    noise_std=0.1,
    gradient_steps=-1,
    train_freq=(1, "episode"),
    learning_rate=1e-3,
    policy_kwargs=dict(net_arch=[400, 300]),
)
# rl-baselines3-zoo hyperparams/td3.yml, LunarLanderContinuous-v2 (run here on v3)
ZOO_TD3_LUNARLANDER_CONTINUOUS: dict[str, Any] = {**ZOO_TD3_PENDULUM, "n_timesteps": 300_000}
# rl-baselines3-zoo hyperparams/sac.yml, Pendulum-v1: SB3's SAC defaults otherwise (buffer 1M,
# learning_starts 100, batch 256, tau 0.005, gamma 0.99, train_freq 1, gradient_steps 1,
# ent_coef "auto" from 1.0, target_entropy -|A|, net_arch [256, 256])
ZOO_SAC_PENDULUM: dict[str, Any] = dict(
    n_timesteps=20_000,
    learning_rate=1e-3,
)
# rl-baselines3-zoo hyperparams/sac.yml, LunarLanderContinuous-v2 (run here on v3; lin_7.3e-4:
# linear to 0, which litrl's preset keeps constant)
ZOO_SAC_LUNARLANDER_CONTINUOUS: dict[str, Any] = dict(
    n_timesteps=500_000,
    batch_size=256,
    learning_rate="lin_7.3e-4",
    buffer_size=1_000_000,
    ent_coef="auto",
    gamma=0.99,
    tau=0.01,
    train_freq=1,
    gradient_steps=1,
    learning_starts=10_000,
    policy_kwargs=dict(net_arch=[400, 300]),
)

CASES: dict[str, dict] = {
    "td3_pendulum": dict(
        env_id="Pendulum-v1",
        preset="td3_pendulum",
        sb3_algo="TD3",
        zoo=ZOO_TD3_PENDULUM,
        eval_every=1_000,
        threshold=-200.0,
    ),
    "sac_pendulum": dict(
        env_id="Pendulum-v1",
        preset="sac_pendulum",
        sb3_algo="SAC",
        zoo=ZOO_SAC_PENDULUM,
        eval_every=1_000,
        threshold=-200.0,
    ),
    "td3_lunarlander_continuous": dict(
        env_id="LunarLanderContinuous-v3",
        preset="td3_lunarlander_continuous",
        sb3_algo="TD3",
        zoo=ZOO_TD3_LUNARLANDER_CONTINUOUS,
        eval_every=10_000,
        threshold=200.0,
    ),
    "sac_lunarlander_continuous": dict(
        env_id="LunarLanderContinuous-v3",
        preset="sac_lunarlander_continuous",
        sb3_algo="SAC",
        zoo=ZOO_SAC_LUNARLANDER_CONTINUOUS,
        eval_every=10_000,
        threshold=200.0,
    ),
}
DEFAULT_CASES = ("td3_pendulum", "sac_pendulum")
# The issue's target: litrl's median seconds to the first eval >= the threshold, over SB3's.
TARGET_RATIO = 0.5


def schedule(case: dict, env_steps: int | None, warmup: int | None) -> tuple[int, int, int]:
    """(budget, warm-up, final env step): the warm-up, then whole eval intervals to the budget."""
    budget = env_steps or case["zoo"]["n_timesteps"]
    if warmup is None:
        warmup = case["zoo"].get("learning_starts", SB3_LEARNING_STARTS)
    evaluations = math.ceil(max(budget - warmup, 1) / case["eval_every"])
    return budget, warmup, warmup + evaluations * case["eval_every"]


def sb3_kwargs(zoo: dict, n_actions: int, warmup: int) -> dict:
    """The Zoo's yml entry as SB3 constructor arguments (as the Zoo's ExperimentManager builds
    them: lin_<x> schedules, NormalActionNoise(0, noise_std) per action dimension)."""
    import numpy as np
    from stable_baselines3.common.noise import NormalActionNoise

    kwargs = {k: v for k, v in zoo.items() if k not in ("n_timesteps", "noise_type", "noise_std")}
    kwargs["learning_starts"] = warmup
    for key, value in kwargs.items():
        if isinstance(value, str) and value.startswith("lin_"):
            kwargs[key] = linear(float(value.removeprefix("lin_")))
    if "noise_type" in zoo:
        assert zoo["noise_type"] == "normal", zoo["noise_type"]
        kwargs["action_noise"] = NormalActionNoise(
            mean=np.zeros(n_actions), sigma=zoo["noise_std"] * np.ones(n_actions)
        )
    return kwargs


def litrl_worker(
    case_name: str, seed: int, env_steps: int | None, warmup: int | None, overrides: list[str]
) -> dict:
    from litrl.config import compose_config
    from litrl.events import read_scalars
    from litrl.train import run

    case = CASES[case_name]
    budget, warmup_steps, final_env_steps = schedule(case, env_steps, warmup)
    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-{case_name}-{seed}-"))
    cfg = compose_config(
        [
            f"seed={seed}",
            f"run_dir={run_dir}",
            "accelerator=cpu",  # SB3 runs on device="cpu"
            "progress_bar_refresh_steps=1000",
            "video.every_n_evals=0",
            f"experiment={case['preset']}",
            f"total_env_steps={budget}",
            f"eval.every_env_steps={case['eval_every']}",
            f"eval.episodes={EVAL_EPISODES}",
            f"eval.num_envs={EVAL_EPISODES}",
            *([f"algo.data.warmup_env_steps={warmup}"] if warmup is not None else []),
            *overrides,
        ]
    )
    if cfg.algo.data.warmup_env_steps != warmup_steps or cfg.algo.data.num_envs != 1:
        raise SystemExit(
            f"experiment={case['preset']} has warmup_env_steps={cfg.algo.data.warmup_env_steps} "
            f"and num_envs={cfg.algo.data.num_envs}; SB3 runs the Zoo's learning_starts="
            f"{warmup_steps} on one env"
        )
    started = time.time()
    final = run(cfg)
    seconds = time.time() - started
    scalars = read_scalars(run_dir)
    evals = [(e.step, e.wall_time - started, e.value) for e in scalars["eval/return_mean"]]
    if evals[-1][0] != final_env_steps:
        raise SystemExit(f"litrl ended at {evals[-1][0]} env steps, SB3 at {final_env_steps}")
    own = scalars.get("perf/env_steps_per_sec", [])
    return summarize(
        evals,
        case["threshold"],
        final=final,
        seconds=seconds,
        env_steps=evals[-1][0],
        litrl_logged_env_steps_per_sec=statistics.median(s.value for s in own) if own else None,
        run_dir=str(run_dir),
    )


def sb3_worker(case_name: str, seed: int, env_steps: int | None, warmup: int | None) -> dict:
    import gymnasium as gym  # noqa: F401  (registers the envs for make_vec_env)
    import stable_baselines3

    # torch imports its compiler stack lazily, at the first optimizer (~1 s); litrl's imports
    # (Lightning) load it before litrl's clock starts, so load it before SB3's clock too.
    import torch._dynamo  # noqa: F401
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    case = CASES[case_name]
    _, warmup_steps, final_env_steps = schedule(case, env_steps, warmup)
    every = case["eval_every"]
    evals: list[tuple[int, float, float]] = []
    eval_env = make_vec_env(case["env_id"], n_envs=EVAL_EPISODES, seed=seed + 10_000)

    class EvalEvery(BaseCallback):
        """Evaluates once the model has trained on each further ``every`` env steps after the
        warm-up (litrl's evaluation points)."""

        def _evaluate(self) -> None:
            eval_env.seed(seed + 10_000 + len(evals))  # applied at evaluate_policy's reset
            mean, _ = evaluate_policy(
                self.model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True
            )
            evals.append((self.num_timesteps, time.time() - started, float(mean)))

        def _due(self) -> bool:
            return self.num_timesteps >= warmup_steps + every * (len(evals) + 1)

        def _on_rollout_start(self) -> None:  # the previous rollout's training is done
            if self._due():
                self._evaluate()

        def _on_training_end(self) -> None:
            if self._due():
                self._evaluate()

        def _on_step(self) -> bool:
            return True

    started = time.time()
    env = make_vec_env(case["env_id"], n_envs=1, seed=seed)
    n_actions = env.action_space.shape[0]  # type: ignore[index]
    algo = getattr(stable_baselines3, case["sb3_algo"])
    model = algo(
        "MlpPolicy",
        env,
        seed=seed,
        device="cpu",
        **sb3_kwargs(case["zoo"], n_actions, warmup_steps),
    )
    model.learn(final_env_steps, callback=EvalEvery())
    seconds = time.time() - started
    return summarize(
        evals, case["threshold"], final=evals[-1][2], seconds=seconds, env_steps=model.num_timesteps
    )


def spawn(args: list[str]) -> dict:
    return run_worker(args, module="benchmarks.bench_continuous")


def report(results: dict, command: str, machine: str) -> str:
    lines = [machine, f"command: {command}"]
    for case_name, runs in results.items():
        case = CASES[case_name]
        t = case["threshold"]
        lines += [
            "",
            f"### {case_name}: {case['env_id']}, litrl experiment={case['preset']} vs SB3 "
            f"{case['sb3_algo']} (Zoo), eval every {case['eval_every']} env steps after the "
            f"warm-up, threshold {t:g}",
            "",
            f"| seed | lib | first ≥{t:g}: steps / s | streak: steps / s | final | best "
            "| env steps | wall s | env steps/s | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for run in runs:
            r = run["result"]
            if "error" in r:
                lines.append(f"| {run['seed']} | {run['lib']} | crashed | | | | | | | |")
                continue
            lines.append(
                f"| {run['seed']} | {run['lib']} | {_pair(r, 'first')} | {_pair(r, 'streak')} "
                f"| {fmt(r['final_eval'])} | {fmt(r['best_eval'])} | {r['env_steps']} "
                f"| {fmt(r['seconds'])} | {fmt(r['env_steps_per_sec'], 0)} "
                f"| {fmt(r['peak_rss_mb'], 0)} |"
            )
        lines.append("")
        lines += _summary(runs, t)
    return "\n".join(lines)


def _summary(runs: list[dict], threshold: float) -> list[str]:
    """Per library: seeds that reach and end >= the threshold, medians; then litrl / SB3."""
    lines, first_seconds = [], {}
    for lib in LIBS:
        done = [r["result"] for r in runs if r["lib"] == lib and "error" not in r["result"]]
        crashed = sum(r["lib"] == lib and "error" in r["result"] for r in runs)
        if not done and not crashed:
            continue
        first_seconds[lib] = _median([r["first_seconds"] for r in done]) if done else None
        reached = sum(r["first_seconds"] is not None for r in done)
        ended = sum(r["final_eval"] >= threshold for r in done)
        lines.append(
            f"- {lib}: reach ≥{threshold:g} {reached}/{len(done)}, "
            f"end ≥{threshold:g} {ended}/{len(done)}, "
            f"streak {sum(r['streak_seconds'] is not None for r in done)}/{len(done)}; "
            f"median to first: {fmt(_median([r['first_env_steps'] for r in done]), 0)} env steps, "
            f"{fmt(first_seconds[lib])} s; "
            f"median s to streak {fmt(_median([r['streak_seconds'] for r in done]))}; "
            f"median final {fmt(_median([r['final_eval'] for r in done]))}; "
            f"median env steps/s {fmt(_median([r['env_steps_per_sec'] for r in done]), 0)}"
            + (f"; {crashed} crashed" if crashed else "")
            + (
                f" (every seed reaches and ends ≥{threshold:g}: "
                f"{'yes' if reached == ended == len(done) and not crashed else 'no'})"
                if lib == "litrl"
                else ""
            )
        )
    lit, ref = first_seconds.get("litrl"), first_seconds.get("sb3")
    if "litrl" in first_seconds and "sb3" in first_seconds:
        ratio = lit / ref if lit and ref else None
        verdict = "—" if ratio is None else ("met" if ratio <= TARGET_RATIO else "not met")
        lines.append(
            f"- median s to first litrl / SB3: {fmt(ratio, 2)} "
            f"(target ≤ {TARGET_RATIO:g}: {verdict})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(DEFAULT_CASES))
    parser.add_argument("--libs", nargs="+", choices=LIBS, default=list(LIBS))
    parser.add_argument("--override", nargs="*", default=[], help="litrl config overrides")
    parser.add_argument(
        "--env-steps", type=int, help="budget for both libraries (default: the Zoo's n_timesteps)"
    )
    parser.add_argument(
        "--warmup-env-steps",
        type=int,
        help="random-action warm-up for both (default: the Zoo's learning_starts)",
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/continuous.json"))
    parser.add_argument("--from-json", type=Path, help="only rewrite the report of an earlier run")
    parser.add_argument("--worker", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        print(report(saved["results"], saved["command"], saved["machine"]))
        return
    if args.worker:
        if args.worker == "litrl":
            result = litrl_worker(
                args.case, args.seed, args.env_steps, args.warmup_env_steps, args.override
            )
        else:
            result = sb3_worker(args.case, args.seed, args.env_steps, args.warmup_env_steps)
        print(json.dumps(result))
        return

    command = " ".join(["python -m benchmarks.bench_continuous", *sys.argv[1:]])
    machine = machine_line()
    results: dict[str, list[dict]] = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for case_name in args.cases:
        runs = results.setdefault(case_name, [])
        for seed in args.seeds:
            for lib in args.libs:
                worker = ["--worker", lib, "--case", case_name, "--seed", str(seed)]
                if args.env_steps is not None:
                    worker += ["--env-steps", str(args.env_steps)]
                if args.warmup_env_steps is not None:
                    worker += ["--warmup-env-steps", str(args.warmup_env_steps)]
                if lib == "litrl":
                    worker += ["--override", *args.override]
                try:
                    result = spawn(worker)
                except RuntimeError as error:  # keep going: report the crash
                    result = {"error": str(error)}
                runs.append({"seed": seed, "lib": lib, "result": result})
                brief = {k: v for k, v in result.items() if k != "evals"}
                print(
                    json.dumps({"case": case_name, "seed": seed, "lib": lib, **brief}),
                    file=sys.stderr,
                    flush=True,
                )
                # Written after every run, so a long benchmark can be followed and cut short.
                args.out.write_text(
                    json.dumps(
                        {"results": results, "command": command, "machine": machine}, indent=1
                    )
                )
    print(report(results, command, machine))


if __name__ == "__main__":
    main()

"""PPO and A2C: litrl vs Stable-Baselines3 with the RL Zoo's hyperparameters.

    python -m benchmarks.bench_actor_critic [--seeds 0 1 2 3 4]
        [--cases ppo_cartpole ppo_pendulum a2c_cartpole] [--libs litrl sb3 sb3_zoo_eval]

Cases: PPO on CartPole-v1 (experiment=ppo_cartpole), PPO on Pendulum-v1 (experiment=ppo_pendulum)
and A2C on CartPole-v1 (experiment=a2c_cartpole, 100k steps rather than the Zoo's 500k).

Every run is a fresh subprocess with one torch thread, run one after another so timings do not
share the cores. Both libraries are evaluated the same way: 10 greedy (deterministic) episodes on
10 envs after every fixed number of env steps, each evaluation's wall time counted from the start
of training to the end of that evaluation. SB3 evaluates at the start of the rollout that follows
the interval (so, like litrl, after training on the interval's data) and once more at the end.
Both train for the case's budget rounded up to a whole eval interval (litrl's rounding), so both
are evaluated at the same env steps and their linear schedules span the same steps.

"first" is the first evaluation >= the threshold (CartPole 475, Pendulum -200); "streak" is the
first evaluation that starts three in a row >= the threshold.

Library "sb3_zoo_eval" is SB3 as the RL Zoo's train.py runs it: the same training, evaluated by
SB3's own ``EvalCallback`` on one eval env (the Zoo's default ``--n-eval-envs 1``), 10 greedy
episodes every interval, so its seconds include SB3's single-env evaluation as a user of the
Zoo pays it. ``EvalCallback`` evaluates at the env step that completes the interval, before
training on the rollout that holds it.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.bench_dqn_cartpole import fmt, peak_rss_mb
from benchmarks.bench_dqn_cartpole import spawn as run_worker

EVAL_EPISODES = 10
LIBS = ("litrl", "sb3", "sb3_zoo_eval")
DEFAULT_LIBS = ("litrl", "sb3")  # a case's own `default_libs` replaces these

# rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1 (lin_1e-3 / lin_0.2: linear to 0)
ZOO_PPO_CARTPOLE = dict(
    n_envs=8,
    n_steps=32,
    batch_size=256,
    gae_lambda=0.8,
    gamma=0.98,
    n_epochs=20,
    ent_coef=0.0,
    learning_rate="lin_1e-3",
    clip_range="lin_0.2",
)
# rl-baselines3-zoo hyperparams/ppo.yml, Pendulum-v1
ZOO_PPO_PENDULUM = dict(
    n_envs=4,
    n_steps=1024,
    gae_lambda=0.95,
    gamma=0.9,
    n_epochs=10,
    ent_coef=0.0,
    learning_rate=1e-3,
    clip_range=0.2,
    use_sde=True,
    sde_sample_freq=4,
)
# rl-baselines3-zoo hyperparams/a2c.yml, CartPole-v1 (SB3's A2C defaults otherwise: n_steps 5,
# RMSprop 7e-4; the Zoo's budget is 500k env steps, here 100k)
ZOO_A2C_CARTPOLE = dict(
    n_envs=8,
    ent_coef=0.0,
)

# rl-baselines3-zoo hyperparams/ppo.yml, LunarLander-v2 (run here on LunarLander-v3)
ZOO_PPO_LUNARLANDER = dict(
    n_envs=16,
    n_steps=1024,
    batch_size=64,
    gae_lambda=0.98,
    gamma=0.999,
    n_epochs=4,
    ent_coef=0.01,
)
# rl-baselines3-zoo hyperparams/ppo.yml, Acrobot-v1 (normalize: true -> VecNormalize)
ZOO_PPO_ACROBOT = dict(
    n_envs=16,
    n_steps=256,
    gae_lambda=0.94,
    gamma=0.99,
    n_epochs=4,
    ent_coef=0.0,
    normalize=True,
)

CASES: dict[str, dict] = {
    "ppo_cartpole": dict(
        env_id="CartPole-v1",
        preset="ppo_cartpole",
        sb3_algo="PPO",
        zoo=ZOO_PPO_CARTPOLE,
        budget=100_000,
        eval_every=2_048,
        threshold=475.0,
        # the time target was set against SB3 with its own single-env evaluation
        default_libs=LIBS,
    ),
    "ppo_pendulum": dict(
        env_id="Pendulum-v1",
        preset="ppo_pendulum",
        sb3_algo="PPO",
        zoo=ZOO_PPO_PENDULUM,
        budget=100_000,
        eval_every=4_096,
        threshold=-200.0,
    ),
    "ppo_lunarlander": dict(
        env_id="LunarLander-v3",
        preset="ppo_lunarlander",
        sb3_algo="PPO",
        zoo=ZOO_PPO_LUNARLANDER,
        budget=1_000_000,
        eval_every=16_384,
        threshold=200.0,
    ),
    "ppo_acrobot": dict(
        env_id="Acrobot-v1",
        preset="ppo_acrobot",
        sb3_algo="PPO",
        zoo=ZOO_PPO_ACROBOT,
        budget=1_000_000,
        eval_every=16_384,
        threshold=-100.0,
    ),
    "a2c_cartpole": dict(
        env_id="CartPole-v1",
        preset="a2c_cartpole",
        sb3_algo="A2C",
        zoo=ZOO_A2C_CARTPOLE,
        budget=100_000,
        eval_every=2_000,
        threshold=475.0,
    ),
}


def budget_of(case: dict, smoke: bool) -> int:
    """The case's env-step budget rounded up to a whole eval interval (as litrl rounds it)."""
    budget = 2 * case["eval_every"] if smoke else case["budget"]
    return math.ceil(budget / case["eval_every"]) * case["eval_every"]


def linear(initial: float):
    """The Zoo's ``lin_<x>``: ``x`` annealed linearly to 0 over the run."""

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * initial

    return schedule


def sb3_kwargs(zoo: dict) -> dict:
    kwargs = {k: v for k, v in zoo.items() if k not in ("n_envs", "normalize")}
    for key, value in kwargs.items():
        if isinstance(value, str) and value.startswith("lin_"):
            kwargs[key] = linear(float(value.removeprefix("lin_")))
    return kwargs


def litrl_worker(case_name: str, seed: int, smoke: bool, overrides: list[str]) -> dict:
    from litrl.config import compose_config
    from litrl.events import read_scalars
    from litrl.train import run

    case = CASES[case_name]
    budget = budget_of(case, smoke)
    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-{case_name}-{seed}-"))
    cfg = compose_config(
        [
            f"seed={seed}",
            f"run_dir={run_dir}",
            "progress_bar_refresh_steps=1000",
            "video.every_n_evals=0",
            f"experiment={case['preset']}",
            f"total_env_steps={budget}",
            f"eval.every_env_steps={case['eval_every']}",
            f"eval.episodes={EVAL_EPISODES}",
            f"eval.num_envs={EVAL_EPISODES}",
            *overrides,
        ]
    )
    started = time.time()
    final = run(cfg)
    seconds = time.time() - started
    scalars = read_scalars(run_dir)
    evals = [(e.step, e.wall_time - started, e.value) for e in scalars["eval/return_mean"]]
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


def sb3_worker(case_name: str, seed: int, smoke: bool, zoo_eval: bool = False) -> dict:
    import gymnasium as gym  # noqa: F401  (registers the envs for make_vec_env)
    import stable_baselines3

    # torch imports its compiler stack lazily, at the first optimizer (~1 s); litrl's imports
    # (Lightning) load it before litrl's clock starts, so load it before SB3's clock too.
    import torch._dynamo  # noqa: F401
    from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecNormalize

    case = CASES[case_name]
    budget = budget_of(case, smoke)
    every = case["eval_every"]
    evals: list[tuple[int, float, float]] = []
    eval_env = make_vec_env(case["env_id"], n_envs=EVAL_EPISODES, seed=seed + 10_000)
    normalize = case["zoo"].get("normalize", False)
    if normalize:  # the Zoo's `normalize: true`: observations and rewards, as litrl's preset
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False)

    class EvalEvery(BaseCallback):
        """Evaluates once the model has trained on each further ``every`` env steps."""

        def _evaluate(self) -> None:
            if isinstance(eval_env, VecNormalize):  # the training statistics, frozen
                eval_env.obs_rms = copy.deepcopy(env.obs_rms)
            eval_env.seed(seed + 10_000 + len(evals))  # applied at evaluate_policy's reset
            mean, _ = evaluate_policy(
                self.model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True
            )
            evals.append((self.num_timesteps, time.time() - started, float(mean)))

        def _due(self) -> bool:
            return self.num_timesteps >= every * (len(evals) + 1)

        def _on_rollout_start(self) -> None:  # the previous rollout's training is done
            if self._due():
                self._evaluate()

        def _on_training_end(self) -> None:
            if self._due():
                self._evaluate()

        def _on_step(self) -> bool:
            return True

    class ZooEval(EvalCallback):
        """SB3's EvalCallback as the Zoo configures it; records when each evaluation ended."""

        def _on_step(self) -> bool:
            due = self.eval_freq > 0 and self.n_calls % self.eval_freq == 0
            keep_going = super()._on_step()
            if due:
                evals.append(
                    (self.num_timesteps, time.time() - started, float(self.last_mean_reward))
                )
            return keep_going

    started = time.time()
    env = make_vec_env(case["env_id"], n_envs=case["zoo"]["n_envs"], seed=seed)
    if normalize:
        env = VecNormalize(env, gamma=case["zoo"]["gamma"])
    algo = getattr(stable_baselines3, case["sb3_algo"])
    model = algo("MlpPolicy", env, seed=seed, device="cpu", **sb3_kwargs(case["zoo"]))
    if zoo_eval:
        single_env = make_vec_env(case["env_id"], n_envs=1, seed=seed + 10_000)
        if normalize:
            single_env = VecNormalize(single_env, training=False, norm_reward=False)
        callback: BaseCallback = ZooEval(
            single_env,
            n_eval_episodes=EVAL_EPISODES,
            eval_freq=max(every // case["zoo"]["n_envs"], 1),
            deterministic=True,
            verbose=0,
        )
    else:
        callback = EvalEvery()
    model.learn(budget, callback=callback)
    seconds = time.time() - started
    return summarize(
        evals, case["threshold"], final=evals[-1][2], seconds=seconds, env_steps=model.num_timesteps
    )


def summarize(
    evals: list[tuple[int, float, float]],
    threshold: float,
    final: float,
    seconds: float,
    env_steps: int,
    **extra,
) -> dict:
    first = next((e for e in evals if e[2] >= threshold), None)
    streak = next(
        (
            evals[i]
            for i in range(len(evals) - 2)
            if min(e[2] for e in evals[i : i + 3]) >= threshold
        ),
        None,
    )
    return {
        "first_env_steps": first[0] if first else None,
        "first_seconds": first[1] if first else None,
        "streak_env_steps": streak[0] if streak else None,
        "streak_seconds": streak[1] if streak else None,
        "final_eval": final,
        "best_eval": max(e[2] for e in evals),
        "seconds": seconds,
        "env_steps": env_steps,
        "env_steps_per_sec": env_steps / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "evals": evals,
        **extra,
    }


def spawn(args: list[str]) -> dict:
    return run_worker(args, module="benchmarks.bench_actor_critic")


def machine_line() -> str:
    try:
        from importlib.metadata import version

        sb3 = version("stable-baselines3")
        gym = version("gymnasium")
    except Exception:  # the report can be rewritten without SB3 installed
        sb3 = gym = "?"
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, python {platform.python_version()}, torch {torch.__version__}, "
        f"stable-baselines3 {sb3}, gymnasium {gym}, 1 torch thread"
    )


def report(results: dict, command: str, machine: str) -> str:
    lines = [machine, f"command: {command}"]
    for case_name, runs in results.items():
        case = CASES[case_name]
        t = case["threshold"]
        lines += [
            "",
            f"### {case_name}: {case['env_id']}, litrl experiment={case['preset']} vs SB3 "
            f"{case['sb3_algo']} (Zoo), eval every {case['eval_every']} env steps, threshold {t:g}",
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
        medians = {}
        for lib in LIBS:
            done = [r["result"] for r in runs if r["lib"] == lib and "error" not in r["result"]]
            crashed = sum(r["lib"] == lib and "error" in r["result"] for r in runs)
            if not done and not crashed:
                continue
            medians[lib] = _median([r["streak_seconds"] for r in done]) if done else None
            lines.append(
                f"- {lib}: reach ≥{t:g} {sum(r['first_seconds'] is not None for r in done)}/{len(done)}, "
                f"streak {sum(r['streak_seconds'] is not None for r in done)}/{len(done)}, "
                f"end ≥{t:g} {sum(r['final_eval'] >= t for r in done)}/{len(done)}; "
                f"median s to streak {fmt(medians[lib])}, "
                f"median env steps/s {fmt(_median([r['env_steps_per_sec'] for r in done]), 0)}"
                + (f"; {crashed} crashed" if crashed else "")
            )
        lit = medians.get("litrl")
        for lib in LIBS[1:]:
            if "litrl" in medians and lib in medians:
                ref = medians[lib]
                lines.append(
                    f"- median s to streak litrl / {lib}: "
                    f"{fmt(lit / ref if lit and ref else None, 2)}"
                )
    return "\n".join(lines)


def _pair(result: dict, criterion: str) -> str:
    steps = result.get(f"{criterion}_env_steps")
    return "—" if steps is None else f"{steps} / {result[f'{criterion}_seconds']:.1f}"


def _median(values: list[float | None]) -> float | None:
    """Median over seeds; a seed that never met the criterion counts as slower than all others."""
    if not values:
        return None
    median = statistics.median(math.inf if v is None else v for v in values)
    return None if math.isinf(median) else median


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument(
        "--libs",
        nargs="+",
        choices=LIBS,
        help="default: litrl sb3, and sb3_zoo_eval for ppo_cartpole",
    )
    parser.add_argument("--override", nargs="*", default=[], help="litrl config overrides")
    parser.add_argument(
        "--smoke", action="store_true", help="two eval intervals per run: checks the plumbing"
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/actor_critic.json"))
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
            result = litrl_worker(args.case, args.seed, args.smoke, args.override)
        else:
            result = sb3_worker(args.case, args.seed, args.smoke, args.worker == "sb3_zoo_eval")
        print(json.dumps(result))
        return

    command = " ".join(["python -m benchmarks.bench_actor_critic", *sys.argv[1:]])
    machine = machine_line()
    results: dict[str, list[dict]] = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for case_name in args.cases:
        runs = results.setdefault(case_name, [])
        libs = args.libs or CASES[case_name].get("default_libs", DEFAULT_LIBS)
        for seed in args.seeds:
            for lib in libs:
                worker = ["--worker", lib, "--case", case_name, "--seed", str(seed)]
                if args.smoke:
                    worker.append("--smoke")
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

"""PPO and A2C: litrl vs Stable-Baselines3 with the RL Zoo's hyperparameters.

    python -m benchmarks.bench_actor_critic [--seeds 0 1 2 3 4]
        [--cases ppo_cartpole ppo_pendulum a2c_cartpole] [--libs litrl sb3 sb3_zoo_eval]

Cases: PPO on CartPole-v1 (experiment=ppo_cartpole), PPO on Pendulum-v1 (experiment=ppo_pendulum)
and A2C on CartPole-v1 (experiment=a2c_cartpole, 100k steps rather than the Zoo's 500k); PPO on
CartPole-v1 with the torch env backend (experiment=ppo_cartpole_torch: litrl only, as SB3 has no
batched tensor envs); PPO on LunarLander-v3 and Acrobot-v1.

Every run is a fresh subprocess with one torch thread, run one after another so timings do not
share the cores. Both libraries are evaluated the same way: 10 greedy (deterministic) episodes on
10 envs after every fixed number of env steps, each evaluation's wall time counted from the start
of training to the end of that evaluation. SB3 evaluates at the start of the rollout that follows
the interval (so, like litrl, after training on the interval's data) and once more at the end.
Both train for the case's budget rounded up to a whole eval interval (litrl's rounding), so both
are evaluated at the same env steps and their linear schedules span the same steps.

"first" is the first evaluation >= the threshold (CartPole 475, Pendulum -200); "streak" is the
first evaluation that starts three in a row >= the threshold. litrl's runs also record the
process's CPU seconds at the end of each evaluation (steadier than wall seconds when other jobs
share the machine) and the 1-minute load average before and after the run.

Library "sb3_zoo_eval" is SB3 as the RL Zoo's train.py runs it: the same training, evaluated by
SB3's own ``EvalCallback`` on one eval env (the Zoo's default ``--n-eval-envs 1``), 10 greedy
episodes every interval, so its seconds include SB3's single-env evaluation as a user of the
Zoo pays it. ``EvalCallback`` evaluates at the env step that completes the interval, before
training on the rollout that holds it.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from benchmarks import side_by_side
from benchmarks.bench_dqn_cartpole import fmt
from benchmarks.side_by_side import EVAL_EPISODES

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
    "ppo_cartpole_torch": dict(
        env_id="CartPole-v1",
        preset="ppo_cartpole_torch",
        sb3_algo=None,  # SB3 has no batched tensor envs to run it on
        versus="ppo_cartpole",  # ...so its ratio is taken to SB3's runs of that case
        budget=32_768,
        eval_every=4_096,
        threshold=475.0,
        default_libs=("litrl",),
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


def sb3_kwargs(zoo: dict) -> dict:
    return side_by_side.zoo_schedules(
        {k: v for k, v in zoo.items() if k not in ("n_envs", "normalize")}
    )


def litrl_worker(case_name: str, seed: int, smoke: bool, overrides: list[str]) -> dict:
    case = CASES[case_name]
    cfg, run_dir = side_by_side.litrl_config(
        case_name, case, seed, budget_of(case, smoke), overrides
    )
    return side_by_side.litrl_run(cfg, run_dir, case["threshold"])


def sb3_worker(case_name: str, seed: int, smoke: bool, zoo_eval: bool = False) -> dict:
    side_by_side.import_sb3()
    import stable_baselines3
    from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    case = CASES[case_name]
    if not case["sb3_algo"]:
        raise ValueError(f"case {case_name} runs litrl only (--libs litrl)")
    budget = budget_of(case, smoke)
    every = case["eval_every"]
    evals: list[side_by_side.Eval] = []
    eval_env = make_vec_env(case["env_id"], n_envs=EVAL_EPISODES, seed=seed + 10_000)
    normalize = case["zoo"].get("normalize", False)
    if normalize:  # the Zoo's `normalize: true`: observations and rewards, as litrl's preset
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False)

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
        callback = side_by_side.eval_every(every, eval_env, seed, evals, started)
    return side_by_side.sb3_learn(model, budget, callback, evals, started, case["threshold"])


def summary(runs: list[dict], t: float) -> list[str]:
    """Per library: seeds that reach, streak and end >= the threshold; then litrl / each other."""
    lines, medians = [], {}
    for lib in side_by_side.by_library(runs, LIBS, t):
        medians[lib.name] = lib.median("streak_seconds")
        lines.append(
            f"- {lib.name}: reach ≥{t:g} {lib.of(lib.reached)}, streak {lib.of(lib.streaks)}, "
            f"end ≥{t:g} {lib.of(lib.ended)}; median s to streak {fmt(medians[lib.name], 2)}, "
            f"median env steps/s {fmt(lib.median('env_steps_per_sec'), 0)}"
            + _cpu_note(lib)
            + lib.crash_note
        )
    for lib in LIBS[1:]:
        if "litrl" in medians and lib in medians:
            ratio = side_by_side.ratio(medians["litrl"], medians[lib])
            lines.append(f"- median s to streak litrl / {lib}: {fmt(ratio, 2)}")
    return lines


def _cpu_note(lib: side_by_side.LibRuns) -> str:
    """The median CPU seconds to the streak, where the runs recorded them (litrl's do)."""
    if not any("streak_cpu_seconds" in r for r in lib.done):
        return ""
    return f", median CPU s to streak {fmt(lib.median('streak_cpu_seconds'), 2)}"


def report(results: dict, command: str, machine: str) -> str:
    """The cases' tables and summaries, then the litrl-only cases against SB3's runs of their
    ``versus`` case where the same run holds both."""
    text = side_by_side.report(results, command, machine, cases=CASES, summary=summary)
    return "\n".join([text, *versus_lines(results)])


def versus_lines(results: dict) -> list[str]:
    """litrl's median seconds to the streak on a litrl-only case over each SB3 library's on the
    case it names as ``versus`` (same env and threshold)."""
    lines = []
    for name, case in CASES.items():
        other = case.get("versus")
        if name not in results or other not in results:
            continue
        t = case["threshold"]
        ours = side_by_side.by_library(results[name], ("litrl",), t)
        if not ours:
            continue
        litrl = ours[0].median("streak_seconds")
        lines += ["", f"### {name} (litrl) vs {other} (SB3), same run"]
        for lib in side_by_side.by_library(results[other], LIBS[1:], t):
            reference = lib.median("streak_seconds")
            lines.append(
                f"- median s to streak litrl {name} / {lib.name} {other}: "
                f"{fmt(side_by_side.ratio(litrl, reference), 3)} "
                f"({fmt(litrl, 2)} / {fmt(reference, 2)})"
            )
    return lines


def work(args: argparse.Namespace) -> dict:
    if args.worker == "litrl":
        return litrl_worker(args.case, args.seed, args.smoke, args.override)
    return sb3_worker(args.case, args.seed, args.smoke, args.worker == "sb3_zoo_eval")


def own_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smoke", action="store_true", help="two eval intervals per run: checks the plumbing"
    )


def libs_for(case_name: str, libs: list[str] | None) -> list[str]:
    """``libs`` (default: the case's ``default_libs``), less SB3 for a litrl-only case."""
    case = CASES[case_name]
    chosen = libs or case.get("default_libs", DEFAULT_LIBS)
    return [lib for lib in chosen if case["sb3_algo"] or lib == "litrl"]


def main() -> None:
    args = side_by_side.parse_args(
        __doc__,
        CASES,
        default_cases=list(CASES),
        libs=LIBS,
        out=Path("outputs/bench/actor_critic.json"),
        own_flags=own_flags,
        help="default: litrl sb3, and sb3_zoo_eval for ppo_cartpole",
    )
    side_by_side.main(
        args,
        "benchmarks.bench_actor_critic",
        report,
        work,
        worker_flags=["--smoke"] if args.smoke else [],
        libs_of=lambda case_name: libs_for(case_name, args.libs),
    )


if __name__ == "__main__":
    main()

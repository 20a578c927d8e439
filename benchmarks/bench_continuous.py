"""TD3 and SAC: litrl vs Stable-Baselines3 with the RL Zoo's hyperparameters.

    python -m benchmarks.bench_continuous [--seeds 0 1 2 3 4] [--cases td3_pendulum sac_pendulum]
        [--libs litrl sb3] [--env-steps N] [--warmup-env-steps N] [--override KEY=VALUE ...]

Cases: TD3 and SAC on Pendulum-v1 (experiment=td3_pendulum, sac_pendulum; the default cases),
and on LunarLanderContinuous-v3 (experiment=td3_lunarlander_continuous,
sac_lunarlander_continuous; hours per run on one core, so only when asked for).
td3_pendulum_fast and sac_pendulum_fast run litrl's fast presets (experiment=td3_pendulum_fast,
sac_pendulum_fast: their own budget, warm-up and networks) against the same SB3 runs with the
Zoo's settings as td3_pendulum and sac_pendulum: what a litrl user gets from the preset made for
speed, against what an SB3 user gets from the Zoo.

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
example ``--env-steps 3000 --warmup-env-steps 1000``); both libraries get the same values, except
in the fast cases, where they set SB3's schedule only (litrl keeps its preset's): there
``--env-steps`` can stop SB3 once every seed is past its first eval >= the threshold, which
leaves the seconds to it as they are (constant learning rates) but not the final eval.
"""

from __future__ import annotations

import argparse
import math
import time
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import side_by_side
from benchmarks.bench_dqn_cartpole import fmt
from benchmarks.side_by_side import EVAL_EPISODES

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
# litrl's fast presets (their own budget and warm-up) against SB3 with the Zoo's settings: the
# Zoo case with litrl's preset swapped.
for _zoo_case in ("td3_pendulum", "sac_pendulum"):
    CASES[f"{_zoo_case}_fast"] = {
        **CASES[_zoo_case],
        "preset": f"{_zoo_case}_fast",
        "litrl_own_schedule": True,
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
    side_by_side.zoo_schedules(kwargs)
    if "noise_type" in zoo:
        assert zoo["noise_type"] == "normal", zoo["noise_type"]
        kwargs["action_noise"] = NormalActionNoise(
            mean=np.zeros(n_actions), sigma=zoo["noise_std"] * np.ones(n_actions)
        )
    return kwargs


def litrl_worker(
    case_name: str, seed: int, env_steps: int | None, warmup: int | None, overrides: list[str]
) -> dict:
    case = CASES[case_name]
    own = case.get("litrl_own_schedule", False)
    budget, warmup_steps, final_env_steps = schedule(case, env_steps, warmup)
    cfg, run_dir = side_by_side.litrl_config(
        case_name,
        case,
        seed,
        None if own else budget,
        [
            "accelerator=cpu",  # SB3 runs on device="cpu"
            *([f"algo.data.warmup_env_steps={warmup}"] if warmup is not None and not own else []),
            *overrides,
        ],
    )
    if own:  # the preset's own schedule, rounded as litrl rounds it
        warmup_steps = cfg.algo.data.warmup_env_steps
        evaluations = math.ceil(max(cfg.total_env_steps - warmup_steps, 1) / case["eval_every"])
        final_env_steps = warmup_steps + evaluations * case["eval_every"]
    if cfg.algo.data.warmup_env_steps != warmup_steps or cfg.algo.data.num_envs != 1:
        raise SystemExit(
            f"experiment={case['preset']} has warmup_env_steps={cfg.algo.data.warmup_env_steps} "
            f"and num_envs={cfg.algo.data.num_envs}; SB3 runs the Zoo's learning_starts="
            f"{warmup_steps} on one env"
        )
    result = side_by_side.litrl_run(cfg, run_dir, case["threshold"])
    if result["env_steps"] != final_env_steps:
        raise SystemExit(
            f"litrl ended at {result['env_steps']} env steps, expected {final_env_steps}"
        )
    return result


def sb3_worker(case_name: str, seed: int, env_steps: int | None, warmup: int | None) -> dict:
    side_by_side.import_sb3()
    import stable_baselines3
    from stable_baselines3.common.env_util import make_vec_env

    case = CASES[case_name]
    _, warmup_steps, final_env_steps = schedule(case, env_steps, warmup)
    evals: list[side_by_side.Eval] = []
    eval_env = make_vec_env(case["env_id"], n_envs=EVAL_EPISODES, seed=seed + 10_000)
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
    callback = side_by_side.eval_every(
        case["eval_every"], eval_env, seed, evals, started, warmup_env_steps=warmup_steps
    )
    return side_by_side.sb3_learn(
        model, final_env_steps, callback, evals, started, case["threshold"]
    )


def summary(runs: list[dict], t: float) -> list[str]:
    """Per library: seeds that reach and end >= the threshold, medians; then litrl / SB3."""
    lines, first_seconds = [], {}
    for lib in side_by_side.by_library(runs, LIBS, t):
        first_seconds[lib.name] = lib.median("first_seconds")
        lines.append(
            f"- {lib.name}: reach ≥{t:g} {lib.of(lib.reached)}, end ≥{t:g} {lib.of(lib.ended)}, "
            f"streak {lib.of(lib.streaks)}; "
            f"median to first: {fmt(lib.median('first_env_steps'), 0)} env steps, "
            f"{fmt(first_seconds[lib.name])} s; "
            f"median s to streak {fmt(lib.median('streak_seconds'))}; "
            f"median final {fmt(lib.median('final_eval'))}; "
            f"median env steps/s {fmt(lib.median('env_steps_per_sec'), 0)}"
            + lib.crash_note
            + (
                f" (every seed reaches and ends ≥{t:g}: "
                f"{'yes' if lib.reached == lib.ended == len(lib.done) and not lib.crashed else 'no'})"
                if lib.name == "litrl"
                else ""
            )
        )
    if "litrl" in first_seconds and "sb3" in first_seconds:
        ratio = side_by_side.ratio(first_seconds["litrl"], first_seconds["sb3"])
        verdict = "—" if ratio is None else ("met" if ratio <= TARGET_RATIO else "not met")
        lines.append(
            f"- median s to first litrl / SB3: {fmt(ratio, 2)} "
            f"(target ≤ {TARGET_RATIO:g}: {verdict})"
        )
    return lines


report = partial(
    side_by_side.report, cases=CASES, summary=summary, interval_note=" after the warm-up"
)


def work(args: argparse.Namespace) -> dict:
    if args.worker == "litrl":
        return litrl_worker(
            args.case, args.seed, args.env_steps, args.warmup_env_steps, args.override
        )
    return sb3_worker(args.case, args.seed, args.env_steps, args.warmup_env_steps)


def own_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env-steps", type=int, help="budget for both libraries (default: the Zoo's n_timesteps)"
    )
    parser.add_argument(
        "--warmup-env-steps",
        type=int,
        help="random-action warm-up for both (default: the Zoo's learning_starts)",
    )


def main() -> None:
    args = side_by_side.parse_args(
        __doc__,
        CASES,
        default_cases=DEFAULT_CASES,
        libs=LIBS,
        out=Path("outputs/bench/continuous.json"),
        own_flags=own_flags,
        default=list(LIBS),
    )
    flags = []
    if args.env_steps is not None:
        flags += ["--env-steps", str(args.env_steps)]
    if args.warmup_env_steps is not None:
        flags += ["--warmup-env-steps", str(args.warmup_env_steps)]
    side_by_side.main(
        args,
        "benchmarks.bench_continuous",
        report,
        work,
        worker_flags=flags,
        libs_of=lambda case_name: args.libs,
    )


if __name__ == "__main__":
    main()

"""What the litrl-vs-Stable-Baselines3 benchmarks share (bench_actor_critic: PPO and A2C;
bench_continuous: TD3 and SAC), so that a fix to the protocol or the report lands in both.

Here: the command line they have in common; the run loop (every case, seed and library, each run a
fresh subprocess, the JSON rewritten after every run, a crash kept as ``{"error": ...}``); the
litrl run (compose the case's preset, train, read the evaluations back); SB3's evaluation callback;
the summary of one run's evaluations; the report's per-run table and per-library counts. Each
benchmark keeps its cases with the Zoo's settings, its workers' specifics and its summary lines.
(About 450 lines: one protocol, and splitting the run loop from the report would split what a
fix to the protocol has to touch.)
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks.bench_dqn_cartpole import fmt, peak_rss_mb, spawn

EVAL_EPISODES = 10

# (evaluated env step, seconds since the start of training at the end of the evaluation, mean return)
Eval = tuple[int, float, float]


def parse_args(
    doc: str,
    cases: dict[str, dict],
    default_cases: Sequence[str],
    libs: Sequence[str],
    out: Path,
    own_flags: Callable[[argparse.ArgumentParser], None],
    **libs_flag: Any,
) -> argparse.Namespace:
    """The flags both benchmarks take; ``own_flags`` adds the benchmark's own after
    ``--override``, ``libs_flag`` is the ``default`` or ``help`` of ``--libs``, ``out`` the
    default of ``--out`` and ``doc`` (the benchmark's docstring) is what ``--help`` shows."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--cases", nargs="+", choices=list(cases), default=list(default_cases))
    parser.add_argument("--libs", nargs="+", choices=libs, **libs_flag)
    parser.add_argument("--override", nargs="*", default=[], help="litrl config overrides")
    own_flags(parser)
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--from-json", type=Path, help="only rewrite the report of an earlier run")
    parser.add_argument("--worker", choices=libs, help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=list(cases), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main(
    args: argparse.Namespace,
    module: str,
    report: Callable[[dict, str, str], str],
    work: Callable[[argparse.Namespace], dict],
    worker_flags: list[str],
    libs_of: Callable[[str], Sequence[str]],
) -> None:
    """Rewrites an earlier report (``--from-json``), runs one worker (``--worker``), or runs
    every case, seed and library, each in a fresh subprocess, and prints the report.

    Args:
        args: from :func:`parse_args`.
        module: the benchmark; ``python -m module --worker ...`` runs one of its runs.
        report: ``(results, command, machine) -> text``.
        work: runs the worker that ``args.worker`` names and returns its result.
        worker_flags: the benchmark's own flags, passed on to every worker.
        libs_of: the libraries to run on a case.
    """
    torch.set_num_threads(1)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        print(report(saved["results"], saved["command"], saved["machine"]))
        return
    if args.worker:
        print(json.dumps(work(args)))
        return

    command = " ".join([f"python -m {module}", *sys.argv[1:]])
    machine = machine_line()
    results: dict[str, list[dict]] = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for case_name in args.cases:
        runs = results.setdefault(case_name, [])
        for seed in args.seeds:
            for lib in libs_of(case_name):
                worker = ["--worker", lib, "--case", case_name, "--seed", str(seed), *worker_flags]
                if lib == "litrl":
                    worker += ["--override", *args.override]
                try:
                    result = spawn(worker, module=module)
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


def litrl_config(case_name: str, case: dict, seed: int, budget: int | None, overrides: list[str]):
    """``(cfg, run_dir)``: the case's litrl preset with the shared evaluation, in a fresh run
    directory; ``budget`` None keeps the preset's ``total_env_steps``."""
    from litrl.config import compose_config

    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-{case_name}-{seed}-"))
    cfg = compose_config(
        [
            f"seed={seed}",
            f"run_dir={run_dir}",
            "progress_bar_refresh_steps=1000",
            "video.every_n_evals=0",
            f"experiment={case['preset']}",
            *([f"total_env_steps={budget}"] if budget is not None else []),
            f"eval.every_env_steps={case['eval_every']}",
            f"eval.episodes={EVAL_EPISODES}",
            f"eval.num_envs={EVAL_EPISODES}",
            *overrides,
        ]
    )
    return cfg, run_dir


def litrl_run(cfg, run_dir: Path, threshold: float) -> dict:
    """Trains ``cfg`` and summarizes the evaluations it logged (see :func:`summarize`), with the
    process's CPU seconds at each evaluation beside the wall seconds and the load average
    before and after the run (the machine is shared: CPU time is the steadier figure)."""
    from litrl.events import read_scalars
    from litrl.train import run

    load_before = os.getloadavg()
    cpu_at_evals: list[float] = []
    started, cpu_started = time.time(), time.process_time()
    with _cpu_clock_at_evaluations(cpu_at_evals, cpu_started):
        final = run(cfg)
    seconds, cpu_seconds = time.time() - started, time.process_time() - cpu_started
    scalars = read_scalars(run_dir)
    evals = [(e.step, e.wall_time - started, e.value) for e in scalars["eval/return_mean"]]
    own = scalars.get("perf/env_steps_per_sec", [])
    result = summarize(
        evals,
        threshold,
        final=final,
        seconds=seconds,
        env_steps=evals[-1][0],
        litrl_logged_env_steps_per_sec=statistics.median(s.value for s in own) if own else None,
        run_dir=str(run_dir),
        cpu_seconds=cpu_seconds,
        cpu_at_evals=cpu_at_evals,
        load_average=[load_before, os.getloadavg()],
    )
    for criterion in ("first", "streak"):  # the CPU seconds at that evaluation
        steps = result[f"{criterion}_env_steps"]
        at = [i for i, e in enumerate(evals) if e[0] == steps]
        cpu = cpu_at_evals[at[0]] if at and len(cpu_at_evals) == len(evals) else None
        result[f"{criterion}_cpu_seconds"] = cpu
    return result


@contextmanager
def _cpu_clock_at_evaluations(cpu_at_evals: list[float], cpu_started: float) -> Iterator[None]:
    """Appends this process's CPU seconds since ``cpu_started`` to ``cpu_at_evals`` as each of
    litrl's evaluations ends (its episodes are done; ``eval/return_mean`` is logged next)."""
    from litrl.data.datamodule import EnvRolloutDataModule

    evaluate = EnvRolloutDataModule.evaluate

    def timed(self):
        episodes = evaluate(self)
        cpu_at_evals.append(time.process_time() - cpu_started)
        return episodes

    EnvRolloutDataModule.evaluate = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        EnvRolloutDataModule.evaluate = evaluate  # type: ignore[method-assign]


def import_sb3() -> None:
    """Imports SB3 and what it will load on its first update, before the SB3 worker's clock starts."""
    import gymnasium as gym  # noqa: F401  (registers the envs for make_vec_env)
    import stable_baselines3  # noqa: F401

    # torch imports its compiler stack lazily, at the first optimizer (~1 s); litrl's imports
    # (Lightning) load it before litrl's clock starts, so load it before SB3's clock too.
    import torch._dynamo  # noqa: F401


def eval_every(
    every: int,
    eval_env,
    seed: int,
    evals: list[Eval],
    started: float,
    warmup_env_steps: int = 0,
):
    """An SB3 callback that evaluates at litrl's evaluation points: once the model has trained on
    each further ``every`` env steps after the first ``warmup_env_steps`` (the random-action
    warm-up), and at the end. It appends ``(env step, seconds since started, mean return)`` to
    ``evals``; ``eval_env`` (``EVAL_EPISODES`` envs) is reseeded ``seed + 10_000 + i`` for the i-th
    evaluation, and a ``VecNormalize`` one gets the training env's statistics, frozen."""
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecNormalize

    class EvalEvery(BaseCallback):
        def _evaluate(self) -> None:
            if isinstance(eval_env, VecNormalize):  # the training statistics, frozen
                eval_env.obs_rms = copy.deepcopy(self.training_env.obs_rms)
            eval_env.seed(seed + 10_000 + len(evals))  # applied at evaluate_policy's reset
            mean, _ = evaluate_policy(
                self.model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True
            )
            evals.append((self.num_timesteps, time.time() - started, float(mean)))

        def _due(self) -> bool:
            return self.num_timesteps >= warmup_env_steps + every * (len(evals) + 1)

        def _on_rollout_start(self) -> None:  # the previous rollout's training is done
            if self._due():
                self._evaluate()

        def _on_training_end(self) -> None:
            if self._due():
                self._evaluate()

        def _on_step(self) -> bool:
            return True

    return EvalEvery()


def sb3_learn(model, env_steps: int, callback, evals: list[Eval], started: float, threshold: float):
    """Trains the SB3 ``model`` for ``env_steps`` and summarizes the evaluations that ``callback``
    appended to ``evals`` (see :func:`summarize`)."""
    model.learn(env_steps, callback=callback)
    seconds = time.time() - started
    return summarize(
        evals, threshold, final=evals[-1][2], seconds=seconds, env_steps=model.num_timesteps
    )


def linear(initial: float):
    """The Zoo's ``lin_<x>``: ``x`` annealed linearly to 0 over the run."""

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * initial

    return schedule


def zoo_schedules(kwargs: dict) -> dict:
    """``kwargs`` with the Zoo's ``lin_<x>`` strings replaced by SB3 schedules (in place)."""
    for key, value in kwargs.items():
        if isinstance(value, str) and value.startswith("lin_"):
            kwargs[key] = linear(float(value.removeprefix("lin_")))
    return kwargs


def summarize(
    evals: list[Eval],
    threshold: float,
    final: float,
    seconds: float,
    env_steps: int,
    **extra,
) -> dict:
    """One run's result: "first" is the first evaluation >= ``threshold``, "streak" the first that
    starts three in a row >= it; ``extra`` is kept as it is."""
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


def report(
    results: dict,
    command: str,
    machine: str,
    cases: dict[str, dict],
    summary: Callable[[list[dict], float], list[str]],
    interval_note: str = "",
) -> str:
    """Per case: a heading (``interval_note`` follows "eval every N env steps"), a table row per
    run, then the benchmark's ``summary(runs, threshold)``."""
    lines = [machine, f"command: {command}"]
    for case_name, runs in results.items():
        case = cases[case_name]
        t = case["threshold"]
        versus = f" vs SB3 {case['sb3_algo']} (Zoo)" if case.get("sb3_algo") else " (litrl only)"
        lines += [
            "",
            f"### {case_name}: {case['env_id']}, litrl experiment={case['preset']}{versus}, "
            f"eval every {case['eval_every']} env steps{interval_note}, threshold {t:g}",
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
        lines += summary(runs, t)
        lines += _load_line(runs)
    return "\n".join(lines)


def _load_line(runs: list[dict]) -> list[str]:
    """The range of the 1-minute load average before and after the runs that recorded it."""
    loads = [pair[0] for run in runs for pair in run["result"].get("load_average", []) if pair]
    if not loads:
        return []
    low, high, cores = min(loads), max(loads), os.cpu_count()
    return [f"- 1-minute load average around the runs: {low:.1f} to {high:.1f} ({cores} cores)"]


@dataclass(frozen=True)
class LibRuns:
    """One library's runs of a case, for a summary line."""

    name: str
    done: list[dict]  # the results of the runs that finished
    crashed: int
    reached: int  # finished runs with an evaluation >= the threshold
    streaks: int  # ... with three in a row >= it
    ended: int  # ... whose final evaluation is >= it

    def of(self, count: int) -> str:
        """``count`` out of the finished runs, as ``count/finished``."""
        return f"{count}/{len(self.done)}"

    def median(self, key: str) -> float | None:
        return _median([r[key] for r in self.done])

    @property
    def crash_note(self) -> str:
        return f"; {self.crashed} crashed" if self.crashed else ""


def by_library(runs: list[dict], libs: Sequence[str], threshold: float) -> list[LibRuns]:
    """Each library in ``libs`` that has runs here (finished or crashed), in that order."""
    found = []
    for lib in libs:
        done = [r["result"] for r in runs if r["lib"] == lib and "error" not in r["result"]]
        crashed = sum(r["lib"] == lib and "error" in r["result"] for r in runs)
        if not done and not crashed:
            continue
        found.append(
            LibRuns(
                name=lib,
                done=done,
                crashed=crashed,
                reached=sum(r["first_seconds"] is not None for r in done),
                streaks=sum(r["streak_seconds"] is not None for r in done),
                ended=sum(r["final_eval"] >= threshold for r in done),
            )
        )
    return found


def ratio(litrl: float | None, reference: float | None) -> float | None:
    """litrl's median over the other library's; None where either is missing."""
    return litrl / reference if litrl and reference else None


def _pair(result: dict, criterion: str) -> str:
    """``steps / wall s``, with ``(CPU s)`` where the run recorded it."""
    steps = result.get(f"{criterion}_env_steps")
    if steps is None:
        return "—"
    cpu = result.get(f"{criterion}_cpu_seconds")
    return f"{steps} / {_seconds(result[f'{criterion}_seconds'])}" + (
        f" (CPU {_seconds(cpu)})" if cpu is not None else ""
    )


def _seconds(value: float) -> str:
    """Two decimals below 10 s (runs of about a second), one above."""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _median(values: list[float | None]) -> float | None:
    """Median over seeds; a seed that never met the criterion counts as slower than all others."""
    if not values:
        return None
    median = statistics.median(math.inf if v is None else v for v in values)
    return None if math.isinf(median) else median

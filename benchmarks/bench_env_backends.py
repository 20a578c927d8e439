"""Env steps/s of the env backends on CartPole-v1: gymnasium's SyncVectorEnv vs litrl's torch backend
(eager, eager under ``torch.inference_mode``, and with its step through ``torch.compile``).

    python -m benchmarks.bench_env_backends [--num-envs 8 64 1024 8192] [--seconds 3] [--device cpu]

Random actions, drawn before the clock starts (a chunk of steps at a time, on the backend's device),
one torch thread, one run. Each backend steps for about ``--seconds`` per size, in ``--rounds``
slices that alternate between the backends; the median slice is reported, so a burst of load on a
shared machine does not decide a ratio. A fixed time rather than a fixed step count keeps
SyncVectorEnv at 8,192 envs to a few dozen vector steps. Both backends autoreset in the same step.
A backend is a class with ``__init__(num_envs, device, seed)``, ``actions(steps)`` and
``step(actions)``; add one to ``BACKENDS`` to get a column (the torch backend's ``--device``
applies to every backend that takes a device; gymnasium's ignores it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

ENV_ID = "CartPole-v1"


class GymnasiumSync:
    """``gym.make_vec(..., vectorization_mode="sync")``: one Python env per slot, stepped in turn."""

    name = "gymnasium_sync"

    def __init__(self, num_envs: int, device: str, seed: int) -> None:
        self.env = gym.make_vec(
            ENV_ID,
            num_envs=num_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
        )
        self.env.reset(seed=seed)
        self.rng = np.random.default_rng(seed)
        self.num_envs = num_envs

    def actions(self, steps: int) -> Any:
        return self.rng.integers(0, 2, size=(steps, self.num_envs))

    def step(self, actions: Any) -> None:
        self.env.step(actions)


class TorchBackend:
    """litrl's batched tensor CartPole (``litrl.envs.torch_backend``)."""

    name = "torch"

    def __init__(self, num_envs: int, device: str, seed: int) -> None:
        from litrl.envs.torch_backend import make_torch_env

        self.env = make_torch_env(ENV_ID, num_envs, device=device)
        self.env.reset(seed=seed)
        self.generator = torch.Generator(device).manual_seed(seed)
        self.num_envs, self.device = num_envs, device

    def actions(self, steps: int) -> Any:
        shape = (steps, self.num_envs)
        return torch.randint(0, 2, shape, generator=self.generator, device=self.device)

    def step(self, actions: Any) -> None:
        self.env.step(actions)


class TorchInferenceMode(TorchBackend):
    """The same, stepped under ``torch.inference_mode()`` (as a collector that only copies the
    results into its buffers could): the dispatcher then skips autograd's bookkeeping per op."""

    name = "torch_inference_mode"

    def step(self, actions: Any) -> None:
        with torch.inference_mode():
            self.env.step(actions)


class TorchCompiled(TorchBackend):
    """The same, with ``step`` through ``torch.compile`` (Inductor fuses the step's ~50 small ops;
    its float rounding then differs from eager's). Compiling happens in the warm-up."""

    name = "torch_compile"

    def __init__(self, num_envs: int, device: str, seed: int) -> None:
        super().__init__(num_envs, device, seed)
        self.compiled_step = torch.compile(self.env.step)

    def step(self, actions: Any) -> None:
        self.compiled_step(actions)


BACKENDS = {
    cls.name: cls for cls in (GymnasiumSync, TorchBackend, TorchInferenceMode, TorchCompiled)
}


def measure(env: Any, num_envs: int, device: str, seconds: float) -> tuple[int, float]:
    """Vector steps until ``seconds`` have passed; the clock is read after every step (a vector
    step takes far longer than reading it), then the device is waited for."""
    actions = env.actions(min(1_000, max(10, 2_000_000 // num_envs)))  # cycled through
    sync = torch.cuda.synchronize if device == "cuda" else lambda: None
    sync()
    vector_steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        env.step(actions[vector_steps % len(actions)])
        vector_steps += 1
    sync()
    return vector_steps, time.perf_counter() - started


def compare(backends: list[str], num_envs: int, device: str, seconds: float, rounds: int) -> list:
    """Each backend's median env steps/s over ``rounds`` rounds that alternate between backends,
    so a burst of load on the shared machine hits every backend alike."""
    envs = {name: BACKENDS[name](num_envs, device, seed=0) for name in backends}
    warmup_s = {}
    for name, env in envs.items():
        started = time.perf_counter()
        measure(env, num_envs, device, seconds=0.2)  # warm-up (and compilation)
        warmup_s[name] = time.perf_counter() - started
    rates: dict[str, list[float]] = {name: [] for name in backends}
    steps: dict[str, int] = dict.fromkeys(backends, 0)
    for _ in range(rounds):
        for name, env in envs.items():
            vector_steps, elapsed = measure(env, num_envs, device, seconds / rounds)
            rates[name].append(vector_steps * num_envs / elapsed)
            steps[name] += vector_steps
    return [
        {
            "backend": name,
            "num_envs": num_envs,
            "vector_steps": steps[name],
            "env_steps_per_sec": statistics.median(rates[name]),
            "rounds": rates[name],
            "warmup_s": warmup_s[name],
        }
        for name in backends
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-envs", type=int, nargs="+", default=[8, 64, 1024, 8192])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    parser.add_argument("--seconds", type=float, default=3.0, help="per backend and size")
    parser.add_argument("--rounds", type=int, default=5, help="alternations between backends")
    parser.add_argument("--device", default="cpu", help="for the torch backend")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/env_backends.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    rows = [
        row
        for n in args.num_envs
        for row in compare(args.backends, n, args.device, args.seconds, args.rounds)
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_avg_1min": [load_before, os.getloadavg()[0]],  # before and after: other jobs
        "torch": torch.__version__,
        "gymnasium": gym.__version__,
    }
    args.out.write_text(
        json.dumps({"machine": machine, "device": args.device, "rows": rows}, indent=2)
    )
    rate = {(r["backend"], r["num_envs"]): r["env_steps_per_sec"] for r in rows}
    fast = [b for b in args.backends if b != "gymnasium_sync"]
    baseline = "gymnasium_sync" in args.backends
    print(
        "| envs | "
        + " | ".join(f"{b} steps/s" for b in args.backends)
        + "".join(f" | {b} / sync" for b in fast if baseline)
        + " |"
    )
    print("|---|" + "---|" * (len(args.backends) + len(fast) * baseline))
    for n in args.num_envs:
        cells = " | ".join(f"{rate[(b, n)]:,.0f}" for b in args.backends)
        ratios = "".join(
            f" | {rate[(b, n)] / rate[('gymnasium_sync', n)]:.1f}x" for b in fast if baseline
        )
        print(f"| {n:,} | {cells}{ratios} |")


if __name__ == "__main__":
    main()

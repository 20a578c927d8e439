"""Env steps/s of the env backends: gymnasium's SyncVectorEnv vs litrl's torch backend (eager, eager
under ``torch.inference_mode``, and with its step through ``torch.compile``) vs EnvPool (litrl's
``EnvPoolVecEnv``, and EnvPool's pool called raw), on CartPole-v1; and on Pong (``env=atari``'s
preprocessing: gymnasium's wrappers in a SyncVectorEnv vs EnvPool's own).

    python -m benchmarks.bench_env_backends [--num-envs 8 64 1024 8192] [--pong-num-envs 8 16]
        [--seconds 3] [--device cpu]

Random actions, drawn before the clock starts (a chunk of steps at a time, on the backend's device),
one torch thread, one run. Each backend steps for about ``--seconds`` per size, in ``--rounds``
slices that alternate between the backends; the median slice is reported, so a burst of load on a
shared machine does not decide a ratio. A fixed time rather than a fixed step count keeps
SyncVectorEnv at 8,192 envs to a few dozen vector steps. Every backend autoreset in the same
step except ``envpool_raw`` (EnvPool's own NEXT_STEP mode, no checks: what litrl's mapping costs).
A backend is a class with ``__init__(env_id, num_envs, device, seed)``, ``actions(steps)``,
``step(actions)`` and ``env_ids`` (the ids it serves); add one to ``BACKENDS`` to get a column (the
torch backend's ``--device`` applies to every backend that takes a device; the others ignore it).
EnvPool's columns need the envpool extra and are left out without it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
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

CARTPOLE, PONG = "CartPole-v1", "ALE/Pong-v5"
# env=atari as conf/env/atari.yaml sets it (the preprocessing options are ATARI_DEFAULTS).
ATARI = {"package": "ale_py", "kwargs": {"frameskip": 1, "repeat_action_probability": 0.25}}


def _factory(env_id: str, backend: str) -> Any:
    from litrl.envs import EnvFactory

    if env_id == PONG:
        return EnvFactory(env_id, backend=backend, atari={}, **ATARI)
    return EnvFactory(env_id, backend=backend)


class _HostBackend:
    """Random actions for a numpy vector env."""

    env: Any
    num_envs: int

    def __init__(self, env_id: str, num_envs: int, device: str, seed: int) -> None:
        self.env = self.make(env_id, num_envs)
        self.env.reset(seed=seed)
        self.rng = np.random.default_rng(seed)
        self.num_envs = num_envs
        self.n_actions = int(self.env.single_action_space.n)

    def make(self, env_id: str, num_envs: int) -> Any:
        raise NotImplementedError

    def actions(self, steps: int) -> Any:
        return self.rng.integers(0, self.n_actions, size=(steps, self.num_envs))

    def step(self, actions: Any) -> None:
        self.env.step(actions)


class GymnasiumSync(_HostBackend):
    """``SyncVectorEnv``: one Python env per slot, stepped in turn (CartPole: ``gym.make_vec``;
    Pong: litrl's ``env=atari`` envs, gymnasium's preprocessing wrappers and the env guard)."""

    name = "gymnasium_sync"
    env_ids = (CARTPOLE, PONG)

    def make(self, env_id: str, num_envs: int) -> Any:
        if env_id == PONG:
            return _factory(env_id, "gymnasium").make_vector(num_envs, training=True)
        return gym.make_vec(
            env_id,
            num_envs=num_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
        )


class EnvPool(_HostBackend):
    """litrl's ``EnvPoolVecEnv`` (``env.backend=envpool``): EnvPool's C++ pool, its ended envs reset
    in the same step, every step checked for NaN; ``env.num_threads`` at its default (all cores)."""

    name = "envpool"
    env_ids = (CARTPOLE, PONG)

    def make(self, env_id: str, num_envs: int) -> Any:
        return _factory(env_id, "envpool").make_vector(num_envs, training=True)


class EnvPoolRaw(_HostBackend):
    """EnvPool's pool as ``envpool.make`` returns it (NEXT_STEP autoreset, no checks), with the
    options litrl sets: the cost of litrl's mapping is the gap to ``envpool``."""

    name = "envpool_raw"
    env_ids = (CARTPOLE, PONG)

    def make(self, env_id: str, num_envs: int) -> Any:
        from litrl.envs.envpool_backend import default_threads

        task = _factory(env_id, "envpool").source.task(training=True)
        return _Seedless(task.make_pool(num_envs, 0, default_threads(num_envs)))

    def actions(self, steps: int) -> Any:
        return super().actions(steps).astype(np.int32)


class _Seedless:
    """An EnvPool pool whose ``reset`` takes (and ignores) gymnasium's seed: it was seeded when
    built."""

    def __init__(self, pool: Any) -> None:
        self.pool, self.single_action_space = pool, pool.action_space
        self.step, self.close = pool.step, pool.close

    def reset(self, seed: int | None = None) -> Any:
        return self.pool.reset()


class TorchBackend:
    """litrl's batched tensor CartPole (``litrl.envs.torch_backend``)."""

    name = "torch"
    env_ids = (CARTPOLE,)

    def __init__(self, env_id: str, num_envs: int, device: str, seed: int) -> None:
        from litrl.envs.torch_backend import make_torch_env

        self.env = make_torch_env(env_id, num_envs, device=device)
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

    def __init__(self, env_id: str, num_envs: int, device: str, seed: int) -> None:
        super().__init__(env_id, num_envs, device, seed)
        self.compiled_step = torch.compile(self.env.step)

    def step(self, actions: Any) -> None:
        self.compiled_step(actions)


BACKENDS: dict[str, Any] = {
    cls.name: cls
    for cls in (GymnasiumSync, TorchBackend, TorchInferenceMode, TorchCompiled, EnvPool, EnvPoolRaw)
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


def compare(
    env_id: str, backends: list[str], num_envs: int, device: str, seconds: float, rounds: int
) -> list:
    """Each backend's median env steps/s over ``rounds`` rounds that alternate between backends,
    so a burst of load on the shared machine hits every backend alike."""
    envs = {name: BACKENDS[name](env_id, num_envs, device, seed=0) for name in backends}
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
    for env in envs.values():  # EnvPool's threads and Pong's emulators go before the next size
        close = getattr(env.env, "close", None)
        if close is not None:
            close()
    return [
        {
            "env": env_id,
            "backend": name,
            "num_envs": num_envs,
            "vector_steps": steps[name],
            "env_steps_per_sec": statistics.median(rates[name]),
            "rounds": rates[name],
            "warmup_s": warmup_s[name],
        }
        for name in backends
    ]


def print_table(env_id: str, backends: list[str], sizes: list[int], rows: list[dict]) -> None:
    """A markdown table: steps/s per backend, then each backend's ratio to SyncVectorEnv's."""
    rate = {
        (r["backend"], r["num_envs"]): r["env_steps_per_sec"] for r in rows if r["env"] == env_id
    }
    fast = [b for b in backends if b != "gymnasium_sync"]
    baseline = "gymnasium_sync" in backends
    print(f"\n{env_id}\n")
    print(
        "| envs | "
        + " | ".join(f"{b} steps/s" for b in backends)
        + "".join(f" | {b} / sync" for b in fast if baseline)
        + " |"
    )
    print("|---|" + "---|" * (len(backends) + len(fast) * baseline))
    for n in sizes:
        cells = " | ".join(f"{rate[(b, n)]:,.0f}" for b in backends)
        ratios = "".join(
            f" | {rate[(b, n)] / rate[('gymnasium_sync', n)]:.1f}x" for b in fast if baseline
        )
        print(f"| {n:,} | {cells}{ratios} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-envs", type=int, nargs="+", default=[8, 64, 1024, 8192])
    parser.add_argument("--pong-num-envs", type=int, nargs="*", default=[8, 16], help="none: skip")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    parser.add_argument("--seconds", type=float, default=3.0, help="per backend and size")
    parser.add_argument("--rounds", type=int, default=5, help="alternations between backends")
    parser.add_argument("--device", default="cpu", help="for the torch backend")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/env_backends.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    envpool = importlib.util.find_spec("envpool") is not None
    backends = [b for b in args.backends if envpool or not b.startswith("envpool")]
    if backends != args.backends:
        print("envpool is not installed: its columns are left out (pip install -e .[envpool])")
    load_before = os.getloadavg()[0]
    plan = {CARTPOLE: args.num_envs, PONG: args.pong_num_envs}
    served = {env_id: [b for b in backends if env_id in BACKENDS[b].env_ids] for env_id in plan}
    rows = [
        row
        for env_id, sizes in plan.items()
        for n in sizes
        for row in compare(env_id, served[env_id], n, args.device, args.seconds, args.rounds)
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_avg_1min": [load_before, os.getloadavg()[0]],  # before and after: other jobs
        "torch": torch.__version__,
        "gymnasium": gym.__version__,
        "envpool": importlib.metadata.version("envpool") if envpool else None,
    }
    args.out.write_text(
        json.dumps({"machine": machine, "device": args.device, "rows": rows}, indent=2)
    )
    for env_id, sizes in plan.items():
        if sizes:
            print_table(env_id, served[env_id], sizes, rows)


if __name__ == "__main__":
    main()

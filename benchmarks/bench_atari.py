"""DQN on Atari: training throughput (env steps/s), where the time goes, and the memory it takes.

    python -m benchmarks.bench_atari [--accelerator cpu gpu] [--env-steps 20480] [--game ALE/Pong-v5]

Each accelerator runs `experiment=dqn_atari` in a fresh subprocess with a short warm-up, so most
of the budget is spent learning at the preset's replay ratio (64 updates of batch 32 per 256 env
steps), and one short evaluation at the end. Reported: the median of `perf/env_steps_per_sec`
over the training-metric windows after warm-up, the `perf/time_*` breakdown of the last window,
peak RSS and (on GPU) peak CUDA memory. Then, on the same device, the replay buffer itself: bytes
per transition and the time of one `sample()` of the preset's 64 x 32 windows, storing frames once
(`FrameStackReplayBuffer`) versus whole stacks (`ReplayBuffer`), as a ratio from the same run.
On a GPU machine, `scripts/gpu_check.sh` runs this with `--accelerator gpu cpu`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.bench_dqn_cartpole import spawn

PHASES = ("env", "act", "buffer", "update", "eval", "other")


def worker(accelerator: str, env_steps: int, game: str, torch_threads: int) -> dict:
    from litrl.config import compose_config
    from litrl.events import read_scalars
    from litrl.perf import rss_mb
    from litrl.train import run

    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-atari-{accelerator}-"))
    warmup = 2_048
    cfg = compose_config(
        [
            "experiment=dqn_atari",
            f"env.id={game}",
            f"accelerator={accelerator}",
            f"total_env_steps={env_steps}",
            f"algo.data.warmup_env_steps={warmup}",
            "algo.log_every_env_steps=2048",
            f"eval.every_env_steps={env_steps}",
            "eval.episodes=1",
            "eval.num_envs=1",
            "env.max_episode_steps=8000",  # frames: caps the final evaluation at 2,000 steps
            "video.every_n_evals=0",
            "progress_bar_refresh_steps=100000",
            f"run_dir={run_dir}",
            f"torch_threads={torch_threads}",  # 0: torch's default, one per core
        ]
    )
    started = time.time()
    run(cfg)
    seconds = time.time() - started
    scalars = read_scalars(run_dir)
    rates = [e.value for e in scalars["perf/env_steps_per_sec"] if e.step > warmup + 2_048]
    breakdown = {phase: scalars[f"perf/time_{phase}"][-1].value for phase in PHASES}
    return {
        "accelerator": accelerator,
        "device": torch.cuda.get_device_name() if accelerator == "gpu" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "game": game,
        "env_steps": env_steps,
        "env_steps_per_sec": statistics.median(rates),
        "wall_s": seconds,
        "breakdown": breakdown,
        "rss_mb": rss_mb(),
        "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if accelerator == "gpu" else None,
    }


def sample_cost(device: str, capacity: int = 20_000, num_envs: int = 8, repeats: int = 50) -> dict:
    """Bytes per transition and milliseconds per ``sample(64, 32, n_step=3)``, both buffers."""
    from litrl.data.buffers import ReplayBuffer
    from litrl.data.frame_stack_buffer import FrameStackReplayBuffer
    from litrl.data.record import transitions

    steps, shape = capacity // num_envs, (4, 84, 84)
    generator = torch.Generator().manual_seed(0)
    frames = torch.randint(
        0, 256, (steps + 4, num_envs, 84, 84), dtype=torch.uint8, generator=generator
    )
    frames[:3] = frames[3]  # the episode starts padded with its reset frame, as FrameStack does
    stacks = frames.unfold(0, 4, 1).permute(0, 1, 4, 2, 3)  # (steps + 1, envs, 4, 84, 84)
    chunk = transitions(
        obs=stacks[:steps].contiguous(),
        action=torch.zeros(steps, num_envs, dtype=torch.long),
        reward=torch.zeros(steps, num_envs),
        next_obs=stacks[1:].contiguous(),
        terminated=torch.zeros(steps, num_envs, dtype=torch.bool),
        truncated=torch.zeros(steps, num_envs, dtype=torch.bool),
    )
    result = {}
    for name, cls in (("whole_stacks", ReplayBuffer), ("frames_once", FrameStackReplayBuffer)):
        buffer = cls(capacity, num_envs, shape, device, torch.uint8)
        buffer.extend(chunk)
        buffer.sample(64, 32, n_step=3)  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(repeats):
            buffer.sample(64, 32, n_step=3)
        if device == "cuda":
            torch.cuda.synchronize()
        result[name] = {
            "bytes_per_transition": buffer.nbytes / capacity,
            "sample_ms": 1000 * (time.perf_counter() - started) / repeats,
        }
        del buffer
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accelerator", nargs="+", default=["cpu"], choices=["cpu", "gpu"])
    parser.add_argument("--env-steps", type=int, default=20_480, help="a multiple of 256")
    parser.add_argument("--game", default="ALE/Pong-v5")
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="0: one per core (torch's default)"
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/atari.json"))
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        accelerator, env_steps, game, threads = args.worker
        print(json.dumps(worker(accelerator, int(env_steps), game, int(threads))))
        return
    rows = [
        spawn(
            ["--worker", acc, str(args.env_steps), args.game, str(args.torch_threads)],
            module="benchmarks.bench_atari",
        )
        for acc in args.accelerator
    ]
    costs = {acc: sample_cost("cuda" if acc == "gpu" else "cpu") for acc in args.accelerator}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": rows, "sample_cost": costs}, indent=2))
    print("| accelerator | env steps/s | " + " | ".join(PHASES) + " | RSS MiB | CUDA peak MiB |")
    print("|---|---|" + "---|" * len(PHASES) + "---|---|")
    for r in rows:
        shares = " | ".join(f"{100 * r['breakdown'][p]:.1f}%" for p in PHASES)
        cuda = "—" if r["cuda_peak_mb"] is None else f"{r['cuda_peak_mb']:.0f}"
        print(
            f"| {r['accelerator']} ({r['device']}) | {r['env_steps_per_sec']:.0f} | {shares} "
            f"| {r['rss_mb']:.0f} | {cuda} |"
        )
    print("\n| accelerator | storage | bytes per transition | ms per sample(64 x 32) |")
    print("|---|---|---|---|")
    for accelerator, cost in costs.items():
        for name, c in cost.items():
            print(
                f"| {accelerator} | {name} | {c['bytes_per_transition']:,.0f} | {c['sample_ms']:.1f} |"
            )
        ratio = cost["frames_once"]["sample_ms"] / cost["whole_stacks"]["sample_ms"]
        print(f"| {accelerator} | frames_once / whole_stacks | | {ratio:.2f}x |")


if __name__ == "__main__":
    main()

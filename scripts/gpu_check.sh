#!/usr/bin/env bash
# GPU check (device machine), most important first, each step under its own time limit so one that
# hangs leaves the rest to run: the gpu-marked tests; the torch env backend's steps/s on CUDA
# (benchmarks/bench_env_backends.py); PPO on thousands of torch-backend CartPoles on the GPU (and
# the same command on the CPU, for a same-machine ratio); PPO, TD3 and SAC presets on the GPU; DQN
# on Pong's training throughput on GPU and CPU (benchmarks/bench_atari.py); PPO on Pong on the GPU;
# the default DQN CartPole command on accelerator=gpu and =cpu.
#   Usage: scripts/gpu_check.sh [OUT_DIR]
# OUT_DIR gets a few files only (the device tool returns at most 8): summary.txt (every step's
# result line, appended as it ends, so a run cut short still reports what finished), pytest.txt and
# the benchmarks' JSON. Run directories and full logs stay in $WORK (default /tmp/gpu-check); a
# failed step's log tail goes into summary.txt.
# Expects wheels in .whl/ (carried: it is git-ignored) for what the machine lacks: hydra-core,
# omegaconf, antlr4-python3-runtime, gymnasium, farama-notifications, ale-py (py3.12), and
# tensordict with pyvers (litrl's records; pure-Python wheels).
# EnvPool (optional step): the cp312 envpool wheel is 53 MB and `import envpool` also wants
# dm-env, optree, matplotlib, pillow and packaging (~20 MB more) and envpool_assets' atari/ folder
# (0.6 MB of a 62 MB wheel): more than the 64 MiB one device call carries. Carry them over two
# back-to-back calls (the machine keeps ignored files while warm), each installing its share with
# `pip install --no-index --no-deps --target /tmp/site`; PYTHONPATH=/tmp/site is set below.
set -uo pipefail
out=${1:-${OUT:-/tmp/gpu-check-out}}
work=${WORK:-/tmp/gpu-check}
mkdir -p "$out" "$work"
# /tmp/site: the carried wheels, installed by this call or an earlier one on the same machine.
if [ -d .whl ] && ! PYTHONPATH=/tmp/site python3 -c "import hydra, gymnasium, ale_py, cv2, tensordict" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
fi
if [ -d /tmp/site ]; then export PYTHONPATH=/tmp/site; fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
summary="$out/summary.txt"
say() { echo "$*" | tee -a "$summary"; }

# step NAME LIMIT_S CMD...: runs CMD with its output in $work/NAME.log; says its exit and seconds.
step() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$work/$name.log" 2>&1
  local rc=$?
  say "== $name: exit=$rc wall_s=$((SECONDS - start))"
  if [ $rc -ne 0 ]; then tail -15 "$work/$name.log" | sed 's/^/   | /' | tee -a "$summary"; fi
  return $rc
}

# scalars RUN_DIR: the run's throughput and evaluations, read from its TensorBoard events.
scalars() {
  python3 - "$1" <<'EOF' | tee -a "$summary"
import statistics, sys
from litrl.events import read_scalars
s = read_scalars(sys.argv[1])
rate = [x.value for x in s.get("perf/env_steps_per_sec", [])]
evals = [(x.step, round(x.value, 1)) for x in s.get("eval/return_mean", [])]
print("   env_steps/s median", round(statistics.median(rate)) if rate else None, "evals (step, return)", evals)
EOF
}

# train NAME LIMIT_S OVERRIDES...: train.py into $work/run-NAME, then its scalars.
train() {
  local name=$1 limit=$2
  shift 2
  rm -rf "$work/run-$name"  # a rerun starts afresh: litrl refuses a run dir that holds another run
  step "$name" "$limit" python3 train.py "$@" progress_bar_refresh_steps=0 video.every_n_evals=0 \
    hydra.run.dir="$work/run-$name" && scalars "$work/run-$name"
}

: > "$summary"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$summary"
python3 -c "import torch, lightning, gymnasium; print('torch', torch.__version__, 'lightning', lightning.__version__, 'gymnasium', gymnasium.__version__, 'cpus', __import__('os').cpu_count())" | tee -a "$summary"

step pytest-gpu 150 python3 -m pytest -p no:cacheprovider -q -m gpu tests/gpu
tail -5 "$work/pytest-gpu.log" | tee "$out/pytest.txt" | tee -a "$summary"

step env-backends-cuda 150 python3 -m benchmarks.bench_env_backends --device cuda \
  --backends gymnasium_sync torch torch_compile --num-envs 1024 8192 65536 --pong-num-envs \
  --seconds 2 --rounds 3 --out "$out/env_backends_cuda.json"
grep -E '^\|' "$work/env-backends-cuda.log" | tee -a "$summary"

# PPO on 4,096 and 16,384 torch-backend CartPoles: experiment=ppo_cartpole_torch's settings at
# rollouts of 16 steps per env, 4 minibatches an epoch.
for envs in 4096 16384; do
  train "ppo-torch-$envs-gpu" 90 experiment=ppo_cartpole_torch accelerator=gpu \
    algo.data.num_envs=$envs algo.data.env_steps_per_collect=$((envs * 16)) algo.batch_size=$((envs * 4)) \
    total_env_steps=$((envs * 16 * 24)) eval.every_env_steps=$((envs * 16 * 4)) \
    algo.log_every_env_steps=$((envs * 16))
done
train ppo-torch-4096-cpu 90 experiment=ppo_cartpole_torch accelerator=cpu torch_threads=0 \
  algo.data.num_envs=4096 algo.data.env_steps_per_collect=65536 algo.batch_size=16384 \
  total_env_steps=393216 eval.every_env_steps=131072 algo.log_every_env_steps=65536

for preset in ppo_cartpole ppo_pendulum; do
  train "$preset-gpu" 60 experiment=$preset accelerator=gpu total_env_steps=20480
done
# 2,000 updates after a 1,000-step warm-up: a speed figure (the presets' own warm-ups, TD3's 10k,
# would leave no updates in so short a run: a ConfigError)
for preset in td3_pendulum sac_pendulum; do
  train "$preset-gpu" 60 experiment=$preset accelerator=gpu total_env_steps=3000 \
    algo.data.warmup_env_steps=1000 eval.every_env_steps=3000
done

step atari-dqn 150 python3 -m benchmarks.bench_atari --accelerator gpu cpu \
  --env-steps "${ATARI_STEPS:-10240}" --out "$out/atari.json"
grep -v '^\s*$' "$work/atari-dqn.log" | tail -20 | tee -a "$summary"

train ppo-atari-gpu 90 experiment=ppo_atari accelerator=gpu total_env_steps=20480 \
  eval.every_env_steps=20480 eval.episodes=1 eval.num_envs=1 algo.log_every_env_steps=2048

# Issue 15's last figure: PPO on Pong, EnvPool against the gymnasium backend, on the GPU. Only
# where envpool imports: its wheels exceed what one device call carries (see the header).
if python3 -c "import envpool" 2>/dev/null; then
  step ppo-atari-envpool-gpu 300 python3 -m benchmarks.bench_ppo_atari --device cuda \
    --libs litrl_gymnasium litrl_envpool --env-steps 8192 --rounds 1 --out "$out/ppo_atari_gpu.json"
  grep -E '^\||x$' "$work/ppo-atari-envpool-gpu.log" | tee -a "$summary"
else
  say "== ppo-atari-envpool-gpu: skipped (envpool does not import)"
fi

for acc in gpu cpu; do  # the README's command
  train "dqn-cartpole-$acc" 90 accelerator=$acc total_env_steps="${STEPS:-10000}"
done
say "== done"

#!/usr/bin/env bash
# GPU check (device machine): the gpu-marked tests, the CartPole command on accelerator=gpu and,
# for a same-machine ratio, on accelerator=cpu, then DQN on Pong's training throughput on both
# (benchmarks/bench_atari.py), PPO on CartPole and Pendulum, TD3 and SAC on Pendulum on the GPU, and the
# torch env backend's steps/s on CUDA (benchmarks/bench_env_backends.py). Usage: scripts/gpu_check.sh [OUT_DIR]
# Expects wheels in .whl/ (carried: it is git-ignored) for what the machine lacks: hydra-core,
# omegaconf, antlr4, gymnasium, farama-notifications, ale-py, opencv-python-headless (py3.12).
set -uo pipefail
out=${1:-${OUT:-/tmp/gpu-check}}
mkdir -p "$out"
if [ -d .whl ] && ! python3 -c "import hydra, gymnasium, ale_py, cv2" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__)" | tee -a "$out/gpu.txt"
python3 -m pytest -p no:cacheprovider -q -m gpu tests/gpu 2>&1 | tail -5 | tee "$out/pytest.txt"
for acc in gpu cpu; do
  rm -rf "$out/run-$acc"  # a rerun starts afresh: litrl refuses a run dir that holds another run
  start=$(python3 -c "import time; print(time.time())")
  python3 train.py accelerator=$acc total_env_steps=${STEPS:-20000} progress_bar_refresh_steps=1000 \
    hydra.run.dir="$out/run-$acc" > "$out/train-$acc.log" 2>&1
  echo "accelerator=$acc exit=$? wall_s=$(python3 -c "import time; print(round(time.time() - $start, 1))")" | tee -a "$out/summary.txt"
  tail -1 "$out/train-$acc.log" | tee -a "$out/summary.txt"
  python3 -c "
import statistics, sys
from litrl.events import read_scalars
s = read_scalars('$out/run-$acc')
print('  env_steps/s median', round(statistics.median(x.value for x in s['perf/env_steps_per_sec'])),
      'evals', [round(x.value) for x in s['eval/return_mean']])" | tee -a "$out/summary.txt"
done
for preset in ppo_cartpole ppo_pendulum td3_pendulum sac_pendulum; do  # the new algorithms on the GPU
  rm -rf "$out/run-$preset"
  python3 train.py experiment=$preset accelerator=gpu total_env_steps=40960 progress_bar_refresh_steps=1000 \
    video.every_n_evals=0 hydra.run.dir="$out/run-$preset" > "$out/train-$preset.log" 2>&1
  echo "experiment=$preset accelerator=gpu exit=$?" | tee -a "$out/summary.txt"
  tail -1 "$out/train-$preset.log" | tee -a "$out/summary.txt"
done
python3 -m benchmarks.bench_atari --accelerator gpu cpu --env-steps "${ATARI_STEPS:-20480}" \
  --out "$out/atari.json" 2>&1 | tee "$out/atari.txt"
python3 -m benchmarks.bench_env_backends --device cuda --num-envs 1024 8192 65536 --seconds 3 \
  2>&1 | tee "$out/env_backends_cuda.txt"

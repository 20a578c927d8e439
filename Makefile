# litrl — `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch 2.13.0 is pinned for the bootstrap: on this project's CPU machines pip takes it from a
# local wheel instead of downloading a multi-GB CUDA build. On a GPU box, `make TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install train test test-all test-envpool smoke bench lint format tensorboard clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## create .venv and install litrl (re-runs when pyproject.toml changes)

train: $(STAMP) ## train DQN on CartPole (extra overrides: make train ARGS="seed=1")
	$(BIN)/python train.py algo=dqn env=cartpole $(ARGS)

test: $(STAMP) ## the fast test suite (5-10 minutes on 2 cores)
	$(BIN)/python -m pytest

test-all: $(STAMP) ## every test, the slow learning tests included
	$(BIN)/python -m pytest -m "slow or not slow"

test-envpool: $(STAMP) ## install the envpool extra (~325 MB download) and run the EnvPool backend's tests
	$(BIN)/python -m pip install --quiet -e ".[dev,envpool]"
	$(BIN)/python -m pytest tests/unit/test_envpool.py tests/e2e/test_envpool.py

smoke: $(STAMP) ## a few seconds of training on CPU
	$(BIN)/python train.py debug=smoke

bench: $(STAMP) ## benchmarks (~4 h): DQN vs SB3 and plain PyTorch, REINFORCE vs the classic example, PPO/A2C vs SB3 and plain PyTorch, TD3/SAC vs SB3 and plain PyTorch, memory over a long run, parallel sweeps, tuned presets, Atari throughput, env backends' steps/s, slow tests
	$(BIN)/python -m pip install --quiet -e ".[dev,bench,envpool]"
	$(BIN)/python -m benchmarks.bench_dqn_cartpole
	$(BIN)/python -m benchmarks.bench_reinforce_cartpole
	$(BIN)/python -m benchmarks.bench_reinforce_cartpole --held-out
	$(BIN)/python -m benchmarks.bench_actor_critic
	$(BIN)/python -m benchmarks.bench_actor_critic --cases ppo_cartpole_torch --seeds 100 101 102 103 104 105 106 107 108 109 --out outputs/bench/actor_critic_torch_held_out.json
	$(BIN)/python -m benchmarks.bench_ppo_tax
	$(BIN)/python -m benchmarks.bench_offpolicy_tax
	$(BIN)/python -m benchmarks.bench_continuous
	$(BIN)/python -m benchmarks.bench_continuous --cases td3_pendulum_fast --env-steps 16000 --out outputs/bench/continuous_td3_fast.json
	$(BIN)/python -m benchmarks.bench_continuous --cases sac_pendulum_fast --env-steps 8000 --out outputs/bench/continuous_sac_fast.json
	$(BIN)/python -m benchmarks.bench_memory
	$(BIN)/python -m benchmarks.bench_sweep
	$(BIN)/python -m benchmarks.bench_presets
	$(BIN)/python -m benchmarks.bench_presets --presets td3_pendulum sac_pendulum td3_pendulum_fast sac_pendulum_fast --seeds 100 101 102 103 104 105 106 107 108 109 --threshold -200 --out outputs/bench/presets_continuous_held_out.json
	$(BIN)/python -m benchmarks.bench_atari
	$(BIN)/python -m benchmarks.bench_env_backends
	$(BIN)/python -m benchmarks.bench_ppo_atari
	$(BIN)/python -m pytest -m slow

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check src tests benchmarks examples train.py evaluate.py
	$(BIN)/ruff format --check src tests benchmarks examples train.py evaluate.py
	$(BIN)/mypy

format: $(STAMP) ## apply ruff's formatting and fixes
	$(BIN)/ruff format src tests benchmarks examples train.py evaluate.py
	$(BIN)/ruff check --fix src tests benchmarks examples train.py evaluate.py

tensorboard: $(STAMP) ## serve TensorBoard over outputs/
	$(BIN)/tensorboard --logdir outputs

clean: ## remove run outputs and caches (keeps .venv)
	rm -rf outputs .pytest_cache .mypy_cache .ruff_cache

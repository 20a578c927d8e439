"""A2C and PPO end to end: metrics, the on-policy guarantee, normaliser statistics, and
REINFORCE's behaviour pinned across the algorithm-contract refactor."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

import litrl.algos.ppo
from litrl.data.datamodule import OnPolicyDataModule
from litrl.errors import TrainingDiverged
from litrl.evaluate import load_agent
from litrl.events import read_scalars
from litrl.resume import load_checkpoint
from litrl.train import run

COMMON = {
    "train/policy_loss",
    "train/value_loss",
    "train/entropy",
    "train/approx_kl",
    "train/explained_variance",
    "train/lr",
    "train/grad_norm",
    "train/episode_return",
    "eval/return_mean",
    "perf/env_steps_per_sec",
}


@pytest.mark.parametrize("env", ["cartpole", "pendulum"])
@pytest.mark.parametrize("algo", ["a2c", "ppo"])
def test_tiny_run_logs_actor_critic_metrics(smoke_cfg, algo: str, env: str):
    cfg = smoke_cfg(f"algo={algo}", f"env={env}")
    run(cfg)
    scalars = read_scalars(Path(cfg.run_dir))
    expected = COMMON | ({"train/clip_fraction", "train/clip_range"} if algo == "ppo" else set())
    assert expected <= set(scalars)
    assert [e.step for e in scalars["eval/return_mean"]] == [1024, 2048]
    # PPO: 10 epochs x 4 minibatches of 64 per 256-step rollout; A2C: one update per rollout
    per_rollout = 40 if algo == "ppo" else 1
    assert scalars["train/updates"][-1].value == 8 * per_rollout


class _Unsized(IterableDataset):
    """The same stream without a length: Lightning then prefetches one batch ahead."""

    def __init__(self, datamodule: OnPolicyDataModule) -> None:
        self.datamodule = datamodule

    def __iter__(self):
        for _ in range(self.datamodule.num_training_steps):
            yield self.datamodule.next_batch()


@pytest.mark.parametrize("algo", ["reinforce", "a2c", "ppo"])
def test_a_prefetched_stale_rollout_is_refused(smoke_cfg, monkeypatch, algo: str):
    monkeypatch.setattr(
        OnPolicyDataModule,
        "train_dataloader",
        lambda self: DataLoader(_Unsized(self), batch_size=None, collate_fn=lambda item: item),
    )
    with pytest.raises(RuntimeError, match="on-policy violation"):
        run(smoke_cfg(f"algo={algo}"))


def test_every_ppo_epoch_starts_from_the_collecting_policy(smoke_cfg, monkeypatch):
    """The first minibatch of each rollout sees ratio 1: its old log-probs are those of the
    parameters that collected it, so nothing was updated between collecting and learning."""
    log_ratios: list[torch.Tensor] = []
    kl = litrl.algos.ppo.approx_kl

    def recording_kl(log_ratio: torch.Tensor) -> torch.Tensor:
        log_ratios.append(log_ratio)
        return kl(log_ratio)

    monkeypatch.setattr(litrl.algos.ppo, "approx_kl", recording_kl)
    run(smoke_cfg("algo=ppo", "algo.n_epochs=2"))
    per_rollout = 2 * 4  # epochs x minibatches
    assert len(log_ratios) == 8 * per_rollout
    firsts = log_ratios[::per_rollout]
    assert all(torch.allclose(r, torch.zeros_like(r), atol=1e-5) for r in firsts)
    assert any(r.abs().max() > 1e-3 for r in log_ratios[1:per_rollout])  # later ones moved


def test_normaliser_statistics_are_checkpointed_and_loaded_by_evaluate(smoke_cfg):
    cfg = smoke_cfg("algo=ppo", "algo.normalize_obs=true", "algo.normalize_reward=true")
    run(cfg)
    checkpoint_path = Path(cfg.run_dir) / "checkpoints" / "last.ckpt"
    state = load_checkpoint(checkpoint_path)["state_dict"]
    assert state["obs_stats.count"].item() == pytest.approx(2048, abs=1)  # every rollout's obs
    assert state["reward_scaler.returns.count"].item() == pytest.approx(2048, abs=1)
    agent, _ = load_agent(checkpoint_path)
    assert torch.equal(agent.obs_stats.mean, state["obs_stats.mean"])
    obs = torch.randn(4, 4)
    before = agent.obs_stats.mean.clone()
    agent.act(obs, env_steps=0, greedy=True)  # acting never moves the statistics
    assert torch.equal(agent.obs_stats.mean, before)


@pytest.mark.parametrize("algo", ["ppo", "reinforce"])
def test_observation_statistics_stop_after_normalize_obs_env_steps(smoke_cfg, algo: str):
    cfg = smoke_cfg(f"algo={algo}", "algo.normalize_obs=true", "algo.normalize_obs_env_steps=768")
    run(cfg)
    state = load_checkpoint(Path(cfg.run_dir) / "checkpoints" / "last.ckpt")["state_dict"]
    # Rollouts of 256 env steps: those ending at 256, 512 and 768 update them, later ones do not.
    assert state["obs_stats.count"].item() == pytest.approx(768, abs=1)


def test_a_limit_below_one_rollout_still_takes_the_first_rollouts_statistics(smoke_cfg):
    cfg = smoke_cfg("algo=ppo", "algo.normalize_obs=true", "algo.normalize_obs_env_steps=100")
    run(cfg)
    state = load_checkpoint(Path(cfg.run_dir) / "checkpoints" / "last.ckpt")["state_dict"]
    assert state["obs_stats.count"].item() == pytest.approx(256, abs=1)


def test_reinforce_value_steps_fit_v_and_leave_the_policy_step_alone(tmp_path, compose):
    states = {}
    for steps in (1, 5):
        cfg = compose(
            "algo=reinforce", f"algo.value_steps={steps}", "total_env_steps=256",
            "eval.every_env_steps=256", run_dir=tmp_path / str(steps),
        )  # fmt: skip
        run(cfg)
        checkpoint = load_checkpoint(Path(cfg.run_dir) / "checkpoints" / "last.ckpt")
        states[steps] = (checkpoint["state_dict"], read_scalars(Path(cfg.run_dir)))
    (one, one_scalars), (five, five_scalars) = states[1], states[5]
    # One rollout: the policy's step is the same (the extra steps give it no gradient, so
    # Adam's momentum does not move it); only the value network moves on.
    for name in one:
        same = torch.equal(one[name], five[name])
        assert same == (not name.startswith("net.value")), name
    assert [p.value for p in five_scalars["train/updates"]] == [5.0]
    assert [p.value for p in one_scalars["train/updates"]] == [1.0]


# Eval returns of REINFORCE at commit 81ba173, before it was rebuilt on the algorithm
# contract (recorded with these overrides, on env=pendulum's former REINFORCE settings).
PINNED = {
    "cartpole value baseline": (
        ["env=cartpole", "total_env_steps=8192", "eval.every_env_steps=2048",
         "algo.data.env_steps_per_collect=1024", "algo.value_steps=1"],
        [33.0, 50.5, 46.0, 58.0],
    ),
    "cartpole running mean, total return, clipped": (
        ["env=cartpole", "total_env_steps=4096", "eval.every_env_steps=2048",
         "algo.data.env_steps_per_collect=512", "algo.baseline=running_mean",
         "algo.return_estimator=total", "algo.grad_clip_norm=0.5"],
        [230.5, 52.5],
    ),
    "pendulum gaussian, learned log-std": (
        ["experiment=reinforce_pendulum", "total_env_steps=4096", "eval.every_env_steps=2048",
         "algo.data.env_steps_per_collect=1024", "algo.log_std=learned", "algo.value_steps=1",
         "accelerator=cpu", "video.every_n_evals=0", "eval.episodes=2", "eval.num_envs=2"],
        [-1031.6051025390625, -1074.9420166015625],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", PINNED)
def test_reinforce_returns_are_unchanged_by_the_contract_refactor(smoke_cfg, case: str):
    overrides, returns = PINNED[case]
    cfg = smoke_cfg("algo=reinforce", *overrides)
    run(cfg)
    evals = [e.value for e in read_scalars(Path(cfg.run_dir))["eval/return_mean"]]
    assert evals == pytest.approx(returns, rel=1e-6)


@pytest.mark.parametrize("algo", ["a2c", "ppo"])
def test_nan_parameters_end_as_a_diverged_run_not_a_distribution_error(smoke_cfg, algo: str):
    # A learning rate this large turns the parameters inf/NaN in the first updates; the
    # distributions must pass NaNs on to the loss, where the divergence check names the run.
    with pytest.raises(TrainingDiverged, match=r"a loss became (nan|inf)"):
        run(smoke_cfg(f"algo={algo}", "algo.lr=1e30", "algo.max_grad_norm=null"))

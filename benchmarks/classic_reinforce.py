"""The classic PyTorch REINFORCE example, rewritten as a reference for litrl's REINFORCE.

What it follows: a 4-128-2 policy with dropout 0.6, Adam with lr 1e-2, gamma 0.99, one update
after every episode, returns normalised within each episode, and the running-reward
"solved" test (exponential average of episode returns, weight 0.05). Evaluation is added the
way litrl evaluates: greedy episodes every fixed number of env steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import Categorical


class DropoutPolicy(nn.Module):
    def __init__(self, obs_size: int = 4, n_actions: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(obs_size, 128), nn.Dropout(p=0.6), nn.ReLU(), nn.Linear(128, n_actions)
        )

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs).softmax(dim=-1)


class GreedyActor:
    """Adapts the policy to litrl's evaluation (dropout off, argmax actions)."""

    def __init__(self, policy: DropoutPolicy) -> None:
        self.policy = policy

    @torch.no_grad()
    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        self.policy.eval()
        actions = self.policy(obs).argmax(dim=-1)
        self.policy.train()
        return actions


def train_classic(
    seed: int,
    total_env_steps: int,
    eval_every_env_steps: int,
    evaluate: Callable[[GreedyActor, int], float],
    stop_when_solved: bool = False,
) -> dict:
    """Trains until the budget is spent (or, if asked, until both solve criteria are met);
    returns the eval history and when the running-reward criterion was met."""
    torch.manual_seed(seed)
    env = gym.make("CartPole-v1")
    policy = DropoutPolicy()
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
    eps = np.finfo(np.float32).eps.item()
    running_reward, env_steps, episode = 10.0, 0, 0
    next_eval = eval_every_env_steps
    started = time.time()
    evals: list[tuple[int, float, float]] = []
    running_solved: tuple[int, float] | None = None
    obs, _ = env.reset(seed=seed)
    while env_steps < total_env_steps:
        log_probs, rewards = [], []
        done = False
        while not done:
            probs = policy(torch.as_tensor(obs, dtype=torch.float32))
            distribution = Categorical(probs)
            action = distribution.sample()
            log_probs.append(distribution.log_prob(action))
            obs, reward, terminated, truncated, _ = env.step(action.item())
            rewards.append(float(reward))
            env_steps += 1
            done = terminated or truncated
            if env_steps >= next_eval:
                # Timed once the evaluation is done, as litrl's eval events are.
                eval_return = evaluate(GreedyActor(policy), len(evals))
                evals.append((env_steps, time.time() - started, eval_return))
                next_eval += eval_every_env_steps
        episode += 1
        obs, _ = env.reset()
        running_reward = 0.05 * sum(rewards) + 0.95 * running_reward
        if running_solved is None and running_reward > 475:
            running_solved = (env_steps, time.time() - started)
        returns, future = [], 0.0
        for reward in reversed(rewards):
            future = reward + 0.99 * future
            returns.insert(0, future)
        returns_t = torch.tensor(returns)
        returns_t = (returns_t - returns_t.mean()) / (returns_t.std() + eps)
        loss = -(torch.stack(log_probs) * returns_t).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if stop_when_solved and running_solved and _streak(evals):
            break
    return {
        "evals": evals,
        "running_solved": running_solved,
        "seconds": time.time() - started,
        "env_steps": env_steps,
    }


def _streak(evals: list[tuple[int, float, float]]) -> bool:
    return any(min(e[2] for e in evals[i : i + 3]) >= 475 for i in range(len(evals) - 2))

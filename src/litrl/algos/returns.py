"""Return and advantage estimators over time-major ``(steps, num_envs)`` rollouts that cross
episode ends: Monte-Carlo reward-to-go, whole-episode returns, GAE; and the clipped double-Q
target of replayed n-step windows."""

from __future__ import annotations

import torch
from torch import Tensor


def reward_to_go(
    reward: Tensor,
    terminated: Tensor,
    episode_ended: Tensor,
    gamma: float,
    next_value: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Discounted reward-to-go ``G_t = r_t + gamma * G_{t+1}`` within each episode.

    Args:
        reward: ``(T, N)`` rewards.
        terminated: ``(T, N)`` True where the episode ended for good (nothing follows).
        episode_ended: ``(T, N)`` True where the episode ended, by termination or truncation.
        gamma: discount factor.
        next_value: ``(T, N)`` value estimates of each step's next observation, or None. Used
            where an episode was truncated and at the last row, where the episode goes on past
            the rollout; without it a truncated episode counts as finished and steps whose
            episode goes on past the rollout have no known return.

    Returns:
        ``(returns, known)``: the reward-to-go, and where it is known (the episode finished
        inside the rollout, or ``next_value`` stood in for the rest).
    """
    steps = reward.shape[0]
    returns = torch.zeros_like(reward)
    known = torch.zeros_like(episode_ended)
    if next_value is None:
        running = torch.zeros_like(reward[0])
        running_known = torch.zeros_like(episode_ended[0])
    else:
        running = next_value[-1]
        running_known = torch.ones_like(episode_ended[0])
    for t in reversed(range(steps)):
        ended = episode_ended[t]
        restart = torch.zeros_like(running) if next_value is None else next_value[t]
        restart = torch.where(terminated[t], torch.zeros_like(restart), restart)
        follow = torch.where(ended, restart, running)
        returns[t] = reward[t] + gamma * follow
        known[t] = ended | running_known
        running, running_known = returns[t], known[t]
    return returns, known


def episode_return_per_step(
    returns: Tensor, episode_ended: Tensor, fresh_start: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Each step weighted by its whole episode's discounted return ``R(tau)`` (the notes' formula).

    An episode's return is the reward-to-go at its first step, so only episodes that start
    inside the rollout have one; steps of an episode already running when the rollout began
    are marked unknown.

    Args:
        returns: ``(T, N)`` reward-to-go from ``reward_to_go``.
        episode_ended: ``(T, N)`` episode ends.
        fresh_start: ``(N,)`` True for envs whose episode starts with the rollout.

    Returns:
        ``(episode_return, started_inside)``, both ``(T, N)``.
    """
    episode_return = torch.empty_like(returns)
    current = returns[0]
    for t in range(returns.shape[0]):
        episode_return[t] = current
        if t + 1 < returns.shape[0]:
            current = torch.where(episode_ended[t], returns[t + 1], current)
    ends_before = torch.cumsum(episode_ended.long(), dim=0) - episode_ended.long()
    started_inside = ends_before > 0
    if fresh_start is not None:
        started_inside |= fresh_start.unsqueeze(0)
    return episode_return, started_inside


def gae(
    reward: Tensor,
    value: Tensor,
    next_value: Tensor,
    terminated: Tensor,
    episode_ended: Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over a ``(T, N)`` rollout.

    ``delta_t = r_t + gamma * (1 - terminated_t) * V(s'_t) - V(s_t)`` and
    ``A_t = delta_t + gamma * lambda * (1 - ended_t) * A_{t+1}``, with ``A_T = 0`` past the
    rollout's end. ``lambda = 0`` gives the one-step TD error; ``lambda = 1`` the discounted
    return minus V, bootstrapped from V(s') where the episode was truncated or goes on past
    the rollout.

    Args:
        reward: ``(T, N)`` rewards.
        value: ``(T, N)`` V(s_t) of each step's observation.
        next_value: ``(T, N)`` V(s'_t) of each step's next observation (a truncated episode's
            final observation, not the reset one).
        terminated: ``(T, N)`` True where the episode ended for good: no bootstrap.
        episode_ended: ``(T, N)`` True where it ended by termination or truncation: the
            advantage does not reach across into the next episode.
        gamma: discount factor.
        gae_lambda: the bias-variance trade-off, in [0, 1].

    Returns:
        ``(advantages, returns)``, both ``(T, N)``; ``returns = advantages + value`` are the
        value function's regression targets.
    """
    delta = reward + gamma * next_value * (~terminated) - value
    carry = gamma * gae_lambda * (~episode_ended)
    advantages = torch.empty_like(delta)
    running = torch.zeros_like(delta[0])
    for t in reversed(range(delta.shape[0])):
        running = torch.addcmul(delta[t], carry[t], running)
        advantages[t] = running
    return advantages, advantages + value


def standardize(values: Tensor, mask: Tensor | None = None) -> Tensor:
    """Zero mean and unit std over the ``mask``ed entries (all of them by default): the
    per-batch normalisation of returns and advantages. Fewer than two entries are only centred."""
    selected = values if mask is None else values[mask]
    if selected.numel() < 2:
        return values - selected.mean() if selected.numel() else values
    return (values - selected.mean()) / (selected.std() + 1e-8)


def clipped_double_q_target(
    next_q: Tensor,
    rewards: Tensor,
    terminated: Tensor,
    bootstrap_steps: Tensor,
    gamma: float,
) -> Tensor:
    """The n-step target bootstrapped on the smallest of several critics' estimates (TD3, SAC).

    target = sum_k gamma^k r_k + gamma^steps * (1 - terminated) * min_i next_q[i].

    Args:
        next_q: ``(n_critics, batch)`` target critics' values of the next observation and the
            next action (SAC subtracts its entropy term before calling).
        rewards: ``(batch, n_step)`` rewards, zero past each window's end.
        terminated: ``(batch,)`` the window's last step ended the episode for good.
        bootstrap_steps: ``(batch,)`` steps from the observation to the next one.
        gamma: discount factor.
    """
    return n_step_target(next_q.min(dim=0).values, rewards, terminated, bootstrap_steps, gamma)


def n_step_target(
    next_value: Tensor,
    rewards: Tensor,
    terminated: Tensor,
    bootstrap_steps: Tensor,
    gamma: float,
) -> Tensor:
    """The n-step target of replayed windows: ``sum_k gamma^k r_k + gamma^steps * (1 - terminated)
    * next_value``, with the shapes of ``clipped_double_q_target`` (``next_value``: ``(batch,)``)."""
    discounts = gamma ** torch.arange(rewards.shape[1], device=rewards.device)
    n_step_return = (rewards * discounts).sum(dim=1)
    # termination zeroes the bootstrap; truncation (a time limit) does not.
    bootstrap = gamma**bootstrap_steps * next_value * (~terminated)
    return n_step_return + bootstrap

"""Monte-Carlo returns over time-major ``(steps, num_envs)`` rollouts that cross episode ends."""

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

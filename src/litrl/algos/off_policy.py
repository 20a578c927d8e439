"""What the replay-based algorithms (DQN, TD3, SAC) share: one collect's replay sample split
into minibatches, and Polyak averaging of target networks."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from tensordict import TensorDict
from torch import nn

from litrl.errors import ConfigError


def replay_minibatches(sample: TensorDict, n_step: int) -> Iterator[TensorDict]:
    """The minibatches of one collect's replay sample (stacked ``(updates, batch, ...)``), after
    checking that its windows are as long as the algorithm's ``n_step``."""
    if sample["rewards"].shape[-1] != n_step:
        raise ConfigError(
            f"algo.n_step={n_step} but the replay windows hold {sample['rewards'].shape[-1]} "
            "steps; set the DataModule's n_step to the same value."
        )
    yield from sample.unbind(0)


@torch.no_grad()
def soft_update(target_net: nn.Module, online_net: nn.Module, tau: float) -> None:
    """Polyak averaging: target <- tau * online + (1 - tau) * target, one fused call."""
    torch._foreach_lerp_(list(target_net.parameters()), list(online_net.parameters()), tau)

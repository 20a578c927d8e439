"""Policy and value networks shared by the policy-gradient algorithms (REINFORCE, A2C, PPO).

A policy maps observations to an action distribution: ``Categorical`` for Discrete actions, a
diagonal ``Normal`` for 1-D Box actions, whose log-std is one learned number per action
dimension (``state_independent``) or a second output of the network (``learned``). Box actions
are sampled unbounded and clipped only where they enter the env (``litrl.envs.spaces.EnvActions``), so the
stored action is the one whose log-probability the loss uses.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from litrl.errors import check_choice
from litrl.nets import obs_encoder, trunk

LOG_STDS = ("state_independent", "learned")
# A learned log-std is clamped here, so that exp() neither vanishes nor overflows.
LOG_STD_RANGE = (-20.0, 2.0)


class PolicyHead(nn.Module):
    """The last layer of a policy: features in, an action distribution out.

    Args:
        in_features: width of the features.
        n_actions: size of a Discrete action space; 0 for a Box space.
        action_dim: size of a 1-D Box action space; 0 for a Discrete one.
        log_std: Box actions: ``state_independent`` or ``learned`` (see the module docstring).
        log_std_init: the initial log-std of a Box policy.
    """

    def __init__(
        self,
        in_features: int,
        n_actions: int,
        action_dim: int = 0,
        log_std: str = "state_independent",
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        check_choice("algo.log_std", log_std, LOG_STDS)
        self.continuous = action_dim > 0
        self.action_dim, self.log_std_init = action_dim, float(log_std_init)
        self.learned_log_std = self.continuous and log_std == "learned"
        outputs = (2 * action_dim if self.learned_log_std else action_dim) or n_actions
        self.linear = nn.Linear(in_features, outputs)
        self.log_std = (
            nn.Parameter(torch.full((action_dim,), self.log_std_init))
            if self.continuous and log_std == "state_independent"
            else None
        )
        if self.learned_log_std:
            with torch.no_grad():  # the log-std outputs start around log_std_init
                self.linear.bias[action_dim:] += self.log_std_init

    def orthogonal_init(self) -> None:
        """Orthogonal output weights with gain 0.01 (near-uniform initial actions), zero
        biases, and the learned log-std outputs at ``log_std_init``."""
        nn.init.orthogonal_(self.linear.weight, 0.01)
        with torch.no_grad():
            self.linear.bias.zero_()
            if self.learned_log_std:
                self.linear.bias[self.action_dim :] = self.log_std_init

    def greedy(self, features: Tensor) -> Tensor:
        """The most likely action, read off the outputs without building the distribution (a
        third of a small batch's greedy step): the largest logit (softmax keeps the order), or
        the Gaussian's mean."""
        output = self.linear(features)
        if not self.continuous:
            return output.argmax(dim=-1)
        return output if self.log_std is not None else output[..., : self.action_dim]

    def forward(self, features: Tensor) -> Distribution:
        # No argument validation: it would sync with the device on every call, and NaN
        # parameters must reach the loss (and the divergence check), not raise in here.
        output = self.linear(features)
        if not self.continuous:
            return Categorical(logits=output, validate_args=False)
        if self.log_std is not None:
            mean, log_std = output, self.log_std.expand_as(output)
        else:
            mean, log_std = output.chunk(2, dim=-1)
            log_std = log_std.clamp(*LOG_STD_RANGE)
        return Independent(Normal(mean, log_std.exp(), validate_args=False), 1, validate_args=False)


class ActorCritic(nn.Module):
    """A policy and, optionally, a state-value function V(s), with shared or separate trunks.

    Separate trunks each get their own copy of the observation encoder (a Nature CNN for
    frames); a shared trunk feeds both heads from one pass (the Atari setup of A2C and PPO).

    Args:
        obs_shape: shape of one observation.
        n_actions: size of a Discrete action space; 0 for a Box space.
        action_dim: size of a 1-D Box action space; 0 for a Discrete one.
        obs_categories: size of a Discrete observation space (one-hot); 0 for Box.
        image_obs: observations are stacked uint8 frames (a Nature CNN reads them).
        hidden_sizes: the policy trunk's hidden widths (the shared trunk's, if shared).
        value_hidden_sizes: the value trunk's hidden widths; None: no value function.
        activation: hidden-layer activation.
        shared_trunk: one trunk under both heads (``value_hidden_sizes`` is then unused).
        log_std: Box actions: ``state_independent`` or ``learned``.
        log_std_init: the initial log-std of a Box policy.
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        n_actions: int,
        action_dim: int = 0,
        obs_categories: int = 0,
        image_obs: bool = False,
        hidden_sizes: Sequence[int] = (64, 64),
        value_hidden_sizes: Sequence[int] | None = (64, 64),
        activation: str = "tanh",
        shared_trunk: bool = False,
        log_std: str = "state_independent",
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        encoder, in_features = obs_encoder(obs_shape, obs_categories, image_obs)
        self.policy_trunk, width = trunk(encoder, in_features, hidden_sizes, activation)
        self.policy_head = PolicyHead(width, n_actions, action_dim, log_std, log_std_init)
        self.value_trunk: nn.Module | None = None
        self.value_head: nn.Linear | None = None
        if shared_trunk:
            self.value_head = nn.Linear(width, 1)
        elif value_hidden_sizes is not None:
            self.value_trunk, value_width = trunk(
                copy.deepcopy(encoder), in_features, value_hidden_sizes, activation
            )
            self.value_head = nn.Linear(value_width, 1)

    @property
    def has_value(self) -> bool:
        return self.value_head is not None

    def distribution(self, obs: Tensor) -> Distribution:
        """The policy's action distribution for a batch of observations."""
        return self.policy_head(self.policy_trunk(obs))

    def greedy_action(self, obs: Tensor) -> Tensor:
        """The policy's most likely actions for a batch of observations (the evaluations')."""
        return self.policy_head.greedy(self.policy_trunk(obs))

    def value(self, obs: Tensor) -> Tensor:
        """V(s) for a batch of observations, shape ``(batch,)``."""
        assert self.value_head is not None, "built without a value function"
        features = self.policy_trunk(obs) if self.value_trunk is None else self.value_trunk(obs)
        return self.value_head(features).squeeze(-1)

    def distribution_and_value(self, obs: Tensor) -> tuple[Distribution, Tensor]:
        """Both heads; a shared trunk runs once."""
        features = self.policy_trunk(obs)
        assert self.value_head is not None, "built without a value function"
        if self.value_trunk is not None:
            return self.policy_head(features), self.value(obs)
        return self.policy_head(features), self.value_head(features).squeeze(-1)

    def policy_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters the policy's loss trains (a shared trunk's included)."""
        yield from self.policy_trunk.parameters()
        yield from self.policy_head.parameters()

    def value_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters only the value loss trains."""
        if self.value_trunk is not None:
            yield from self.value_trunk.parameters()
        if self.value_head is not None:
            yield from self.value_head.parameters()

    def orthogonal_init(self) -> None:
        """The initialisation of the PPO implementation details (Huang et al. 2022).

        Hidden layers get orthogonal weights with gain sqrt(2), the policy's output layer 0.01
        (near-uniform initial actions), the value's output layer 1; biases are zero.
        """
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.orthogonal_(module.weight, math.sqrt(2))
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        self.policy_head.orthogonal_init()
        if self.value_head is not None:
            nn.init.orthogonal_(self.value_head.weight, 1.0)

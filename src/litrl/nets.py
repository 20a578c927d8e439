"""Network builders."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from litrl.errors import check_choice

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


class OneHot(nn.Module):
    """Discrete observations (indices, stored as floats) as one-hot vectors.

    The replay buffer keeps one number per observation; the encoding happens on the batch.
    """

    def __init__(self, categories: int) -> None:
        super().__init__()
        self.categories = categories

    def forward(self, obs: Tensor) -> Tensor:
        return F.one_hot(obs.long().reshape(-1), self.categories).to(torch.float32)


class NatureCNN(nn.Module):
    """The convolutional torso of Nature DQN (Mnih et al. 2015): uint8 frames ``(C, H, W)`` in.

    Frames arrive as bytes (or floats of byte values) and are scaled to [0, 1] here, so the
    replay buffer can keep them as uint8.
    """

    def __init__(self, obs_shape: Sequence[int]) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(obs_shape[0], 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            self.features = int(self.body(torch.zeros(1, *obs_shape)).shape[1])

    def forward(self, obs: Tensor) -> Tensor:
        return self.body(obs.float() / 255.0)


def obs_encoder(
    obs_shape: Sequence[int], obs_categories: int = 0, image_obs: bool = False
) -> tuple[nn.Module, int]:
    """The first layer for an observation space and the number of features it outputs.

    Args:
        obs_shape: shape of one Box observation.
        obs_categories: size of a Discrete observation space (one-hot encoded); 0 for Box.
        image_obs: observations are stacked uint8 frames ``(C, H, W)``: a Nature CNN.
    """
    if obs_categories:
        return OneHot(obs_categories), obs_categories
    if image_obs:
        cnn = NatureCNN(obs_shape)
        return cnn, cnn.features
    return nn.Flatten(), math.prod(obs_shape)


def trunk(
    encoder: nn.Module, in_features: int, hidden_sizes: Sequence[int], activation: str
) -> tuple[nn.Sequential, int]:
    """``encoder -> (Linear, activation)...``: the layers below an output head, and their width.

    Args:
        encoder: the input layer (see ``obs_encoder``).
        in_features: size of one encoded input.
        hidden_sizes: widths of the hidden layers, in order.
        activation: name of the activation between layers (a key of ``ACTIVATIONS``).
    """
    check_choice("activation", activation, sorted(ACTIVATIONS))
    layers: list[nn.Module] = [encoder]
    width = in_features
    for hidden in hidden_sizes:
        layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
        width = hidden
    return nn.Sequential(*layers), width


def mlp(
    in_features: int,
    out_features: int,
    hidden_sizes: Sequence[int],
    activation: str,
    encoder: nn.Module | None = None,
) -> nn.Sequential:
    """A fully connected network: ``encoder -> hidden... -> out``.

    Args:
        in_features: size of one encoded input.
        out_features: size of the output (e.g. one Q-value per action).
        hidden_sizes: widths of the hidden layers, in order.
        activation: name of the activation between layers (a key of ``ACTIVATIONS``).
        encoder: the input layer (see ``obs_encoder``); flattening by default.
    """
    if encoder is None:
        encoder = nn.Flatten()
    body, width = trunk(encoder, in_features, hidden_sizes, activation)
    return body.append(nn.Linear(width, out_features))

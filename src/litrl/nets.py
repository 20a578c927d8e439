"""Network builders."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from litrl.errors import check_choice

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def mlp(
    in_features: int, out_features: int, hidden_sizes: Sequence[int], activation: str
) -> nn.Sequential:
    """A fully connected network on flattened inputs: ``in -> hidden... -> out``.

    Args:
        in_features: size of one flattened input.
        out_features: size of the output (e.g. one Q-value per action).
        hidden_sizes: widths of the hidden layers, in order.
        activation: name of the activation between layers (a key of ``ACTIVATIONS``).
    """
    check_choice("activation", activation, sorted(ACTIVATIONS))
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for hidden in hidden_sizes:
        layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
        width = hidden
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)

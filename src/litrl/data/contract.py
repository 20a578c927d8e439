"""What the data side shares with its callers: the ``Actor`` protocols, ``Episodes``, and the
exceptions that stop a collect or an evaluation between two vector steps."""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class Actor(Protocol):
    """What the data side needs from an agent: a batched action for a batch of observations."""

    def act(self, obs: Tensor, env_steps: int, greedy: bool = False) -> Tensor:
        """Actions for ``obs`` (one row per env), given the env steps taken so far."""
        ...


@runtime_checkable
class OnPolicyActor(Actor, Protocol):
    """An actor whose rollouts are stamped with the version of the parameters that acted."""

    policy_version: int


class CollectInterrupted(Exception):
    """A stop was requested between two vector steps of a collect.

    The steps taken so far stay in the collector, and in its ``state_dict``: the next
    ``collect`` of the same length, in this run or in a resumed one, continues the chunk, so
    no env step is lost or stored twice.
    """


class EvaluationInterrupted(Exception):
    """A stop was requested between two vector steps of a greedy evaluation.

    The evaluation is abandoned: its episodes so far are dropped, and a resumed run runs it
    again from its start, with the same seed.
    """


class Episodes(NamedTuple):
    """Returns and lengths of finished episodes, in finishing order."""

    returns: Tensor
    lengths: Tensor


def never_stop() -> bool:
    """The default ``should_stop``: a collect or an evaluation runs to its end."""
    return False

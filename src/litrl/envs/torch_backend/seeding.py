"""Counter-based start states: env ``i``'s ``k``-th episode starts from a pure function of its seed and ``k``.

A stateful generator would make one env's start states depend on when the other envs of the batch
reset, on the batch size and on the device. Hashing instead gives the same start states on CPU and
CUDA, for any ``num_envs``, and makes exact resume a matter of saving two integer counters.

Number ``j`` of episode ``k`` of an env (counter ``c = k * dim + j``) is ``mix32(a * c + b)``, where
the odd multiplier ``a`` and the offset ``b`` are hashed from the env's seed: distinct counters of
one env never collide (``a`` is odd and ``mix32`` is a bijection), and the streams of two envs are
not shifted copies of each other (their slopes differ). ``mix32`` is Chris Wellons' 32-bit
"prospector" mixer; every value stays below 2**32 and every multiplier below 2**31, so all products
fit in int64 without overflow. Uniforms carry 24 random bits (exact in float32).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

_MASK32 = 0xFFFFFFFF


def mix32(x: Tensor) -> Tensor:
    """A bijective 32-bit integer hash of int64 tensors holding values in ``[0, 2**32)``."""
    x = x ^ (x >> 15)
    x.mul_(0x2C1B3C6D).bitwise_and_(_MASK32)
    x ^= x >> 12
    x.mul_(0x297A2D39).bitwise_and_(_MASK32)
    x ^= x >> 15
    return x


class StartStreams(NamedTuple):
    """Per-env affine counters: the hash input of episode ``k`` is ``offset + k * stride`` (mod 2**32)."""

    stride: Tensor  # (num_envs,): dim * a
    offset: Tensor  # (dim, num_envs): j * a + b


def start_streams(seeds: Tensor, dim: int) -> StartStreams:
    """The streams of ``dim`` numbers per episode for envs with these int64 ``seeds`` (any value)."""
    low, high = seeds & _MASK32, (seeds >> 32) & _MASK32
    key = mix32(low ^ mix32(high ^ 0x9E3779B9))
    a = (mix32(key ^ 0x68E31DA4) & 0x7FFFFFFF) | 1
    b = mix32(key ^ 0xB5297A4D)
    component = torch.arange(dim, device=seeds.device)[:, None]
    return StartStreams(stride=a * dim & _MASK32, offset=(component * a + b) & _MASK32)


def uniform_bits(streams: StartStreams, episode: Tensor) -> Tensor:
    """``(dim, num_envs)`` 24-bit integers, uniform in ``[0, 2**24)``, for each env's ``episode``.

    Episodes up to 2**31 per env; divide by 2**24 for uniforms in ``[0, 1)``.
    """
    x = torch.addcmul(streams.offset, episode, streams.stride).bitwise_and_(_MASK32)
    return mix32(x) >> 8

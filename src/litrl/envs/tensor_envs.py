"""The vector-env protocol the collector steps: tensors in, tensors out, SAME_STEP autoreset.

A torch-backend batch (``TorchVecEnv``) speaks it as it is, on its own device. Numpy vector envs
(gymnasium's ``SyncVectorEnv``, ``EnvPoolVecEnv``) get ``HostVecEnv``, which turns their arrays
into CPU tensors and takes each step's final observations from its info. ``as_tensor_envs`` picks.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from litrl.envs.snapshot import restore, snapshot
from litrl.envs.spaces import policy_observations
from litrl.envs.spec import is_image
from litrl.envs.torch_backend import TorchStep


@runtime_checkable
class TensorEnvs(Protocol):
    """A batch of envs that takes and gives tensors on one device.

    ``step`` resets an env whose episode ended within the same call: its ``obs`` is the next
    episode's first observation, ``final_obs`` the ended one's last (which a truncated episode
    bootstraps from). ``state_dict`` is None when the envs' state is not plain data (a physics
    world, an emulator, EnvPool's C++ pool): a resumed run then resets them.
    ``checks_each_step`` says whether the envs check their own outputs on every step (the
    collector checks a chunk's finiteness in bulk where they do not); ``steps_one_by_one``
    whether each env is stepped in Python on the host (a step costs more than reading a tensor,
    and may draw from a global RNG, so an evaluation takes no step it does not need).
    """

    backend: str
    checks_each_step: bool
    steps_one_by_one: bool
    num_envs: int
    device: torch.device
    single_observation_space: gym.Space
    single_action_space: gym.Space

    def reset(self, seed: int) -> Tensor: ...

    def step(self, actions: Tensor) -> TorchStep: ...

    def seed_actions(self, seed: int) -> None: ...

    def sample_actions(self) -> Tensor: ...

    def actions_state(self) -> Any: ...

    def load_actions_state(self, state: Any) -> None: ...

    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any) -> None: ...

    def close(self) -> None: ...


def as_tensor_envs(envs: Any) -> TensorEnvs:
    """``envs`` as the collector's protocol: as they are if they speak it, else ``HostVecEnv``."""
    return envs if isinstance(envs, TensorEnvs) else HostVecEnv(envs)


class HostVecEnv:
    """A numpy vector env in SAME_STEP autoreset mode, as ``TensorEnvs`` on the CPU.

    Observations become CPU tensors as the networks take them (image frames stay uint8, 4x less
    to copy; everything else float32; ``litrl.envs.spaces``: a Discrete's index, a scalar Box as
    one feature), rewards stay float64 as the envs sum them, actions go back as numpy arrays. Random
    actions come from the vector action space's own numpy generator, so a run draws what it drew
    before litrl had one collector. Every step is checked by ``GuardedEnv`` (``EnvPoolVecEnv``
    checks its own), so the collector's bulk check is not needed.

    Args:
        envs: the vector env (``info["final_obs"]`` / ``info["_final_obs"]`` on episode ends).
    """

    checks_each_step = True
    steps_one_by_one = True
    device = torch.device("cpu")

    def __init__(self, envs: Any) -> None:
        self.envs = envs
        self.backend: str = getattr(envs, "backend", "gymnasium")
        self.num_envs: int = envs.num_envs
        self.single_observation_space = envs.single_observation_space
        self.single_action_space = envs.single_action_space
        space = self.single_observation_space
        self._obs_dtype: type = np.uint8 if is_image(space.dtype, space.shape) else np.float32
        box = isinstance(self.single_action_space, gym.spaces.Box)
        self._action_dtype = np.float32 if box else np.int64

    def reset(self, seed: int) -> Tensor:
        obs, _ = self.envs.reset(seed=seed)
        return self._obs(obs)

    def step(self, actions: Tensor) -> TorchStep:
        obs, reward, terminated, truncated, info = self.envs.step(actions.cpu().numpy())
        return TorchStep(
            obs=self._obs(obs),
            reward=torch.from_numpy(np.asarray(reward, dtype=np.float64)),
            terminated=torch.from_numpy(np.asarray(terminated, dtype=bool)),
            truncated=torch.from_numpy(np.asarray(truncated, dtype=bool)),
            final_obs=self._obs(final_observations(obs, info)),
        )

    def seed_actions(self, seed: int) -> None:
        self.envs.action_space.seed(seed)

    def sample_actions(self) -> Tensor:
        sample = self.envs.action_space.sample()
        return torch.from_numpy(np.asarray(sample, dtype=self._action_dtype))

    def actions_state(self) -> Any:
        return self.envs.action_space.np_random.bit_generator.state

    def load_actions_state(self, state: Any) -> None:
        self.envs.action_space.np_random.bit_generator.state = state

    def state_dict(self) -> list[Any] | None:
        """Each env's snapshot (``litrl.envs.snapshot``), or None if any is not plain data."""
        snapshots = [snapshot(env) for env in getattr(self.envs, "envs", [])]
        return snapshots if snapshots and all(s is not None for s in snapshots) else None

    def load_state_dict(self, state: list[Any]) -> None:
        for env, env_state in zip(self.envs.envs, state, strict=True):
            restore(env, env_state)

    def close(self) -> None:
        self.envs.close()

    def _obs(self, obs: np.ndarray) -> Tensor:
        values = policy_observations(self.single_observation_space, obs, self._obs_dtype)
        return torch.from_numpy(values)


def final_observations(next_obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """The observation each sub-env actually reached this step.

    Under SAME_STEP autoreset, ``next_obs`` of a finished sub-env is the reset observation of
    its new episode; the state the finished episode ended in is ``info["final_obs"]``.
    """
    ended = info.get("_final_obs")
    if ended is None or not ended.any():
        return next_obs
    reached = next_obs.copy()
    for i in np.flatnonzero(ended):
        reached[i] = info["final_obs"][i]
    return reached

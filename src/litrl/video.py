"""Greedy episodes as pictures: MP4 files (evaluation CLI) and frame stacks (TensorBoard)."""

from __future__ import annotations

import io
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium.wrappers import RecordVideo
from PIL import Image
from tensorboard.compat.proto.summary_pb2 import Summary

from litrl.data.collector import Actor
from litrl.envs import EnvFactory
from litrl.envs.spaces import EnvActions, policy_observations


def record_videos(
    actor: Actor,
    env: EnvFactory,
    episodes: int,
    folder: Path,
    seed: int,
    device: str = "cpu",
    max_episode_steps: int | None = None,
) -> list[Path]:
    """Greedy episodes rendered to MP4 files in ``folder`` (gymnasium's RecordVideo), each
    ended at ``max_episode_steps`` at the latest."""
    recorder = RecordVideo(
        env.make(render_mode="rgb_array", max_episode_steps=max_episode_steps),
        str(folder),
        episode_trigger=lambda _: True,
        name_prefix="greedy",
        disable_logger=True,
    )
    try:
        for episode in range(episodes):
            _play(actor, recorder, seed + episode, device)
    finally:
        recorder.close()
    return sorted(folder.glob("*.mp4"))


def episode_frames(
    actor: Actor, env: EnvFactory, seed: int, device: str, max_frames: int = 1_000
) -> np.ndarray:
    """One greedy episode's frames, ``(T, H, W, 3)`` uint8, halved in size when large."""
    rendering = env.make(render_mode="rgb_array")
    try:
        frames = _play(actor, rendering, seed, device, max_frames)
    finally:
        rendering.close()
    video = as_rgb_frames(np.stack(frames))
    while video.shape[1] > 256:  # a CartPole episode at full size is ~360 MB in memory
        video = video[:, ::2, ::2]
    return video


def as_rgb_frames(video: np.ndarray) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` as uint8: float frames in [0, 1] (matplotlib's convention) are
    scaled to [0, 255]; anything else that is not uint8 RGB is a ValueError saying what it is."""
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"render() returned frames of shape {video.shape[1:]}, not (H, W, 3)")
    if video.dtype == np.uint8:
        return video
    if np.issubdtype(video.dtype, np.floating) and video.min() >= 0.0 and video.max() <= 1.0:
        return np.round(video * 255).astype(np.uint8)
    raise ValueError(
        f"render() returned {video.dtype} frames in [{video.min()}, {video.max()}], not uint8 "
        "RGB (or floats in [0, 1])"
    )


def cannot_render(env: EnvFactory, error: Exception) -> str:
    """Why ``env`` gave no frames: its name and the error (for MuJoCo, which MUJOCO_GL to set)."""
    detail = f"{type(error).__name__}: {error}" if str(error) else repr(error)
    return f"{env.name} cannot render rgb_array frames ({detail})"


def video_summary(tag: str, frames: np.ndarray, fps: int) -> Summary:
    """An animated-GIF image summary TensorBoard shows under IMAGES.

    (torch's ``add_video`` does the same through moviepy 1.x's ``editor`` module, which
    moviepy 2 no longer has.)
    """
    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=1000 // fps, loop=0
    )
    height, width = frames.shape[1:3]
    image = Summary.Image(
        height=height, width=width, colorspace=3, encoded_image_string=buffer.getvalue()
    )
    return Summary(value=[Summary.Value(tag=tag, image=image)])


def _play(
    actor: Actor, env: gym.Env, seed: int, device: str, max_frames: int | None = None
) -> list[np.ndarray]:
    frames: list[np.ndarray] = []
    env_actions = EnvActions(env.action_space, device)
    obs, _ = env.reset(seed=seed)
    ended = False
    while not ended:
        if max_frames is not None:
            frames.append(np.asarray(env.render()))
            if len(frames) >= max_frames:
                break
        values = policy_observations(env.observation_space, np.asarray(obs)[None], np.float32)
        obs_t = torch.as_tensor(values, device=device)
        action = env_actions.to_env(actor.act(obs_t, env_steps=0, greedy=True))
        obs, _, terminated, truncated, _ = env.step(action.cpu().numpy()[0])
        ended = terminated or truncated
    return frames

"""Evaluating a trained agent from its checkpoint: greedy episodes, returns, MP4 videos.

python evaluate.py ckpt=outputs/dqn-cartpole/<time>/checkpoints/best.ckpt episodes=20 video=true
litrl-evaluate ckpt=... (the same, as a console script)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from litrl.algos.base import RLModule
from litrl.arguments import EVALUATE_RANGES, EVALUATE_TYPES, check_top_level
from litrl.config import CONFIG_DIR
from litrl.data.collector import Episodes, evaluate
from litrl.envs import EnvError, EnvFactory
from litrl.errors import ConfigError, unwritable_dir
from litrl.resume import CONFIG_KEY, load_checkpoint
from litrl.train import build
from litrl.video import cannot_render, record_videos


def load_agent(ckpt: Path | str, device: str = "cpu") -> tuple[RLModule, EnvFactory]:
    """The agent a litrl checkpoint holds, on ``device``, and the env it was trained on.

    The checkpoint is loaded with ``weights_only=True``, and the classes its config names must
    be litrl's own kinds (an RLModule, an EnvFactory) before anything is built from it.
    """
    checkpoint = load_checkpoint(ckpt)
    config = checkpoint[CONFIG_KEY]
    algo_class = _checked_class(config["algo"]["_target_"], RLModule, ckpt)
    _checked_class(config["env"]["_target_"], EnvFactory, ckpt)
    try:
        module = algo_class(**checkpoint["hyper_parameters"])
        module.load_state_dict(checkpoint["state_dict"])
    except (TypeError, KeyError, RuntimeError) as error:
        raise ConfigError(f"ckpt={ckpt}: its agent cannot be rebuilt ({error}).") from error
    module.on_load_checkpoint(checkpoint)  # counters: env steps, updates
    module.to(device).eval()
    return module, build(OmegaConf.create(config["env"]))


def evaluate_checkpoint(cfg: DictConfig) -> Episodes:
    """Runs the evaluate config: prints the returns and lengths, writes videos when asked."""
    check_top_level(cfg, EVALUATE_TYPES, EVALUATE_RANGES)  # before the checkpoint is read
    _check_device(str(cfg.device))
    folder = Path(cfg.ckpt).resolve().parent.parent / "videos" / Path(cfg.ckpt).stem
    if cfg.video:
        _check_video_folder(folder)
    module, env = load_agent(cfg.ckpt, cfg.device)
    num_envs = max(1, min(cfg.num_envs, cfg.episodes))
    # A torch-backend batch runs on cfg.device.
    cap = cfg.get("max_episode_steps")  # a config built by hand may leave it out: no cap
    envs = env.make_vector(num_envs, device=cfg.device, max_episode_steps=cap)
    try:
        episodes = evaluate(module, envs, cfg.episodes, cfg.seed, torch.device(cfg.device))
    finally:
        envs.close()
    returns, lengths = episodes.returns.float(), episodes.lengths.float()
    print(
        f"{env.id or env.entry_point}: {len(returns)} greedy episodes, return "
        f"{returns.mean():.2f} ± {returns.std(correction=0):.2f}, length "
        f"{lengths.mean():.1f} ± {lengths.std(correction=0):.1f}"
    )
    if cfg.video:
        try:
            paths = record_videos(
                module, env, cfg.video_episodes, folder, cfg.seed, cfg.device,
                max_episode_steps=cap,
            )  # fmt: skip
        except EnvError:
            raise
        except OSError as error:
            written = Path(os.fsdecode(error.filename or "")).absolute()
            if folder.absolute() not in (written, *written.parents):
                raise ConfigError(f"video=true: {cannot_render(env, error)}.") from error
            raise ConfigError(
                f"video=true: writing the videos to {folder} failed ({error.strerror}). Point "
                "ckpt= at a copy of the checkpoint in a writable dir, or make this one writable."
            ) from error
        except Exception as error:
            raise ConfigError(f"video=true: {cannot_render(env, error)}.") from error
        for path in paths:
            print(f"video: {path}")
    return episodes


def _check_video_folder(folder: Path) -> None:
    problem = unwritable_dir(folder)
    if problem:
        raise ConfigError(
            f"video=true writes MP4s to {folder}, but {problem}. Point ckpt= at a copy of the "
            "checkpoint in a writable dir (videos go to its run dir's videos/), or make this "
            "one writable."
        )


def _check_device(device: str) -> None:
    try:
        kind = torch.device(device).type
    except RuntimeError as error:
        raise ConfigError(
            f"device={device} is not a torch device: set device=cpu, device=cuda or device=cuda:N."
        ) from error
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device}: this machine has no CUDA GPU. Set device=cpu.")


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> float:
    """The ``litrl-evaluate`` / ``python evaluate.py`` entry point."""
    try:
        return float(evaluate_checkpoint(cfg).returns.float().mean())
    except ConfigError as error:
        print(f"litrl: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    except EnvError as error:
        print(f"litrl: environment error: {error}", file=sys.stderr)
        sys.exit(3)


def _checked_class(target: str, kind: type, ckpt: Any) -> Any:
    try:
        cls = get_class(target)
    except Exception as error:
        raise ConfigError(f"ckpt={ckpt} names a class that cannot be imported: {target}") from error
    if not (isinstance(cls, type) and issubclass(cls, kind)):
        raise ConfigError(
            f"ckpt={ckpt} names {target}, which is not a litrl {kind.__name__}; refused."
        )
    return cls

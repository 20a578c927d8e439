"""The composition root: ``run(cfg)`` builds everything from the Hydra config and trains."""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import lightning as L
import torch
from hydra.utils import get_class, instantiate
from lightning.pytorch.accelerators import AcceleratorRegistry
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from litrl.arguments import check_arguments, check_top_level
from litrl.callbacks import (
    BestCheckpoint,
    ConfigInCheckpoint,
    EvalVideo,
    GracefulStop,
    RLProgressBar,
    RunRelativeCheckpoint,
    StopRequested,
    log_hparams_to_tensorboard,
)
from litrl.checkpoint_io import (
    AtomicCheckpointIO,
    remove_partial_checkpoints,
    run_dir_deleted,
)
from litrl.config import resume_command
from litrl.data.collector import CollectInterrupted, EvaluationInterrupted
from litrl.envs import EnvFactory
from litrl.errors import (
    ConfigError,
    OutputError,
    RunAborted,
    RunInterrupted,
    TrainingDiverged,
    check_choice,
)
from litrl.perf import PerfBreakdown
from litrl.resume import CONFIG_KEY, ResumePoint
from litrl.run_dir import RunDirLock, check_before_writing

log = logging.getLogger(__name__)
EVAL_METRIC = "eval/return_mean"


@dataclass
class PreparedRun:
    """Everything a run is built from, every config value checked, nothing written yet."""

    run_dir: Path
    resume: ResumePoint | None
    env: EnvFactory
    module: Any
    datamodule: Any
    stop: GracefulStop
    callbacks: list[Callback]
    config: dict[str, Any]


def prepare(cfg: DictConfig) -> PreparedRun:
    """Checks the config and builds every object of the run, before any env step and before
    anything is written (``run`` trains what it returns; tests validate presets with it).

    Raises:
        ConfigError: a value cannot work; EnvError: the env failed its first reset and step.
    """
    check_top_level(cfg)
    if cfg.get("torch_threads"):
        torch.set_num_threads(cfg.torch_threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    run_dir = Path(cfg.run_dir)
    resume = check_before_writing(cfg, "run_dir", run_dir)
    if resume:
        log.info(
            "resuming %s from env step %d (%s)", resume.run_dir, resume.env_steps, resume.checkpoint
        )
    _check_accelerator(cfg.accelerator)
    config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]

    env: EnvFactory = build(cfg.env, field="env")
    algo_class: Any = get_class(cfg.algo._target_)
    spec = algo_class.check_env(env)
    if not env.has_time_limit():
        log.warning(
            "%s has no time limit (env.max_episode_steps is null and the env sets none): if its "
            "episodes can run forever, evaluation episodes end at eval.max_episode_steps=%d. "
            "Set env.max_episode_steps to give its episodes a time limit.",
            env.name,
            cfg.eval.max_episode_steps,
        )
    algo_kwargs = OmegaConf.masked_copy(cfg.algo, [key for key in cfg.algo if key != "data"])
    module = build(algo_kwargs, field="algo", **algo_class.env_kwargs(spec))
    stop = GracefulStop(run_dir / "checkpoints" / "last.ckpt")
    datamodule = build(
        cfg.algo.data,
        field="algo.data",
        env=env,
        seed=cfg.seed,
        total_env_steps=cfg.total_env_steps,
        eval_every_env_steps=cfg.eval.every_env_steps,
        eval_episodes=cfg.eval.episodes,
        eval_num_envs=cfg.eval.num_envs,
        eval_max_episode_steps=cfg.eval.max_episode_steps,
        should_stop=stop.requested,
    )
    module.check_data(datamodule.env_steps_per_collect)
    if datamodule.final_env_steps != cfg.total_env_steps:
        log.info(
            "total_env_steps=%d ends at env step %d: %d warm-up steps, then %d eval intervals "
            "of %d (the budget is rounded up to the next evaluation)",
            cfg.total_env_steps,
            datamodule.final_env_steps,
            datamodule.warmup_env_steps,
            datamodule.num_evaluations,
            datamodule.eval_every_env_steps,
        )
    callbacks = [
        *_callbacks(cfg, run_dir, spec.reward_threshold),
        stop,
        ConfigInCheckpoint(config, CONFIG_KEY),
        EvalVideo(env, cfg.video.every_n_evals, seed=cfg.seed + 20_000),
        PerfBreakdown(datamodule.clock, every_env_steps=cfg.algo.log_every_env_steps),
    ]
    return PreparedRun(run_dir, resume, env, module, datamodule, stop, callbacks, config)


def run(cfg: DictConfig) -> float:
    """Trains the configured algorithm on the configured env.

    Every object is built (and every config value checked) before the first env step
    (``prepare``).

    Returns:
        The mean return of the final greedy evaluation, for a Hydra sweeper to optimise.
    """
    prepared = prepare(cfg)
    run_dir, resume, module, datamodule, stop = (
        prepared.run_dir, prepared.resume, prepared.module, prepared.datamodule, prepared.stop,
    )  # fmt: skip
    callbacks, config = prepared.callbacks, prepared.config
    # Held from the first write to the last: a second resume= of this run is refused meanwhile.
    with RunDirLock(run_dir):
        remove_partial_checkpoints(run_dir / "checkpoints")
        loggers = _loggers(
            cfg, config, run_dir, resume
        )  # the first thing that writes to the run dir
        trainer = L.Trainer(
            **cast(dict[str, Any], OmegaConf.to_container(cfg.accelerator)),
            logger=loggers or False,
            callbacks=callbacks,
            max_epochs=datamodule.num_evaluations,  # an epoch is one evaluation interval
            num_sanity_val_steps=0,
            default_root_dir=run_dir,
            enable_model_summary=False,
            plugins=[AtomicCheckpointIO(run_dir)],
        )
        with warnings.catch_warnings():
            # Rollouts are produced in-process by design (worker processes would own copies of the
            # envs), and training metrics are written by the module itself, not per Lightning step.
            for message in (
                "does not have many workers",
                "has `__len__` defined",
                "smaller than the logging interval",
            ):
                warnings.filterwarnings("ignore", message=f".*{message}.*")
            # The DataModule's state_dict carries the rollout state, so mid-epoch resumes are exact.
            warnings.filterwarnings("ignore", message=".*dataloader is not resumable.*")
            try:
                with _long_lived_objects_frozen(), _event_writer_errors_quiet():
                    trainer.fit(
                        module,
                        datamodule=datamodule,
                        ckpt_path=resume.checkpoint if resume else None,
                        weights_only=True,
                    )
            except TrainingDiverged as error:
                raise TrainingDiverged(f"{error} {_last_good(stop.checkpoint_path)}") from error
            except (StopRequested, CollectInterrupted, EvaluationInterrupted):
                pass  # the final checkpoint is written; Lightning has finalized the loggers
            except RunAborted:
                raise RunAborted(_aborted(stop.checkpoint_path, run_dir)) from None
            except OSError as error:  # a logger's write: TensorBoard's writer thread, the CSV
                problem = _output_lost(error, run_dir, module.env_steps)
                if problem is None:
                    raise
                raise OutputError(problem) from error
            finally:
                datamodule.teardown("fit")  # Lightning skips the teardown hooks on an exception
    if stop.signum is not None and datamodule.evaluations_done < datamodule.num_evaluations:
        raise RunInterrupted(
            stop.signum,
            f"interrupted by {signal.Signals(stop.signum).name} at env step {module.env_steps}; "
            f"checkpoint {stop.checkpoint_path}. Continue with: {resume_command(run_dir)}",
        )
    if resume and datamodule.resumed_exactly is False:
        log.warning(
            "the envs could not be snapshotted (their state is not plain data, or lives in "
            "EnvPool's C++ pool), so the resumed run reset them: unfinished episodes at the "
            "checkpoint were dropped."
        )
    final_return = float(module.last_eval_return)
    log.info(
        "final eval return %.1f after %d env steps; run dir %s",
        final_return,
        module.env_steps,
        run_dir,
    )
    return final_return


@contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """Keeps the objects that exist when training starts out of Python's cyclic garbage
    collector until it ends (``gc.freeze``, then ``gc.unfreeze``).

    They are the imported libraries, the config and what ``run`` built: over 400,000 with
    torch, Lightning and Hydra loaded, nearly all alive for the whole process. A full
    collection re-scans every one of them (0.2 s on a 2-core CPU, a fifth of a one-second
    CartPole run) at a point that depends on the process's allocations; frozen, they are
    skipped, and a collection scans only what training created. Left alone when the caller
    has frozen objects of its own.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _event_writer_errors_quiet() -> Iterator[None]:
    """TensorBoard's writer thread dies with its own traceback when a write fails (the run dir
    deleted, a full disk); the same error reaches the training loop at its next log call, and
    ``run`` reports it in one paragraph (``OutputError``). Other threads' errors print as ever."""
    default = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if type(args.thread).__name__ != "_AsyncWriterThread":
            default(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = default


def build(node: DictConfig, *, field: str = "", **objects: Any) -> Any:
    """Calls the node's ``_target_`` with its keys plus ``objects``.

    Going through a partial keeps built objects as they are (instantiate() would turn a
    dataclass into a dict) and lets a ConfigError reach the user unwrapped. With ``field`` (the
    node's path in the config), unknown keys and values of the wrong type are ConfigErrors first.
    """
    if field:
        check_arguments(field, node, provided=objects)
    return instantiate(node, _partial_=True, _convert_="all")(**objects)


def _last_good(checkpoint: Path) -> str:
    if not checkpoint.is_file():
        return "No checkpoint was written yet."
    return (
        f"The last good checkpoint is kept: {checkpoint}; resume= from it with "
        "resume.allow_config_change=true."
    )


def _output_lost(error: OSError, run_dir: Path, env_steps: int) -> str | None:
    """Why the run could not write its own files, or None for an OSError of something else."""
    if not run_dir.is_dir():
        return run_dir_deleted(run_dir)
    filename = Path(os.fsdecode(error.filename)) if error.filename else None
    if filename is None or run_dir.absolute() not in filename.absolute().parents:
        return None
    return (
        f"writing {filename} failed at env step {env_steps} ({error.strerror}), so the run "
        f"stopped. {_last_good(run_dir / 'checkpoints' / 'last.ckpt')}"
    )


def _aborted(checkpoint: Path, run_dir: Path) -> str:
    if not checkpoint.is_file():
        return "aborted by a second Ctrl-C before any checkpoint was written."
    return (
        f"aborted by a second Ctrl-C; the last complete checkpoint is {checkpoint}. "
        f"Continue with: {resume_command(run_dir)}"
    )


def _check_accelerator(node: DictConfig) -> None:
    name = str(node.accelerator)
    check_choice(
        "accelerator.accelerator",
        name,
        sorted({"auto", "gpu", *AcceleratorRegistry.available_accelerators()}),
    )
    if name in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"accelerator={name} but torch sees no CUDA GPU here (torch.cuda.is_available() is "
            "False); use accelerator=cpu, or accelerator=auto to take a GPU only when there is one."
        )


def _loggers(
    cfg: DictConfig, config: dict[str, Any], run_dir: Path, resume: ResumePoint | None
) -> list[Logger]:
    if not cfg.logger or not cfg.logger.get("_target_"):
        return []
    extra: dict[str, Any] = {}
    is_tensorboard = issubclass(get_class(cfg.logger._target_), TensorBoardLogger)
    if resume and is_tensorboard:
        # TensorBoard drops earlier events at or past this step: no overlap with the
        # metrics the run logged after its checkpoint and before it stopped.
        extra["purge_step"] = resume.env_steps + 1
    metrics_csv = run_dir / "metrics.csv"
    if resume and not is_tensorboard and metrics_csv.exists():
        # Lightning's CSVLogger starts metrics.csv afresh; keep the rows logged before the resume.
        kept = metrics_csv.rename(run_dir / f"metrics-until-{resume.env_steps}.csv")
        log.info("metrics logged before the resume: %s", kept)
    logger = build(cfg.logger, save_dir=str(run_dir), **extra)
    if resume:
        return [logger]  # the run's hparams are already logged
    if is_tensorboard:
        log_hparams_to_tensorboard(logger, config, EVAL_METRIC)
    else:
        logger.log_hyperparams(config)
    return [logger]


def _callbacks(cfg: DictConfig, run_dir: Path, reward_threshold: float | None) -> list[Callback]:
    callbacks: list[Callback] = [
        RLProgressBar(refresh_rate=cfg.progress_bar_refresh_steps),
        BestCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="best",
            monitor=EVAL_METRIC,
            mode="max",
            save_top_k=1,
            auto_insert_metric_name=False,
        ),
        # Not save_last=True: Lightning 2.6 then writes last.ckpt only when the best one
        # improved, and a resume must start from the latest state.
        RunRelativeCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="last",
            monitor=None,
            save_top_k=1,
            enable_version_counter=False,
        ),
    ]
    if cfg.early_stop:
        if reward_threshold is None:
            raise ConfigError(
                "early_stop=true needs a reward threshold: set env.reward_threshold "
                "(this env id defines none)."
            )
        callbacks.append(
            EarlyStopping(
                monitor=EVAL_METRIC,
                mode="max",
                stopping_threshold=reward_threshold,
                patience=10**9,  # stop on the threshold only, never for a plateau
                check_on_train_epoch_end=False,
            )
        )
    return callbacks

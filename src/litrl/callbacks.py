"""Callbacks: the RL progress bar, checkpoints, a graceful stop on signals, TensorBoard hparams."""

from __future__ import annotations

import io
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any, cast

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor
from torch.utils.tensorboard.summary import hparams

from litrl.data.collector import Actor, CollectInterrupted, EvaluationInterrupted
from litrl.errors import RunAborted
from litrl.video import cannot_render, episode_frames, video_summary

log = logging.getLogger(__name__)


class RLProgressBar(TQDMProgressBar):
    """One bar over the whole run, in env steps: done / the run's final env step, elapsed and
    ETA, env steps per second, and the last eval return.

    Lightning's bar counts the training steps of an epoch and restarts at every epoch; here an
    epoch is one evaluation interval, so that bar would restart at every evaluation. A resumed
    run's bar starts at its env step (the rate and the ETA count only this process's steps).
    On a terminal the bar is redrawn every ``refresh_rate`` training steps (tens: a redraw
    costs more than a CartPole update); when stdout is not a terminal (a log file, a cluster
    job) it prints one line per evaluation instead of redrawing.

    Args:
        refresh_rate: training steps between redraws on a terminal; 0 shows nothing.
        interactive: redraw in place (True) or print a line per evaluation (False); None asks
            whether stdout is a terminal when training starts.
    """

    BAR_FORMAT = (
        "{desc}: {percentage:3.0f}%|{bar}| {n}/{total} env steps "
        "[{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"
    )

    def __init__(self, refresh_rate: int = 1, interactive: bool | None = None) -> None:
        super().__init__(refresh_rate=refresh_rate)
        self.interactive = interactive

    def init_train_tqdm(self) -> Tqdm:
        if self.interactive is None:
            self.interactive = sys.stdout.isatty()
        datamodule = getattr(self.trainer, "datamodule", None)
        return Tqdm(
            desc="Training",
            total=getattr(datamodule, "final_env_steps", None),
            initial=getattr(self.trainer.lightning_module, "env_steps", 0),
            unit=" env steps",
            disable=self.is_disabled,
            leave=True,
            dynamic_ncols=self.interactive,
            # Off a terminal the bar only formats; the lines are written at evaluations.
            file=sys.stdout if self.interactive else io.StringIO(),
            ascii=None if self.interactive else True,
            smoothing=0,  # the rate and ETA over the whole run, not the last redraws
            bar_format=self.BAR_FORMAT,
        )

    def init_validation_tqdm(self) -> Tqdm:
        # One evaluation is one "batch": a bar for it would only add a line per evaluation.
        return Tqdm(disable=True)

    def on_train_epoch_start(self, trainer: L.Trainer, *_: Any) -> None:
        pass  # one bar for the run: no reset and no "Epoch N" per evaluation interval

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if not self.interactive or self.is_disabled:
            return
        steps = batch_idx + 1  # the last step of an interval redraws before its evaluation
        if steps % self.refresh_rate == 0 or steps == trainer.num_training_batches:
            self.advance(trainer, pl_module, redraw=True)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass  # an epoch ends with an evaluation, which updates the bar

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.val_progress_bar.close()
        self.reset_dataloader_idx_tracker()
        if trainer.sanity_checking or trainer.state.fn != "fit" or self.is_disabled:
            return
        self.advance(trainer, pl_module, redraw=bool(self.interactive))
        if not self.interactive:
            self.train_progress_bar.write(str(self.train_progress_bar), file=sys.stdout)

    def advance(self, trainer: L.Trainer, pl_module: L.LightningModule, redraw: bool) -> None:
        """Moves the bar to the module's env step and shows its latest metrics."""
        bar = self.train_progress_bar
        bar.n = getattr(pl_module, "env_steps", bar.n)
        bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=redraw)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        progress = getattr(pl_module, "progress_metrics", None)
        if progress is not None:
            metrics.update(progress())
        # The bar itself shows the env steps and their rate (over the run, for the ETA).
        metrics.pop("env_steps", None)
        metrics.pop("env_steps/s", None)
        if "eval_return" in metrics:  # as text: tqdm shows numbers to 3 digits (-1.23e+03)
            metrics["eval_return"] = f"{metrics['eval_return']:.1f}"
        return metrics


class RunRelativeCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint whose saved state names its files relative to its own dir.

    Lightning saves absolute paths, and when a resumed run's dir is not the saved one (the run
    dir was copied or moved) it drops the best score: the next evaluation then wrote
    ``best-v1.ckpt`` beside the old ``best.ckpt``, which kept the old best. Saved relative, and
    older checkpoints' absolute paths rebased onto this dir, a run resumes wherever it lies; a
    copy never touches the files of the run it was copied from.
    """

    PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update({key: self._relative(state[key]) for key in self.PATH_KEYS})
        state["best_k_models"] = {
            self._relative(path): score for path, score in state["best_k_models"].items()
        }
        state["dirpath"] = "."
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved_dir = str(state_dict.get("dirpath") or ".")
        state = dict(state_dict)
        state.update({key: self._here(state.get(key, ""), saved_dir) for key in self.PATH_KEYS})
        state["best_k_models"] = {
            self._here(path, saved_dir): score
            for path, score in state.get("best_k_models", {}).items()
        }
        state["dirpath"] = self.dirpath
        super().load_state_dict(state)

    def _relative(self, path: str) -> str:
        if not path or self.dirpath is None or Path(path).parent != Path(self.dirpath):
            return path
        return Path(path).name

    def _here(self, path: str, saved_dir: str) -> str:
        """A saved path as a path in this dir: relative ones, and absolute ones in the saved dir."""
        if not path or self.dirpath is None:
            return path
        if not Path(path).is_absolute() or Path(path).parent == Path(saved_dir):
            return str(Path(self.dirpath) / Path(path).name)
        return path


class BestCheckpoint(RunRelativeCheckpoint):
    """Keeps one best checkpoint, always ``best.ckpt``; a tie goes to the later one.

    Eval returns saturate (CartPole's 500), and the first policy to score the maximum is often
    a lucky one; the later one has trained longer on the same score.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(enable_version_counter=False, **kwargs)

    def check_monitor_top_k(self, trainer: L.Trainer, current: Tensor | None = None) -> bool:
        if current is None or self.save_top_k != 1 or not self.best_k_models:
            return super().check_monitor_top_k(trainer, current)
        best = self.best_k_models[self.kth_best_model_path]
        return bool(current >= best if self.mode == "max" else current <= best)


class ConfigInCheckpoint(Callback):
    """Stores the resolved run config in every checkpoint, so that a checkpoint alone can be
    resumed (and vetted against a changed config) or evaluated on its env.

    Args:
        config: the resolved config as plain containers.
        key: where it goes in the checkpoint.
    """

    def __init__(self, config: dict[str, Any], key: str) -> None:
        self.config, self.key = config, key

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[self.key] = self.config


class EvalVideo(Callback):
    """Every ``every_n_evals`` evaluations, one greedy episode to TensorBoard as ``eval/video``.

    The episode is rendered once the evaluation's checkpoints are written (at the start of the
    next eval interval, or when training ends): a renderer that crashes or hangs the process
    costs no checkpoint. Any error a render raises turns the videos off with a warning, and
    training goes on.

    Args:
        env: makes the rendering env (``render_mode="rgb_array"``).
        every_n_evals: evaluations between videos; 0 never records.
        seed: the recorded episodes' reset seeds start here.
    """

    def __init__(self, env: Any, every_n_evals: int, seed: int) -> None:
        self.env, self.every_n_evals, self.seed = env, every_n_evals, seed
        self._due: tuple[int, int] | None = None  # (evaluation, env step) awaiting its video

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        evaluations = getattr(getattr(trainer, "datamodule", None), "evaluations_done", 0)
        if not self.every_n_evals or evaluations % self.every_n_evals or trainer.sanity_checking:
            return
        if any(isinstance(logger, TensorBoardLogger) for logger in trainer.loggers):
            self._due = (evaluations, getattr(pl_module, "env_steps", 0))

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record_due(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record_due(trainer, pl_module)

    def _record_due(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._due is None or not self.every_n_evals:
            return
        (evaluations, env_steps), self._due = self._due, None
        try:
            frames = episode_frames(
                cast(Actor, pl_module), self.env, self.seed + evaluations, str(pl_module.device)
            )
            summary = video_summary("eval/video", frames, fps=self._fps())
        except Exception as error:  # a video must never stop the training
            log.warning(
                "eval videos off: %s. video.every_n_evals=0 trains without them.",
                cannot_render(self.env, error),
            )
            self.every_n_evals = 0
            return
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment._get_file_writer().add_summary(summary, global_step=env_steps)

    def _fps(self) -> int:
        env = self.env.make()
        fps = env.metadata.get("render_fps") or 30
        env.close()
        return int(fps)


class StopRequested(Exception):
    """Raised by GracefulStop once the final checkpoint is written, to leave ``fit`` at once.

    Setting ``trainer.should_stop`` instead would make Lightning run one more evaluation, off
    the eval grid, before it stops.
    """


class GracefulStop(Callback):
    """On SIGINT or SIGTERM: stop at the next consistent point, write the checkpoint, stop.

    The consistent points are the end of a training step and every vector env step of a
    collect (warm-up included) or of an evaluation: ``requested`` is the ``should_stop`` of the
    collector and of ``evaluate``, so a slow env delays the stop by one env step, not by a
    chunk or an evaluation. A collect stopped part-way keeps its steps in the checkpoint and a
    resumed run continues it (``CollectInterrupted``); an evaluation stopped part-way is
    dropped and a resumed run runs it again (``EvaluationInterrupted``). A second Ctrl-C
    aborts at once (``RunAborted``); checkpoints are written by rename (``AtomicCheckpointIO``),
    so the last complete one stays loadable.

    Args:
        checkpoint_path: where the final checkpoint goes (the run's ``last.ckpt``).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, checkpoint_path: Path) -> None:
        self.checkpoint_path = checkpoint_path
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def requested(self) -> bool:
        """Whether a stop has been requested (the collector asks before every vector step)."""
        return self.signum is not None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Replaces Lightning's own SIGTERM handler too, which would exit without a checkpoint.
        self._previous = {sig: signal.signal(sig, self._request) for sig in self.SIGNALS}

    def _request(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise RunAborted
        self.signum = signum
        log.warning(
            "%s received: stopping with a checkpoint after this env step or training step "
            "(press Ctrl-C again to abort without one)",
            signal.Signals(signum).name,
        )

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.signum is None or trainer.should_stop:
            return
        if batch_idx + 1 == trainer.num_training_batches:
            # The epoch's evaluation comes next: it stops before its first env step
            # (EvaluationInterrupted), and a resumed run runs it.
            return
        trainer.save_checkpoint(self.checkpoint_path)
        raise StopRequested

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.signum is not None:
            trainer.should_stop = True  # last.ckpt is written at the end of this epoch

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore_handlers()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        try:
            if isinstance(exception, CollectInterrupted):
                # Lightning's loop counters stand at the last finished training step, and the
                # DataModule's state holds the collect under way: a consistent checkpoint.
                trainer.save_checkpoint(self.checkpoint_path)
            elif isinstance(exception, EvaluationInterrupted):
                # Stopped while fetching the evaluation's one batch: the counters stand after the
                # epoch's last training step, which Lightning reads on resume as "validated
                # already" and would skip the evaluation. Marked as started and not processed,
                # the evaluation is one Lightning restarts ("restarted mid evaluation"); the
                # DataModule did not count it, so it runs again with the same seed.
                progress = trainer.fit_loop.epoch_loop.val_loop.batch_progress
                progress.increment_ready()
                progress.increment_started()
                trainer.save_checkpoint(self.checkpoint_path)
        finally:  # a second Ctrl-C during the save must not leave our handler installed
            self._restore_handlers()

    def _restore_handlers(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


def log_hparams_to_tensorboard(
    logger: TensorBoardLogger, params: dict[str, Any], metric: str
) -> None:
    """Writes the resolved config to TensorBoard's HPARAMS tab, linked to ``metric``.

    Lightning's own ``log_hyperparams`` would also write a placeholder value of the metric at
    step 0, which would show up as a fake first point on the eval curve.
    """
    logger.log_hyperparams(params)  # hparams.yaml beside the events
    flat = {
        key: value if isinstance(value, (int, float, str, bool)) else str(value)
        for key, value in _flatten(params).items()
    }
    for summary in hparams(flat, {metric: float("nan")}):
        logger.experiment._get_file_writer().add_summary(summary)


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}/"))
        else:
            flat[name] = value
    return flat

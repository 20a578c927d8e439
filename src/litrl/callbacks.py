"""Callbacks: the RL progress bar and TensorBoard hparams."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor
from torch.utils.tensorboard.summary import hparams


class RLProgressBar(TQDMProgressBar):
    """Shows env steps, the last eval return and env steps per second.

    The bar counts training steps (chunks of env steps); refreshing it every step would cost
    more than a CartPole update, so ``refresh_rate`` should be tens of steps.
    """

    def init_validation_tqdm(self) -> Tqdm:
        # One evaluation is one "batch": a bar for it would only add a line per evaluation.
        return Tqdm(disable=True)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        progress = getattr(pl_module, "progress_metrics", None)
        if progress is not None:
            metrics.update(progress())
        return metrics


class BestCheckpoint(ModelCheckpoint):
    """Keeps one best checkpoint; a tie goes to the later one.

    Eval returns saturate (CartPole's 500), and the first policy to score the maximum is often
    a lucky one; the later one has trained longer on the same score.
    """

    def check_monitor_top_k(self, trainer: L.Trainer, current: Tensor | None = None) -> bool:
        if current is None or self.save_top_k != 1 or not self.best_k_models:
            return super().check_monitor_top_k(trainer, current)
        best = self.best_k_models[self.kth_best_model_path]
        return bool(current >= best if self.mode == "max" else current <= best)


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

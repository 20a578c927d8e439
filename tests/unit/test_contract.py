"""The algorithm contract of litrl.algos.base: what is enforced, and the shared update step."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch import nn

from litrl.algos.base import RLModule
from litrl.errors import TrainingDiverged


class OneStep(RLModule):
    """A linear 'loss' 3 w0 + 4 w1 (+ loss_offset), stepped once by plain SGD with lr 1."""

    action_spaces = ("discrete",)

    def __init__(self, clip_mode: str, clip_value: float | None, loss_offset: float = 0.0):
        super().__init__(log_every_env_steps=1)
        self.w = nn.Parameter(torch.zeros(2))
        self.clip_mode, self.clip_value, self.loss_offset = clip_mode, clip_value, loss_offset
        self.grad_norm: torch.Tensor | None = None

    def act(self, obs, env_steps, greedy=False):
        return torch.zeros(obs.shape[0], dtype=torch.long)

    def training_step(self, batch, batch_idx):
        loss = (self.w * torch.tensor([3.0, 4.0])).sum() + self.loss_offset
        self.grad_norm = self.update(loss, self.optimizers(), self.clip_mode, self.clip_value)
        self.accumulate("custom/anything", loss)
        self.finish_training_step(env_steps=1, updates=1, episode_returns=[], episode_lengths=[])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1.0)


def fit(module: OneStep) -> OneStep:
    trainer = L.Trainer(
        max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(module, train_dataloaders=[torch.zeros(1)])
    return module


@pytest.mark.parametrize(
    ("mode", "value", "step"),
    [("norm", 1.0, [0.6, 0.8]), ("value", 3.5, [3.0, 3.5]), ("none", 1.0, [3.0, 4.0]),
     ("norm", None, [3.0, 4.0])],
)  # fmt: skip
def test_update_clips_steps_counts_and_reports_the_unclipped_norm(mode, value, step):
    module = fit(OneStep(mode, value))
    assert torch.allclose(module.w.detach(), -torch.tensor(step))
    assert module.grad_norm is not None and module.grad_norm.item() == pytest.approx(5.0)
    assert module.updates == 1


def test_a_non_finite_loss_of_any_name_stops_the_run():
    with pytest.raises(TrainingDiverged, match=r"a loss became nan by env step 1"):
        fit(OneStep("norm", 1.0, loss_offset=float("nan")))


def test_a_missing_piece_of_the_contract_fails_at_construction():
    class NoActing(RLModule):
        action_spaces = ("discrete",)

        def training_step(self, batch, batch_idx):
            pass

        def configure_optimizers(self):
            pass

    with pytest.raises(TypeError, match=r"abstract method.*act"):
        NoActing(log_every_env_steps=1)


def test_an_unknown_action_space_kind_fails_at_import():
    with pytest.raises(TypeError, match="action_spaces must be drawn from"):

        class Tuple(OneStep):
            action_spaces = ("tuple",)

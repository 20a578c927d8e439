"""Resume: "train 2N" and "train N, stop, resume, train N more" give the same run."""

from __future__ import annotations

import os
import pickle
import signal
from pathlib import Path

import lightning as L
import pytest
import torch

import litrl.data.datamodule
import litrl.train
from litrl import ConfigError, RunInterrupted
from litrl.callbacks import GracefulStop
from litrl.events import read_scalars
from litrl.run_dir import LOCK_NAME
from litrl.train import run

# 4 evaluations of 1024 env steps, 4 training steps (256 env steps each) per evaluation.
SMALL = ["total_env_steps=4096", "logger=tensorboard"]
ALGOS = {
    # log points off the eval grid: a resume must not write the window before it twice
    "dqn": ["algo=dqn", "algo.data.warmup_env_steps=512", "algo.log_every_env_steps=384"],
    "reinforce": ["algo=reinforce"],
    "a2c": ["algo=a2c"],
    # normaliser statistics and the per-env discounted returns must resume too
    "ppo": ["algo=ppo", "algo.normalize_obs=true", "algo.normalize_reward=true"],
    # the torch backend: the batch's state, device-side episode stats, the random-action generator
    "ppo_torch": [
        "algo=ppo",
        "algo.normalize_obs=true",
        "algo.normalize_reward=true",
        "env.backend=torch",
    ],
    "dqn_torch": [
        "algo=dqn",
        "algo.data.warmup_env_steps=512",
        "algo.log_every_env_steps=384",
        "env.backend=torch",
    ],
    # an odd number of critic updates per step: the policy_delay phase must resume mid-cycle
    "td3": [
        "algo=td3",
        "env=pendulum",
        "algo.data.warmup_env_steps=512",
        "algo.data.buffer_capacity=8192",
        "algo.data.batch_size=64",
        "algo.data.updates_per_collect=7",
        "algo.actor_hidden_sizes=[32,32]",
        "algo.critic_hidden_sizes=[32,32]",
        "algo.log_every_env_steps=384",
    ],
    # the learned temperature and its optimizer, and a target update interval mid-cycle
    "sac": [
        "algo=sac",
        "env=pendulum",
        "algo.data.warmup_env_steps=512",
        "algo.data.buffer_capacity=8192",
        "algo.data.batch_size=64",
        "algo.data.updates_per_collect=7",
        "algo.target_update_interval=2",
        "algo.actor_hidden_sizes=[32,32]",
        "algo.critic_hidden_sizes=[32,32]",
        "algo.log_every_env_steps=384",
    ],
}


class SignalAfter(L.Callback):
    """Sends this process a signal after ``steps`` training steps (as Ctrl-C would)."""

    def __init__(self, steps: int, signum: int) -> None:
        self.steps, self.signum, self.seen = steps, signum, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seen += 1
        if self.seen == self.steps:
            signal.raise_signal(self.signum)


def _run_with_signal(cfg, monkeypatch, steps: int, signum: int) -> None:
    build_callbacks = litrl.train._callbacks
    monkeypatch.setattr(
        litrl.train,
        "_callbacks",
        lambda *args: [SignalAfter(steps, signum), *build_callbacks(*args)],
    )
    with pytest.raises(RunInterrupted) as stopped:
        run(cfg)
    monkeypatch.setattr(litrl.train, "_callbacks", build_callbacks)
    assert stopped.value.signum == signum
    assert not (Path(cfg.run_dir) / LOCK_NAME).exists()  # released on the way out


def _metrics(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    return {
        tag: [(s.step, s.value) for s in scalars]
        for tag, scalars in read_scalars(run_dir).items()
        if not tag.startswith("perf/")  # wall-clock rates
    }


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    return checkpoint["state_dict"]


@pytest.mark.parametrize("algo", sorted(ALGOS))
@pytest.mark.parametrize(
    ("stop_after_steps", "signum"),
    [(6, signal.SIGINT), (8, signal.SIGTERM)],  # mid-interval; right before an evaluation
)
def test_stop_and_resume_equals_an_uninterrupted_run(
    compose, monkeypatch, tmp_path: Path, algo: str, stop_after_steps: int, signum: int
) -> None:
    overrides = [*SMALL, *ALGOS[algo]]
    straight = compose(*overrides, run_dir=tmp_path / "straight")
    run(straight)

    resumed_dir = tmp_path / "resumed"
    _run_with_signal(
        compose(*overrides, run_dir=resumed_dir), monkeypatch, stop_after_steps, signum
    )
    run(compose(*overrides, f"resume={resumed_dir}", run_dir=resumed_dir))

    straight_metrics = _metrics(tmp_path / "straight")
    assert _metrics(resumed_dir) == straight_metrics
    assert len(straight_metrics["eval/return_mean"]) == 4
    expected, actual = _weights(tmp_path / "straight"), _weights(resumed_dir)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name


def _run_with_signal_before_vector_step(
    cfg, monkeypatch, vector_step: int, evaluation: int | None = None
) -> None:
    """Runs ``cfg`` with SIGINT raised just before its ``vector_step``-th collected vector step,
    or with ``evaluation``, before that evaluation's ``vector_step``-th vector step.

    The collector and ``evaluate`` ask ``GracefulStop.requested`` before every vector step, so
    counting those calls finds the step, warm-up included.
    """
    requested, evaluate = GracefulStop.requested, litrl.data.datamodule.evaluate
    calls = evaluations = 0
    evaluating = False

    def count_and_signal(self: GracefulStop) -> bool:
        nonlocal calls
        if evaluating != (evaluation is not None) or evaluation not in (None, evaluations):
            return requested(self)
        calls += 1
        if calls == vector_step:
            signal.raise_signal(signal.SIGINT)
        return requested(self)

    def count_evaluations(*args, **kwargs):
        nonlocal evaluations, evaluating
        evaluations, evaluating = evaluations + 1, True
        try:
            return evaluate(*args, **kwargs)
        finally:
            evaluating = False

    monkeypatch.setattr(GracefulStop, "requested", count_and_signal)
    monkeypatch.setattr(litrl.data.datamodule, "evaluate", count_evaluations)
    with pytest.raises(RunInterrupted):
        run(cfg)
    monkeypatch.setattr(GracefulStop, "requested", requested)
    monkeypatch.setattr(litrl.data.datamodule, "evaluate", evaluate)
    assert calls == vector_step  # stopped right there, before the chunk was finished


@pytest.mark.parametrize(
    ("algo", "vector_step"),
    [
        ("dqn", 40),  # in the warm-up (64 vector steps of random actions)
        ("dqn", 234),  # 10 vector steps into the 6th training step's collect (32 each)
        ("ppo", 129),  # before the first vector step of the second evaluation interval
        ("ppo", 170),  # 10 vector steps into the 6th rollout
        ("dqn_torch", 40),
        ("dqn_torch", 234),
        ("ppo_torch", 170),
    ],
)
def test_a_stop_between_vector_steps_resumes_as_an_uninterrupted_run(
    compose, monkeypatch, tmp_path: Path, algo: str, vector_step: int
) -> None:
    overrides = [*SMALL, *ALGOS[algo]]
    run(compose(*overrides, run_dir=tmp_path / "straight"))

    resumed_dir = tmp_path / "resumed"
    _run_with_signal_before_vector_step(
        compose(*overrides, run_dir=resumed_dir), monkeypatch, vector_step
    )
    run(compose(*overrides, f"resume={resumed_dir}", run_dir=resumed_dir))

    assert _metrics(resumed_dir) == _metrics(tmp_path / "straight")
    expected, actual = _weights(tmp_path / "straight"), _weights(resumed_dir)
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name


@pytest.mark.parametrize(
    ("algo", "vector_step"),
    [
        ("dqn", 1),  # the second evaluation, before its first vector step
        ("ppo", 5),  # 5 vector steps into the second evaluation
        ("ppo_torch", 5),
    ],
)
def test_a_stop_during_an_evaluation_resumes_as_an_uninterrupted_run(
    compose, monkeypatch, tmp_path: Path, algo: str, vector_step: int
) -> None:
    overrides = [*SMALL, *ALGOS[algo]]
    run(compose(*overrides, run_dir=tmp_path / "straight"))

    resumed_dir = tmp_path / "resumed"
    _run_with_signal_before_vector_step(
        compose(*overrides, run_dir=resumed_dir), monkeypatch, vector_step, evaluation=2
    )
    stopped = torch.load(resumed_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert (
        stopped["litrl"]["env_steps"] == _metrics(tmp_path / "straight")["eval/return_mean"][1][0]
    )
    assert [step for step, _ in _metrics(resumed_dir)["eval/return_mean"]] == [
        stopped["litrl"]["env_steps"] - 1024
    ]  # the abandoned evaluation is not logged
    run(compose(*overrides, f"resume={resumed_dir}", run_dir=resumed_dir))

    assert _metrics(resumed_dir) == _metrics(tmp_path / "straight")
    expected, actual = _weights(tmp_path / "straight"), _weights(resumed_dir)
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name


def test_resume_refuses_a_changed_algorithm_and_prints_the_diff(compose, tmp_path: Path) -> None:
    run(compose("total_env_steps=1024", run_dir=tmp_path))
    with pytest.raises(
        ConfigError, match=r"(?s)algo\.lr: 0\.003 -> 0\.001.*allow_config_change=true"
    ):
        run(compose("total_env_steps=1024", "algo.lr=1e-3", f"resume={tmp_path}", run_dir=tmp_path))
    run(
        compose(
            "total_env_steps=2048",
            f"resume={tmp_path}",
            "resume.allow_config_change=true",
            run_dir=tmp_path,
        )
    )
    evals = read_scalars(tmp_path)["eval/return_mean"]
    assert [e.step for e in evals] == [2024, 3048]


def test_a_new_run_writes_into_another_runs_dir_only_when_asked(compose, tmp_path: Path) -> None:
    run(compose("total_env_steps=1024", run_dir=tmp_path))
    last = (tmp_path / "checkpoints" / "last.ckpt").read_bytes()
    with pytest.raises(ConfigError, match=f"run_dir={tmp_path} already holds another run"):
        run(compose("total_env_steps=1024", "seed=1", run_dir=tmp_path))
    assert (tmp_path / "checkpoints" / "last.ckpt").read_bytes() == last
    run(compose("total_env_steps=1024", "seed=1", "reuse_run_dir=true", run_dir=tmp_path))
    assert (tmp_path / "checkpoints" / "last.ckpt").read_bytes() != last


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "cannot be read"),
        (b"PK\x03\x04 truncated zip", "cannot be read"),
        (None, "not a litrl checkpoint"),
    ],
)
def test_resume_from_a_bad_checkpoint_is_a_clear_error(
    compose, tmp_path: Path, content: bytes | None, message: str
) -> None:
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    if content is None:
        torch.save({"state_dict": {}}, ckpt)  # a foreign checkpoint: no litrl state
    else:
        ckpt.write_bytes(content)
    with pytest.raises(ConfigError, match=f"resume={ckpt} .*{message}"):
        run(compose(f"resume={tmp_path}", run_dir=tmp_path / "new"))


class _TouchesWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


class _ShellsOutWhenUnpickled(_TouchesWhenUnpickled):
    # os.system, the classic exploit: torch words its refusal differently ("module posix is
    # blocked"), which once read as "corrupt".
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _save_with_torch(payload: object, ckpt: Path) -> None:
    torch.save({"litrl": {"env_steps": 0}, "litrl_config": {}, "payload": payload}, ckpt)


def _save_as_raw_pickle(payload: object, ckpt: Path) -> None:
    # torch's safe unpickler stops at the first opcode of a plain pickle, before its globals
    ckpt.write_bytes(pickle.dumps({"payload": payload}))


@pytest.mark.parametrize(
    ("payload", "save", "callable_name"),
    [
        (_TouchesWhenUnpickled, _save_with_torch, "getattr"),  # Path.touch pickles as getattr
        (_ShellsOutWhenUnpickled, _save_with_torch, "posix.system"),
        (_ShellsOutWhenUnpickled, _save_as_raw_pickle, "posix.system"),
    ],
)
def test_a_checkpoint_that_would_run_code_is_refused_as_such_and_runs_nothing(
    compose, tmp_path: Path, payload, save, callable_name: str
) -> None:
    marker = tmp_path / "code-ran"
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    save(payload(marker), ckpt)
    with pytest.raises(ConfigError) as refused:
        run(compose(f"resume={ckpt}", run_dir=tmp_path / "new"))
    message = str(refused.value)
    assert f"was refused: loading it would run code ({callable_name})" in message
    assert "corrupt" not in message
    assert not marker.exists()

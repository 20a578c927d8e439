"""The run's one progress bar: env steps over the whole budget, from a resumed run's env step."""

from types import SimpleNamespace

from litrl.callbacks import RLProgressBar


def test_a_resumed_runs_bar_starts_at_its_env_step_and_counts_to_the_final_one() -> None:
    module = SimpleNamespace(env_steps=20_480)
    module.progress_metrics = lambda: {
        "env_steps": module.env_steps,
        "eval_return": 187.5,
        "env_steps/s": 900,
    }
    trainer = SimpleNamespace(
        datamodule=SimpleNamespace(final_env_steps=50_152),  # DQN's defaults
        lightning_module=module,
        is_global_zero=True,
        loggers=[],
        progress_bar_metrics={},
    )
    bar = RLProgressBar(refresh_rate=25, interactive=False)
    bar.setup(trainer, module, stage="fit")  # type: ignore[arg-type]
    tqdm = bar.train_progress_bar = bar.init_train_tqdm()
    assert (tqdm.total, tqdm.initial, tqdm.n) == (50_152, 20_480, 20_480)

    module.env_steps = 22_528  # one eval interval later, 2 s into the resumed run
    tqdm._time = lambda: tqdm.start_t + 2.0
    bar.advance(trainer, module, redraw=False)  # type: ignore[arg-type]
    # The rate counts this process's 2,048 steps, not the checkpoint's 20,480; the ETA is
    # the 27,624 steps left at that rate. The bar shows env steps and rate once, itself.
    assert str(tqdm) == (
        "Training:  45%|####4     | 22528/50152 env steps "
        "[00:02<00:26, 1024.00 env steps/s, eval_return=187.5]"
    )

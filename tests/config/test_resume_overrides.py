"""``resume=<dir>`` composes the run's own config: its saved overrides, then the ones given."""

from __future__ import annotations

from pathlib import Path

from litrl.config import compose_config, expand_shorthands
from litrl.resume import config_changes


def _saved_run(run_dir: Path, *overrides: str) -> Path:
    (run_dir / ".hydra").mkdir(parents=True)
    lines = "".join(f"- {override}\n" for override in overrides)
    (run_dir / ".hydra" / "overrides.yaml").write_text(lines)
    return run_dir


def test_the_saved_overrides_come_first_and_a_given_one_replaces_its_key(tmp_path: Path) -> None:
    run_dir = _saved_run(
        tmp_path / "run",
        "debug=smoke",
        "total_env_steps=30000",
        "+env.kwargs.max_episode_steps=50",
        "resume.path=/an/earlier/resume",  # a previous resume's keys are not the run's config
        "resume.allow_config_change=true",
    )
    assert expand_shorthands(["-m", "algo.lr=1e-3", f"resume={run_dir}", "seed=3"]) == [
        "-m",
        "algo.lr=1e-3",
        "debug=smoke",
        "total_env_steps=30000",
        "+env.kwargs.max_episode_steps=50",
        f"resume.path='{run_dir}'",
        "seed=3",
    ]
    given_budget = expand_shorthands([f"resume={run_dir}", "total_env_steps=60000"])
    assert given_budget == [
        "debug=smoke",
        "+env.kwargs.max_episode_steps=50",
        f"resume.path='{run_dir}'",
        "total_env_steps=60000",
    ]


def test_a_checkpoint_path_finds_its_run_dir(tmp_path: Path) -> None:
    run_dir = _saved_run(tmp_path / "run", "seed=7")
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    assert expand_shorthands([f"resume={ckpt}"]) == ["seed=7", f"resume.path='{ckpt}'"]


def test_a_run_dir_without_saved_overrides_adds_nothing(tmp_path: Path) -> None:
    # e.g. a run started from Python with compose_config: no .hydra/
    assert expand_shorthands([f"resume={tmp_path}", "seed=1"]) == [
        f"resume.path='{tmp_path}'",
        "seed=1",
    ]
    assert expand_shorthands(["seed=1"]) == ["seed=1"]


def test_resume_composes_the_runs_own_config(tmp_path: Path) -> None:
    run_dir = _saved_run(tmp_path / "run", "algo=reinforce", "total_env_steps=30000")
    cfg = compose_config([f"resume={run_dir}", f"run_dir={run_dir}"])
    assert cfg.algo._target_.endswith("Reinforce")
    assert cfg.total_env_steps == 30000
    assert cfg.resume.path == str(run_dir)


def test_a_checkpoint_from_before_env_backend_resumes_on_the_gymnasium_backend() -> None:
    saved = {"env": {"id": "CartPole-v1"}}
    assert config_changes(saved, {"env": {"id": "CartPole-v1", "backend": "gymnasium"}}) == []
    assert config_changes(saved, {"env": {"id": "CartPole-v1", "backend": "torch"}}) == [
        "  env.backend: 'gymnasium' -> 'torch'"
    ]


def test_env_num_threads_is_no_config_change() -> None:
    # EnvPool's envs keep one generator each: the thread count changes only the speed.
    saved = {"env": {"id": "CartPole-v1", "backend": "envpool"}}
    current = {"env": {"id": "CartPole-v1", "backend": "envpool", "num_threads": 2}}
    assert config_changes(saved, current) == []
    assert config_changes({"env": {**current["env"], "num_threads": 8}}, current) == []

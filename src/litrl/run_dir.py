"""A run dir belongs to one run: what a new run may find there, and the lock a running run holds.

Checked before anything is written (by ``run(cfg)``, and under ``@hydra.main`` by a Hydra
callback before Hydra writes ``.hydra/`` and its log), so a refused run leaves another run's
files byte-for-byte as they were.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
from pathlib import Path
from types import TracebackType

from omegaconf import DictConfig, open_dict, read_write

from litrl.config import (
    RESUME_RECORDS,
    hydra_quoted,
    overrides_given,
    resume_command,
    resume_run_dir,
)
from litrl.errors import ConfigError, check_run_dir, unwritable_dir
from litrl.resume import ResumePoint, vet_resume

log = logging.getLogger(__name__)
LOCK_NAME = "run.lock"
# Run dirs whose lock this process holds: taken before Hydra writes (``take_hydra_run_dir``),
# then entered again by ``run(cfg)``, which must not take its own process's lock for a stale one.
_HELD: set[Path] = set()


def take_hydra_run_dir(config: DictConfig) -> None:
    """Under ``@hydra.main``, before Hydra writes ``.hydra/`` and its log: the run's dir.

    Hydra's default dir (``outputs/<algo>-<env>/<time>``) is claimed with an atomic ``mkdir``,
    with a suffix (``<time>_1``) when another run started in the same second holds it; then the
    dir's lock is taken for this process and every check of ``check_before_writing`` runs. A
    refused run releases the lock and removes the dirs it created, so it leaves no trace. A
    resume writes Hydra's record of itself to ``.hydra/resumes/<n>/``: the ``.hydra/`` of the
    run's start is never overwritten.

    Raises:
        ConfigError: the dir cannot be written, is in use or holds another run, or the resume
            is refused.
    """
    run_dir = Path(config.hydra.run.dir)
    check_writable(config, "hydra.run.dir", run_dir)
    missing = [path for path in (run_dir, *run_dir.parents) if not path.exists()]
    if "hydra.run.dir" not in overrides_given(config.hydra.overrides.hydra) and not (
        config.resume.path
    ):
        run_dir = claim_new_dir(run_dir)
        missing = [run_dir, *missing[1:]]
        with read_write(config.hydra):
            config.hydra.run.dir = str(run_dir)
    lock = RunDirLock(run_dir)
    try:
        lock.__enter__()
        check_before_writing(config, "hydra.run.dir", run_dir)
    except ConfigError:
        lock.release()
        for path in missing:  # deepest first; a dir another process filled meanwhile stays
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        raise
    atexit.register(lock.release)
    if config.resume.path and (run_dir / ".hydra" / "overrides.yaml").is_file():
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.output_subdir = str(_next_resume_record(run_dir))


def take_hydra_sweep_dir(config: DictConfig) -> None:
    """Under ``@hydra.main -m``, before the launcher starts: Hydra's default sweep dir
    (``outputs/multirun/<date>/<time>``) claimed as ``take_hydra_run_dir`` claims a run's.

    The jobs compose their config again from the sweep's overrides, so the claimed dir joins
    those overrides as ``hydra.sweep.dir``; a dir the user named is left as it is.
    """
    check_run_dir("hydra.sweep.dir", config.hydra.sweep.dir)
    if "hydra.sweep.dir" in overrides_given(config.hydra.overrides.hydra):
        return
    sweep_dir = claim_new_dir(Path(config.hydra.sweep.dir))
    with read_write(config.hydra):
        config.hydra.sweep.dir = str(sweep_dir)
        config.hydra.overrides.hydra.append(f"hydra.sweep.dir={hydra_quoted(str(sweep_dir))}")


def claim_new_dir(path: Path) -> Path:
    """``path``, or the first of ``path_1``, ``path_2``, ... that does not exist, created.

    ``mkdir`` either creates a dir or fails because it exists, atomically: of two runs that
    start in the same second, each gets a dir of its own.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in range(10_000):
        candidate = path if suffix == 0 else path.with_name(f"{path.name}_{suffix}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise ConfigError(f"{path}: 10,000 run dirs of this name exist; clean up {path.parent}.")


def _next_resume_record(run_dir: Path) -> Path:
    """``.hydra/resumes/<n>``, one past the resumes recorded so far (relative to the run dir)."""
    records = run_dir / RESUME_RECORDS
    taken = [int(p.name) for p in records.iterdir() if p.name.isdigit()] if records.is_dir() else []
    return RESUME_RECORDS / str(max(taken, default=0) + 1)


def check_before_writing(cfg: DictConfig, field: str, run_dir: Path) -> ResumePoint | None:
    """Every check on the run dir, and the vetted resume point; raises ConfigError.

    Args:
        cfg: the composed train config (``resume``, ``reuse_run_dir`` and the algorithm keys).
        field: the key that named the run dir, for the messages (``run_dir``, ``hydra.run.dir``).
        run_dir: where the run will write.
    """
    check_writable(cfg, field, run_dir)
    target = cfg.resume.path
    resumed_dir = Path(resume_run_dir(str(target), "")) if target else None
    for busy in {run_dir.absolute(), *([resumed_dir.absolute()] if resumed_dir else [])}:
        check_not_running(busy)
    resume = vet_resume(cfg) if target else None
    if resume is None or resume.run_dir.resolve() != run_dir.resolve():
        check_holds_no_other_run(field, run_dir, reuse=bool(cfg.get("reuse_run_dir")))
    return resume


def check_writable(cfg: DictConfig, field: str, run_dir: Path) -> None:
    """Raise a ConfigError unless the run can write ``run_dir``: for a resume in the run's own
    dir, naming the resume and what to do with a read-only run; else naming ``field``."""
    target = cfg.resume.path
    if not target or Path(resume_run_dir(str(target), "")).absolute() != run_dir.absolute():
        check_run_dir(field, run_dir)
        return
    problem = unwritable_dir(run_dir)
    if problem:
        raise ConfigError(
            f"resume={target}: the run can't continue in {run_dir}: {problem}, and a resumed run "
            f"writes its checkpoints, events and log there. Make it writable (chmod -R u+w "
            f"{run_dir}), or copy the run dir somewhere writable and resume the copy."
        )


def files_of_a_run(run_dir: Path) -> list[Path]:
    """The files that show a run has trained in ``run_dir``: checkpoints and logged metrics.

    Hydra's ``.hydra/`` and log file are not among them: Hydra writes those before ``run(cfg)``.
    """
    if not run_dir.is_dir():
        return []
    checkpoints = run_dir / "checkpoints"
    found = [*run_dir.glob("events.out.tfevents.*"), *run_dir.glob("metrics*.csv")]
    if checkpoints.is_dir():
        found += checkpoints.glob("*.ckpt")
    return sorted(found)


def check_holds_no_other_run(field: str, run_dir: Path, *, reuse: bool) -> None:
    """Raise a ConfigError unless ``run_dir`` is free for a new run (or ``reuse`` says so).

    Args:
        field: the config key that named the dir, as the user wrote it (``hydra.run.dir``).
        run_dir: the dir the new run would write into.
        reuse: the user's explicit opt-in (``reuse_run_dir=true``) to write into it anyway.
    """
    found = files_of_a_run(run_dir)
    if not found or reuse:
        return
    names = ", ".join(str(path.relative_to(run_dir)) for path in found[:3])
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    raise ConfigError(
        f"{field}={run_dir} already holds another run ({names}{more}); a new run there would "
        "overwrite its checkpoints and mix two runs in one TensorBoard stream, so nothing was "
        f"written. To continue that run, use {resume_command(run_dir)}; to start a new one, leave "
        f"{field} out (a fresh timestamped dir) or point it at a new directory; to write into "
        "this one anyway, set reuse_run_dir=true."
    )


def check_not_running(run_dir: Path) -> None:
    """Raise a ConfigError when a live process holds ``run_dir``'s lock (a run in progress)."""
    holder = _live_holder(run_dir / LOCK_NAME)
    if holder is not None:
        raise ConfigError(
            f"{run_dir} is in use by a run in progress ({holder}, lock file "
            f"{run_dir / LOCK_NAME}); two runs writing one run dir would mix their checkpoints "
            "and TensorBoard events. Wait for it to end (Ctrl-C stops it with a checkpoint), "
            "then resume= it; if that process is gone, delete the lock file."
        )


class RunDirLock:
    """Holds ``run_dir/run.lock`` (this host and PID) while a run writes into ``run_dir``.

    Released on every way out of the ``with`` block, exceptions and KeyboardInterrupt included.
    A lock whose process is gone (a run killed with SIGKILL, a lost node) is stale: it is taken
    over with a warning. PIDs are only comparable on one host, so a lock from another host is
    never judged stale.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_NAME
        self._owner = False

    def __enter__(self) -> RunDirLock:
        if self.path.absolute() in _HELD:
            return self  # this process took it before Hydra wrote: the outer holder releases it
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            check_not_running(self.path.parent)
            log.warning(
                "taking over the stale lock %s: %s is gone (killed before it could release it)",
                self.path,
                _describe(_read(self.path) or ""),
            )
            self.path.unlink(missing_ok=True)
        try:
            # O_EXCL: of two runs that both found the dir free, only one creates the lock.
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            check_not_running(self.path.parent)  # a run that started at the same moment
            raise ConfigError(
                f"{self.path} appeared while this run started: another run is starting in "
                f"{self.path.parent}. Use a new run dir, or resume= that run once it ends."
            ) from None
        with os.fdopen(fd, "w") as file:
            file.write(f"{socket.gethostname()} {os.getpid()}\n")
        self._owner = True
        _HELD.add(self.path.absolute())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        """Removes the lock if this object took it (again: a no-op)."""
        if self._owner:
            self.path.unlink(missing_ok=True)
            _HELD.discard(self.path.absolute())
            self._owner = False


def _live_holder(lock: Path) -> str | None:
    """``pid N on host H`` when that process may still run, None when the lock is free or stale."""
    content = _read(lock)
    if content is None:
        return None
    host, _, pid_text = content.partition(" ")
    if not pid_text.isdigit():
        return None  # not a lock litrl wrote (an empty file after a crash mid-write): stale
    pid = int(pid_text)
    if host != socket.gethostname():
        return f"pid {pid} on host {host}"
    # Our own PID cannot be another run: it is a lock left by an earlier process that had the
    # same PID (a container restarted, where the run is often PID 1).
    if pid == os.getpid() or not _alive(pid):
        return None
    return f"pid {pid} on this host"


def _describe(content: str) -> str:
    host, _, pid = content.partition(" ")
    return f"pid {pid} on host {host}" if pid else "the run that wrote it"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, run by another user
    return True


def _read(lock: Path) -> str | None:
    try:
        return lock.read_text().strip()
    except FileNotFoundError:
        return None

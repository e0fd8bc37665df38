"""The runner: one workflow run at a time, in its own process group, streamed and stored.

``Runner.start`` checks the request (runs allowed, workflow known, scope inside the root and
accepted), records a ``running`` run, spawns the command without a shell in the project root
and returns at once; :class:`attune.ops.runs.process.RunProcess` pumps the output. The busy lock
is global: a second start while a run is live raises :class:`RunnerBusy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Mapping

from attune.ops.config import Config
from attune.ops.errors import (
    PathNotAccepted,
    RunElsewhere,
    RunFinished,
    RunnerBusy,
    RunsDisabled,
    StoreUnavailable,
)
from attune.ops.runs.channel import LiveChannel
from attune.ops.runs.git_state import read_git_state
from attune.ops.runs.live import StreamHub
from attune.ops.runs.output import kill_group
from attune.ops.runs.process import STORE_WAIT_AT_END_S, RunProcess
from attune.ops.runs.reaper import TAG_ENV, new_tag
from attune.ops.runs.recommendations import validate_recommendation
from attune.ops.runs.recovery import recover_runs
from attune.ops.runs.reports import ReportCollector, plan_reports
from attune.ops.runs.run_lock import RunLock, holder_run_id
from attune.ops.runs.scope import normalize_rel, resolve_scope
from attune.ops.runs.usage import PriceUsage, UsageMeter
from attune.ops.runs.workflows import Workflow, WorkflowRegistry
from attune.ops.store.database import Store
from attune.ops.store.run_origin import refuse_if_elsewhere
from attune.ops.store.runs import Run, RunStatus

__all__ = ["Runner", "colour_environment", "workflow_environment"]

logger = logging.getLogger(__name__)

# The admin key reads the whole organisation's billing: it stays in this process, never in a
# workflow's environment (a workflow is any command a project declares).
# Secrets of the dashboard a workflow never inherits: the admin key, and how it reaches a team
# database — the URL and libpq's password variables (a workflow that printed its environment
# would put the team's password in a log every teammate reads).
WITHHELD_ENV = frozenset(
    {"ANTHROPIC_ADMIN_API_KEY", "ATTUNE_DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE"}
)
# A run's output is a pipe, so tools would print no colour; these ask them to, as in a terminal.
COLOUR_ENV = ("FORCE_COLOR", "PY_COLORS", "CLICOLOR_FORCE")


class Runner:
    """Starts, cancels and tracks runs of one project; one run at a time.

    It knows nothing of HTTP: the web services object builds it with the hub the SSE route
    reads, and with ``on_run_end`` (the search indexer's wake-up); background jobs, the server
    file and the token belong to that composition root, not here.
    """

    #: how long an ended run waits for a store that is away (runs/process.py)
    store_wait_s: float = STORE_WAIT_AT_END_S

    def __init__(
        self,
        config: Config,
        store: Store,
        registry: WorkflowRegistry | None = None,
        hub: StreamHub | None = None,
        grace_s: float = 3.0,
        on_run_end: Callable[[Run], None] | None = None,
        price: PriceUsage | None = None,
    ) -> None:
        self.config = config
        self.price = price  # prices ATTUNE_USAGE calls without a cost (from the composition root)
        self.store = store
        self.registry = registry or WorkflowRegistry(config.project_root)
        self.hub = hub or StreamHub()
        self.grace_s = grace_s
        self.on_run_end = on_run_end
        self._lock = threading.Lock()
        self._current: RunProcess | None = None

    def _live(self) -> RunProcess | None:
        """The process of the run in progress; ``None`` once it has ended (and been recorded)."""
        current = self._current
        if current is not None and current.finished.is_set():
            # Never wait for the lock here: ``start`` holds it while it records a run (which may
            # wait on a locked database), and this runs on the event loop. A later call clears.
            if self._lock.acquire(blocking=False):
                try:
                    if self._current is current:
                        self._current = None
                finally:
                    self._lock.release()
            return None
        return current

    @property
    def current_run_id(self) -> int | None:
        current = self._live()
        return None if current is None else current.run.id

    @property
    def busy(self) -> bool:
        return self._live() is not None

    def start(
        self,
        workflow_name: str,
        path: str | None,
        trigger: str = "web",
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Run:
        """Start ``workflow_name`` on ``path`` (relative to the project root, or ``None``).

        Raises :class:`RunsDisabled`, :class:`UnknownWorkflow`, :class:`InvalidPath`,
        :class:`PathNotAccepted`, :class:`RunnerBusy` or :class:`StoreUnavailable`. Example:
        ``runner.start("todo-scan", "src")``. One run at a time across every dashboard and
        ``attune runs start`` of this home (:class:`RunLock`). Live output reaches SSE
        subscribers through ``loop`` (default: the running loop of this thread, if any); call
        it from a worker thread with the loop passed, since recording the run may wait on the
        database.
        """
        if not self.config.allow_run:
            raise RunsDisabled("this dashboard is read-only (--read-only): runs are disabled")
        found = self.registry.load()  # once: a second load could re-parse an edited file
        workflow = found.get(workflow_name)
        scope = self._scope(workflow, path)
        root = self.config.project_root
        argv, reports = plan_reports(
            workflow.name, workflow.reports, workflow.argv(scope), root, self.config.ops_dir
        )
        git = read_git_state(root)  # before the lock: git may take a moment on a big tree
        with self._lock:
            busy = self._current
            if busy is not None and not busy.finished.is_set():
                raise RunnerBusy(
                    f"run {busy.run.id} is still running; wait for it or cancel it",
                    current_run_id=busy.run.id,
                )
            lock = self._acquire()
            try:
                run = self.store.create_run(workflow.name, scope, argv, trigger)
            except (sqlite3.Error, StoreUnavailable) as exc:  # disk full, read-only, locked…
                lock.release()
                if isinstance(exc, StoreUnavailable):
                    raise
                raise StoreUnavailable(
                    f"the run could not be recorded, so it was not started: {exc}"
                ) from exc
            lock.record(run.id)
            with contextlib.suppress(sqlite3.Error, StoreUnavailable):  # only a detail of the run
                self.store.set_run_git(run.id, git)
            # From here the busy lock is held by ``process``: every way out either starts the
            # pump (which frees it at the end) or records the run failed and frees it now.
            # Building it only copies values (no I/O, no parse), so it cannot fail halfway.
            process = self._process(workflow, run, found.names(), loop, lock, reports)
            self._current = process
        try:
            process.start(argv)
        except (OSError, ValueError, RuntimeError, sqlite3.Error, StoreUnavailable) as exc:
            # OSError: exec, cwd, fork limits; ValueError: a NUL byte or a bad env name;
            # RuntimeError: no thread for the pump; the store: the pid could not be recorded.
            return self._failed_to_start(process, argv, exc)
        try:
            return self.store.get_run(run.id) or run
        except (sqlite3.Error, StoreUnavailable):
            return run  # it is running: a failed re-read must not answer 500 (a retry is a 409)

    def _acquire(self) -> RunLock:
        """The home's run lock, or :class:`RunnerBusy` naming the run of another process."""
        lock = RunLock(self.config.ops_dir)
        try:
            taken = lock.acquire()
        except OSError as exc:
            raise StoreUnavailable(f"the run lock {lock.path} cannot be taken: {exc}") from exc
        if not taken:
            holder = holder_run_id(self.config.ops_dir)
            which = f"run {holder}" if holder is not None else "a run"
            raise RunnerBusy(
                f"{which} is still running in another attune process on this home "
                f"({self.config.attune_home}); wait for it or cancel it",
                current_run_id=holder,
            )
        return lock

    def _scope(self, workflow: Workflow, path: str | None) -> str | None:
        if path is None or normalize_rel(path) == "":
            resolve_scope(self.config.project_root, path)
            return None
        if not workflow.accepts_path:
            raise PathNotAccepted(
                f"workflow {workflow.name!r} does not take a path; run it without one",
                workflow=workflow.name,
            )
        resolve_scope(self.config.project_root, path)
        return normalize_rel(path)

    def _process(
        self,
        workflow: Workflow,
        run: Run,
        names: frozenset[str],
        loop: asyncio.AbstractEventLoop | None,
        lock: RunLock,
        reports: ReportCollector | None = None,
    ) -> RunProcess:
        env = {
            **workflow_environment(),
            **colour_environment(workflow.env),
            **workflow.env,
            "ATTUNE_RUN_ID": str(run.id),
            TAG_ENV: new_tag(),  # follows every descendant: the run's end finds them all
        }
        root = self.config.project_root
        return RunProcess(
            self.store,
            run,
            cwd=root,
            env=env,
            timeout_s=workflow.timeout_s,
            channel=LiveChannel.open(self.hub, run.id, loop),
            validate_rec=lambda p: validate_recommendation(p, names, root),
            on_end=self.on_run_end,
            grace_s=self.grace_s,
            usage=UsageMeter(self.store, run.id, self.price),
            release=lock.release,
            reports=reports,
            store_wait_s=self.store_wait_s,
        )

    def _failed_to_start(self, process: RunProcess, argv: list[str], exc: Exception) -> Run:
        if process.proc is not None:  # spawned, then the pid or the pump failed: end it now
            kill_group(process.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.proc.wait(timeout=5)
            if process.proc.stdout is not None:
                process.proc.stdout.close()
        reason = _start_failure(argv, exc)
        message = f"[attune] could not start {argv[0]!r}: {reason}"
        try:
            self.store.append_note(process.run.id, message)
            run = self.store.finish_run(process.run.id, RunStatus.FAILED, None, 0.0, message)
        except (sqlite3.Error, StoreUnavailable):
            logger.exception("run %s: could not record that it failed to start", process.run.id)
            run = dataclasses.replace(process.run, status=RunStatus.FAILED, error=message)
        process.end(run)
        return run

    def cancel(self, run_id: int, by: str = "the dashboard") -> Run:
        """Cancel a live run (SIGTERM to its group, SIGKILL after the grace period)."""
        current = self._live()
        if current is None or current.run.id != run_id:
            run = self.store.require_run(run_id)
            if run.status == RunStatus.RUNNING:
                refuse_if_elsewhere(run)
            if run.status == RunStatus.RUNNING and run.server_pid not in (None, os.getpid()):
                raise RunElsewhere(
                    f"run {run_id} belongs to another attune process (pid {run.server_pid}); "
                    "stop it there (Ctrl-C in the terminal of `attune runs start`)",
                    run_id=run_id,
                )
            raise RunFinished(f"run {run_id} has already finished ({run.status})", run_id=run_id)
        current.cancel(by)
        try:
            return self.store.get_run(run_id) or current.run
        except (sqlite3.Error, StoreUnavailable):  # cancelled all the same: the store is away
            return current.run

    async def wait(self, run_id: int, timeout: float) -> Run | None:
        """Wait up to ``timeout`` s for a live run to end; returns the run as stored."""
        current = self._live()
        if current is not None and current.run.id == run_id:
            await asyncio.to_thread(current.join, timeout)
        return await asyncio.to_thread(self.store.get_run, run_id)

    def rerun(
        self, run_id: int, trigger: str = "web", loop: asyncio.AbstractEventLoop | None = None
    ) -> Run:
        """Start the same workflow on the same path as run ``run_id``."""
        run = self.store.require_run(run_id)
        return self.start(run.workflow, run.path, trigger, loop)

    def recover(self) -> list[Run]:
        """Mark runs left ``running`` by a dead server ``interrupted``; end their leftovers."""
        return recover_runs(self.store)

    def interrupt(self) -> None:
        """The dashboard is stopping: end the live run now (recorded ``interrupted``)."""
        current = self._live()
        if current is not None:
            current.interrupt()

    def stop(self, timeout: float = 5.0) -> None:
        """The dashboard is stopping: end the live run (recorded ``interrupted``) and wait."""
        current = self._live()
        if current is not None:
            current.interrupt()
            current.join(timeout)


def _start_failure(argv: list[str], exc: Exception) -> str:
    """Why the process could not be started, for the run's last line."""
    if isinstance(exc, FileNotFoundError) and exc.filename in (None, argv[0]):
        return f"command not found: {argv[0]}"
    if isinstance(exc, OSError):  # the filename may be the cwd (the project root is gone)
        where = f": {exc.filename}" if exc.filename not in (None, argv[0]) else ""
        return (exc.strerror or str(exc)) + where
    if isinstance(exc, ValueError):  # Popen's check of a NUL byte or an env name with "="
        return f"its command or environment cannot be passed to a process ({exc})"
    return str(exc)


def workflow_environment() -> dict[str, str]:
    """This process's environment minus what a workflow must never see (the admin key)."""
    return {k: v for k, v in os.environ.items() if k not in WITHHELD_ENV}


def colour_environment(workflow_env: Mapping[str, str]) -> dict[str, str]:
    """``FORCE_COLOR``, ``PY_COLORS``, ``CLICOLOR_FORCE`` = 1, so pytest, ruff and npm colour the
    log as they would a terminal; none of them when ``NO_COLOR`` is set here or by the workflow,
    and never one the user's environment or the workflow already sets."""
    if os.environ.get("NO_COLOR") or workflow_env.get("NO_COLOR"):
        return {}
    return {name: "1" for name in COLOUR_ENV if name not in os.environ and name not in workflow_env}

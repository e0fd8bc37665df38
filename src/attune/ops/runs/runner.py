"""The runner: one workflow run at a time, in its own process group, streamed and stored.

``Runner.start`` checks the request (runs allowed, workflow known, scope inside the root and
accepted), records a ``running`` run, spawns the command without a shell in the project root
and returns at once; :class:`attune.ops.runs.process.RunProcess` pumps the output. The busy lock
is global: a second start while a run is live raises :class:`RunnerBusy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from attune.ops.config import Config
from attune.ops.errors import (
    AttuneError,
    PathNotAccepted,
    RunFinished,
    RunnerBusy,
    RunNotFound,
    RunsDisabled,
    StoreUnavailable,
)
from attune.ops.runs.live import Frame, StreamHub, encode_done
from attune.ops.runs.process import RunProcess, kill_group
from attune.ops.runs.scope import normalize_rel, resolve_scope
from attune.ops.runs.workflows import Workflow, WorkflowRegistry
from attune.ops.server_file import remove_server_file, write_server_file
from attune.ops.store.database import Store
from attune.ops.store.indexer import SearchIndexer
from attune.ops.store.retention import RetentionJob
from attune.ops.store.runs import Run, RunStatus

__all__ = [
    "Runner",
    "validate_recommendation",
]

logger = logging.getLogger(__name__)

# The admin key reads the whole organisation's billing: it stays in this process, never in a
# workflow's environment (a workflow is any command a project declares).
WITHHELD_ENV = frozenset({"ANTHROPIC_ADMIN_API_KEY"})
INTERRUPTED_NOTE = "[attune] the dashboard stopped while this run was running; marked interrupted"


def validate_recommendation(
    payload: Any, workflows: frozenset[str], root: Path
) -> dict[str, Any] | None:
    """A recommendation in its canonical form (DESIGN §7), or ``None`` when invalid.

    ``next-workflow``: ``{"kind", "workflow", "path"}``; ``open-url``: ``{"kind", "url"}``;
    both with an optional ``title`` (or ``label``) and ``reason``.
    """
    if not isinstance(payload, dict):
        return None
    extra = _texts(payload)
    kind = payload.get("kind")
    if kind == "next-workflow":
        name, path = payload.get("workflow"), payload.get("path")
        if not isinstance(name, str) or name not in workflows:
            return None
        if path is not None:
            if not isinstance(path, str):
                return None
            try:
                resolve_scope(root, path)
                path = normalize_rel(path) or None
            except AttuneError:
                return None
        return {"kind": kind, "workflow": name, "path": path, **extra}
    if kind == "open-url":
        url = payload.get("url")
        if not isinstance(url, str) or len(url) > 2048:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        return {"kind": kind, "url": url, **extra}
    return None


def _texts(payload: dict[str, Any]) -> dict[str, str]:
    """The optional ``title`` (alias ``label``) and ``reason`` of a recommendation, trimmed."""
    out: dict[str, str] = {}
    for key, aliases, limit in (("title", ("title", "label"), 200), ("reason", ("reason",), 500)):
        for alias in aliases:
            value = payload.get(alias)
            if isinstance(value, str) and value.strip():
                out[key] = value.strip()[:limit]
                break
    return out


class Runner:
    """Starts, cancels and tracks runs of one project; one run at a time."""

    def __init__(
        self,
        config: Config,
        store: Store,
        registry: WorkflowRegistry | None = None,
        hub: StreamHub | None = None,
        grace_s: float = 3.0,
    ) -> None:
        self.config = config
        self.store = store
        self.registry = registry or WorkflowRegistry(config.project_root)
        self.hub = hub or StreamHub()
        self.grace_s = grace_s
        self._lock = threading.Lock()
        self._current: RunProcess | None = None
        self._retention: RetentionJob | None = None
        self.indexer = SearchIndexer(store, lambda: self._current is not None)

    @property
    def current_run_id(self) -> int | None:
        current = self._current
        return None if current is None else current.run.id

    def start(self, workflow_name: str, path: str | None, trigger: str = "web") -> Run:
        """Start ``workflow_name`` on ``path`` (relative to the project root, or ``None``).

        Raises :class:`RunsDisabled`, :class:`UnknownWorkflow`, :class:`InvalidPath`,
        :class:`PathNotAccepted` or :class:`RunnerBusy`. Example: ``runner.start("todo-scan",
        "src")``. Call it on the event loop so live output reaches SSE subscribers.
        """
        if not self.config.allow_run:
            raise RunsDisabled("this dashboard is read-only (--read-only): runs are disabled")
        workflow = self.registry.get(workflow_name)
        scope = self._scope(workflow, path)
        with self._lock:
            if self._current is not None:
                raise RunnerBusy(
                    f"run {self._current.run.id} is still running; wait for it or cancel it",
                    current_run_id=self._current.run.id,
                )
            argv = workflow.argv(scope)
            try:
                run = self.store.create_run(workflow.name, scope, argv, trigger)
            except sqlite3.Error as exc:  # disk full, read-only file system…
                raise StoreUnavailable(
                    f"the run could not be recorded, so it was not started: {exc}"
                ) from exc
            process = self._process(workflow, run)
            self._current = process
            if process.publish is not None:
                self.hub.open(run.id)
        try:
            process.start(argv)
        except OSError as exc:
            return self._failed_to_start(process, argv, exc)
        return self.store.get_run(run.id) or run

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

    def _process(self, workflow: Workflow, run: Run) -> RunProcess:
        env = {**workflow_environment(), **workflow.env, "ATTUNE_RUN_ID": str(run.id)}
        names = self.registry.load().names()
        root = self.config.project_root
        return RunProcess(
            self.store,
            run,
            cwd=root,
            env=env,
            timeout_s=workflow.timeout_s,
            publish=self._publisher(run.id),
            validate_rec=lambda p: validate_recommendation(p, names, root),
            on_exit=self._on_exit,
            grace_s=self.grace_s,
        )

    def _publisher(self, run_id: int) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None  # no event loop (a script or a test): stored, not streamed

        def publish(frame: Frame) -> None:
            if loop.is_closed():
                return
            target = self.hub.close if frame.kind == "done" else self.hub.publish
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(target, run_id, frame)

        return publish

    def _failed_to_start(self, process: RunProcess, argv: list[str], exc: OSError) -> Run:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileNotFoundError):
            reason = f"command not found: {argv[0]}"
        message = f"[attune] could not start {argv[0]!r}: {reason}"
        self.store.append_note(process.run.id, message)
        run = self.store.finish_run(process.run.id, RunStatus.FAILED, None, 0.0, message)
        process.finished.set()
        self._on_exit(process, run)
        if process.publish is not None:
            process.publish(Frame("done", encode_done(run)))
        return run

    def _on_exit(self, process: RunProcess, run: Run) -> None:
        with self._lock:
            if self._current is process:
                self._current = None
        self.indexer.notify()

    def cancel(self, run_id: int) -> Run:
        """Cancel a live run (SIGTERM to its group, SIGKILL after the grace period)."""
        current = self._current
        if current is None or current.run.id != run_id:
            run = self.store.get_run(run_id)
            if run is None:
                raise RunNotFound(f"no run with id {run_id}", run_id=run_id)
            raise RunFinished(f"run {run_id} has already finished ({run.status})", run_id=run_id)
        current.cancel()
        return self.store.get_run(run_id) or current.run

    async def wait(self, run_id: int, timeout: float) -> Run | None:
        """Wait up to ``timeout`` s for a live run to end; returns the run as stored."""
        current = self._current
        if current is not None and current.run.id == run_id:
            await asyncio.to_thread(current.join, timeout)
        return await asyncio.to_thread(self.store.get_run, run_id)

    def rerun(self, run_id: int, trigger: str = "web") -> Run:
        """Start the same workflow on the same path as run ``run_id``."""
        run = self.store.get_run(run_id)
        if run is None:
            raise RunNotFound(f"no run with id {run_id}", run_id=run_id)
        return self.start(run.workflow, run.path, trigger)

    def recover(self) -> list[Run]:
        """Mark runs left ``running`` by a dead server ``interrupted``; kill their leftovers."""
        left = self.store.mark_interrupted(INTERRUPTED_NOTE, _server_gone)
        for run in left:
            if run.pid and _group_belongs_to(run.pid, run.id) and kill_group(run.pid, 0):
                kill_group(run.pid, signal.SIGKILL)
                self.store.append_note(
                    run.id, f"[attune] killed the run's leftover process group {run.pid}"
                )
        return left

    def start_background(self, token: str) -> None:
        """Start retention and advertise this server to ``attune runs`` (lifespan start)."""
        if self._retention is None:
            self._retention = RetentionJob(self.store, self.config.runs_retention_days)
            self._retention.start()
        self.indexer.start()
        try:
            write_server_file(self.config, token)
        except OSError as exc:
            logger.warning("could not write the server file for `attune runs cancel`: %s", exc)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel the live run (if any), wait for it to be recorded, stop background work."""
        current = self._current
        if current is not None:
            current.cancel()
            current.join(timeout)
        if self._retention is not None:
            self._retention.stop()
        self.indexer.stop()
        self.hub.replay_cache.executor.shutdown(wait=False, cancel_futures=True)
        remove_server_file(self.config)


def workflow_environment() -> dict[str, str]:
    """This process's environment minus what a workflow must never see (the admin key)."""
    return {k: v for k, v in os.environ.items() if k not in WITHHELD_ENV}


def _server_gone(run: Run) -> bool:
    """True unless the server that started ``run`` is another live process."""
    pid = run.server_pid
    if not pid or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _group_belongs_to(pgid: int, run_id: int) -> bool:
    """True when a process of group ``pgid`` carries ``ATTUNE_RUN_ID=run_id`` (not a reused pid)."""
    marker = f"ATTUNE_RUN_ID={run_id}".encode()
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                return True
        except (OSError, ValueError, IndexError):
            continue
    return False

"""``attune runs start WORKFLOW [--path P] [--follow] [--json]``: a run from the terminal.

When a dashboard of this home serves this project (its server file names the project), the run
is asked of it over loopback with its token, so the dashboard owns it, streams it and can
cancel it; the token never leaves the machine. Otherwise this process runs the workflow itself
with the same runner, store and lock as a dashboard (one run at a time across every dashboard
and CLI of the home), and Ctrl-C cancels it. Either way the command waits for the run's end
(``--follow`` prints the log meanwhile) and exits with the run's exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import itertools
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from attune.ops.cli.dashboard import post_to_dashboard
from attune.ops.cli.follow import (
    OwnerGone,
    exit_code_of,
    follow_run,
    outcome_line,
    wants_colour,
)
from attune.ops.cli.main import EXIT_INTERRUPTED, run_command
from attune.ops.config import Config, build_config
from attune.ops.errors import AttuneError, RunFinished, UnknownWorkflow
from attune.ops.runs.runner import Runner
from attune.ops.server_file import ServerInfo, server_for_project
from attune.ops.store.database import Store
from attune.ops.store.open import open_store
from attune.ops.store.runs import Run, RunStatus

__all__ = ["cancel_in_terminal", "start_workflow"]

TRIGGER = "cli"


HEALTH_TIMEOUT_S = 1.0  # a dashboard that does not answer /healthz in this time is gone


class _Stop(BaseException):
    """Ctrl-C, SIGTERM or SIGHUP reached this process while it ran a workflow itself (a
    ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception`` swallows it)."""


@dataclass
class _Signals:
    """The first stop signal received (0: none yet); ``armed``: whether it raises."""

    first: int = 0
    armed: bool = False


def start_workflow(args: argparse.Namespace) -> int:
    """Start ``args.workflow`` and wait for its end. Example: ``attune runs start make:test``."""
    return run_command("runs start", lambda: _start(args))


def _start(args: argparse.Namespace) -> int:
    config = build_config(args.project)
    server = server_for_project(config)
    if server is not None and not _answers(server):
        print(
            f"attune runs start: note: the dashboard recorded for this project (pid {server.pid}, "
            f"{server.url}) does not answer; it is gone (its server file is stale): running "
            "here",
            file=sys.stderr,
        )
        server = None
    # integrity_budget_s=0: the dashboard checks the store at its start
    store = open_store(config.db_path, config.database_url, integrity_budget_s=0)
    try:
        if server is not None:
            return _through_server(config, server, store, args)
        return _here(config, store, args)
    finally:
        store.close()


def _answers(server: ServerInfo) -> bool:
    """Whether ``server`` answers ``/healthz`` now: its pid alone may be another process's
    (a dashboard that crashed leaves its file, and pids are reused)."""
    import httpx

    try:
        r = httpx.get(
            f"{server.url}/healthz",
            headers={"Host": server.host_header},
            timeout=HEALTH_TIMEOUT_S,
        )
        return r.status_code == 200 and r.json().get("status") == "ok"
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


def _streams(args: argparse.Namespace) -> tuple[TextIO, bool]:
    """Where the log goes (stderr with ``--json``, so stdout stays one JSON object) and
    whether it is printed plain."""
    out = sys.stderr if args.json else sys.stdout
    return out, not wants_colour(args.color, out)


def _through_server(config: Config, server: ServerInfo, store: Store, args: Any) -> int:
    body = post_to_dashboard(
        server, "/api/runs", json={"workflow": args.workflow, "path": args.path}
    )
    run = store.require_run(int(body["id"]))
    print(
        f"run {run.id} started on the dashboard: {shlex.join(run.command)}\n"
        f"  {server.url}/runs/{run.id}",
        file=sys.stderr,
    )
    try:
        return _wait(store, run, args)
    except KeyboardInterrupt:
        print(
            f"\nrun {run.id} goes on in the dashboard (attune runs cancel {run.id} stops it)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


def _here(config: Config, store: Store, args: Any) -> int:
    runner = Runner(config, store)
    signals = _Signals()
    try:
        with _stop_on_signals(signals):
            try:
                run = runner.start(args.workflow, args.path, TRIGGER)
            except UnknownWorkflow as exc:
                raise UnknownWorkflow(exc.message + _suggestion(runner, args.workflow)) from exc
            print(f"run {run.id} started here: {shlex.join(run.command)}", file=sys.stderr)
            signals.armed = True
            ended = _wait_or_cancel(runner, store, run, args, signals)
    finally:
        runner.stop()  # whatever happened, no workflow outlives this process
    return 128 + signals.first if signals.first else ended


def _wait_or_cancel(runner: Runner, store: Store, run: Run, args: Any, signals: _Signals) -> int:
    """Wait for the run's end; on the first stop signal cancel it and keep waiting. Later
    signals are only recorded (see :func:`_stop_on_signals`), so nothing interrupts the
    cancel itself."""
    cancelled = False
    while True:
        try:
            if signals.first and not cancelled:
                raise _Stop  # it came while the run was starting
            return _wait(store, run, args)
        except _Stop:
            if cancelled:
                continue
            cancelled = True
            print(f"\ncancelling run {run.id}…", file=sys.stderr)
            with contextlib.suppress(RunFinished):
                runner.cancel(run.id, "Ctrl-C in `attune runs start`")


def _wait(store: Store, run: Run, args: Any) -> int:
    out, plain = _streams(args)
    try:
        ended = follow_run(store, run, plain=plain, out=out, quiet=not args.follow)
    except OwnerGone:
        raise AttuneError(
            f"the dashboard running run {run.id} is gone; the run will be marked interrupted "
            "when attune ops starts again"
        ) from None
    print(outcome_line(ended), file=sys.stderr)
    if args.json:
        print(json.dumps(ended.to_json(), indent=2))
    return exit_code_of(ended)


def _suggestion(runner: Runner, name: str) -> str:
    names = sorted(runner.registry.load().names())
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if close:
        return f"; did you mean {', '.join(close)}?"
    return f"; known: {', '.join(names[:12])}" + (" …" if len(names) > 12 else "")


@contextmanager
def _stop_on_signals(signals: _Signals) -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP cancel the run this process owns: its process group lives
    in its own session and would outlive this process otherwise. The first one is recorded
    (the exit code is 128 + its number) and raises :class:`_Stop` once ``signals.armed``;
    later ones only wait for the cancel under way."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        if signals.first:
            return
        signals.first = signum
        if signals.armed:
            raise _Stop

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, stop) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cancel_in_terminal(config: Config, run_id: int, owner: int, wait_s: float = 10.0) -> Run | None:
    """Cancel a run that an ``attune runs start`` process owns, by sending it SIGTERM (which it
    turns into a cancel); the run once it ended, or ``None`` when ``owner`` is no such process
    (its command line is read from ``/proc``, so a dashboard is never signalled). Raises
    ``AttuneError`` when it cannot be signalled or the run is still running after ``wait_s``."""
    try:
        argv = Path(f"/proc/{owner}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if not any(a == b"runs" and b == b"start" for a, b in itertools.pairwise(argv)):
        return None
    store = open_store(config.db_path, config.database_url, integrity_budget_s=0)
    try:
        try:
            os.kill(owner, signal.SIGTERM)
        except ProcessLookupError:
            run = store.require_run(run_id)
            if run.status != RunStatus.RUNNING:
                return run  # it ended meanwhile, and its process with it
            raise AttuneError(
                f"run {run_id} belongs to `attune runs start` (pid {owner}), which has just "
                "ended; the run will be marked interrupted when attune ops starts again"
            ) from None
        except PermissionError:
            raise AttuneError(
                f"run {run_id} belongs to `attune runs start` (pid {owner}), which this user "
                "may not signal; stop it in its own terminal (Ctrl-C)"
            ) from None
        deadline = time.monotonic() + wait_s
        run = store.require_run(run_id)
        while run.status == RunStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(0.1)
            run = store.require_run(run_id)
        if run.status == RunStatus.RUNNING:
            raise AttuneError(
                f"run {run_id} was asked to stop (SIGTERM to `attune runs start`, pid {owner}) "
                f"but is still running after {wait_s:g} s"
            )
        return run
    finally:
        store.close()

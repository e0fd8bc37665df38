"""One running workflow process and the thread that pumps its output into the store.

The pump reads the merged stdout/stderr pipe in 64 KiB chunks (never line by line), splits lines
itself (an unterminated last line is kept; invalid UTF-8 is replaced), and flushes a batch every
few milliseconds or every few thousand lines: one transaction in the store, then the same batch
encoded once as an SSE frame and handed to the event loop for every subscriber. ``ATTUNE_REC``
lines become recommendations instead of log lines. A store that is away never stops the run:
its lines wait in memory (runs/unstored.py) and a run that ends meanwhile waits for the store
up to :data:`STORE_WAIT_AT_END_S`.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from attune.ops.errors import StoreUnavailable
from attune.ops.runs.channel import LiveChannel
from attune.ops.runs.output import (
    LineSplitter,
    Pending,
    kill_group,
    signal_name,
)
from attune.ops.runs.reaper import TAG_ENV, kill_tagged
from attune.ops.runs.reports import ReportCollector
from attune.ops.runs.unstored import RETRY_STORE_EVERY_S, Unstored, is_away
from attune.ops.runs.usage import USAGE_PREFIX, UsageMeter
from attune.ops.store.database import Store
from attune.ops.store.runs import Run, RunStatus

__all__ = ["INTERRUPTED_NOTE", "LineSplitter", "RunProcess", "kill_group", "signal_name"]

logger = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
MAX_RECOMMENDATIONS = 50
REC_PREFIX = "ATTUNE_REC "
ORPHAN_GRACE_S = 2.0
INTERRUPTED_NOTE = "[attune] the dashboard stopped while this run was running; marked interrupted"
LOCKED_TRIES_WHEN_ENDING = 3  # each waits the store's busy timeout
END_RETRY_FOR_S = 600.0  # an end that could not be written is tried again this long
# How long an ended run waits for a store that is away before it gives up its unstored lines
# (the one-run lock is held meanwhile, so no longer than a database restart or a failover).
STORE_WAIT_AT_END_S = 30.0


RecValidator = Callable[[Any], dict[str, Any] | None]


@dataclass
class _Outcome:
    status: RunStatus | None = None
    error: str | None = None
    note: str | None = None  # the last log line: who ended the run, and how
    extra_notes: list[str] = field(default_factory=list)  # what else the end had to do


class RunProcess:
    """A started workflow process plus its pump thread."""

    def __init__(
        self,
        store: Store,
        run: Run,
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout_s: float | None,
        channel: LiveChannel,
        validate_rec: RecValidator,
        on_end: Callable[[Run], None] | None = None,
        grace_s: float = 3.0,
        usage: UsageMeter | None = None,
        release: Callable[[], None] | None = None,
        reports: ReportCollector | None = None,
        store_wait_s: float = STORE_WAIT_AT_END_S,
    ) -> None:
        self.store = store
        self.release = release  # the run lock: freed before anyone is told the run is over
        self.run = run
        self.cwd = cwd
        self.env = dict(env)
        self.timeout_s = timeout_s
        self.channel = channel
        self.validate_rec = validate_rec
        self.usage = usage  # ATTUNE_USAGE lines: checked, priced and stored (runs/usage.py)
        self.on_end = on_end
        self.reports = reports  # read and stored once the output is (runs/reports.py)
        self.result: Run | None = None  # the run as recorded at its end
        self.grace_s = grace_s
        self.finished = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self._outcome = _Outcome()
        self._next_seq = 1
        self._unstored = Unstored()  # lines the store could not take yet (it is away)
        self._lost_recs = 0
        self.store_wait_s = store_wait_s
        self._rec_count = 0
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None
        self._kill_timer: threading.Timer | None = None

    # -- control -------------------------------------------------------------------------------

    def start(self, argv: Sequence[str]) -> None:
        """Spawn the process (own session, no shell) and start pumping; raises ``OSError``."""
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,
            bufsize=0,
            close_fds=True,
        )
        self.store.set_run_pid(self.run.id, self.proc.pid)
        self._thread = threading.Thread(
            target=self._pump, name=f"attune-run-{self.run.id}", daemon=True
        )
        self._thread.start()

    def cancel(self, by: str = "the dashboard") -> None:
        """SIGTERM to the process group now, SIGKILL after the grace period."""
        self._end_early(RunStatus.CANCELLED, f"[attune] cancelled by {by}")

    def interrupt(self) -> None:
        """The dashboard is stopping: end the process and record the run ``interrupted``."""
        self._end_early(RunStatus.INTERRUPTED, INTERRUPTED_NOTE)

    def _end_early(self, status: RunStatus, note: str) -> None:
        if self._outcome.status is None:
            self._outcome.status = status
            self._outcome.note = note
        self._terminate()

    def _terminate(self) -> None:
        if self.proc is None or self.finished.is_set():
            return
        kill_group(self.proc.pid, signal.SIGTERM)
        if self._kill_timer is None:
            timer = threading.Timer(self.grace_s, self._kill)
            timer.daemon = True
            self._kill_timer = timer
            timer.start()

    def _kill(self) -> None:
        if self.proc is not None:
            kill_group(self.proc.pid, signal.SIGKILL)

    def join(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)

    # -- the pump ------------------------------------------------------------------------------

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        try:
            self._read_until_eof(fd)
        except Exception as exc:  # a store failure (disk full, read-only): stop the run
            logger.exception("run %s: output could not be stored", self.run.id)
            if self._outcome.status is None:  # a cancel or a timeout stays what it was
                self._outcome.status = RunStatus.FAILED
            self._outcome.error = f"the run's output could not be stored: {exc}"
            self._kill()
        finally:
            self.proc.stdout.close()
            self._finish()

    def _read_until_eof(self, fd: int) -> None:
        splitter = LineSplitter()
        pending = Pending()
        exited_at: float | None = None
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                if sel.select(self._wait(pending, time.monotonic())):
                    data = os.read(fd, READ_SIZE)
                    if not data:
                        break
                    self._take(splitter.feed(data), len(data), splitter.saw_marker, pending)
                now = time.monotonic()
                if pending.due(now):
                    self._flush(pending.take())
                if self._unstored.due(now):
                    self._unstored.store(self.store, self.run.id)
                exited_at = self._watch(now, exited_at)
                if exited_at is not None and now - exited_at > 2 * ORPHAN_GRACE_S:
                    break  # a child in its own session still holds the pipe: stop reading
        self._take(splitter.flush(), 0, True, pending)
        self._flush(pending.take())

    def _take(self, lines: list[str], size: int, may_hold_rec: bool, pending: Pending) -> None:
        """Queue log lines; an ``ATTUNE_REC`` line flushes what is before it, then recommends."""
        if not may_hold_rec:
            pending.add(lines, size)
            return
        for line in lines:
            if line.startswith(REC_PREFIX):
                self._flush(pending.take())
                self._recommend(line)
            elif line.startswith(USAGE_PREFIX) and self.usage is not None:
                self.usage.take(line)
            else:
                pending.add([line], len(line))

    def _watch(self, now: float, exited_at: float | None) -> float | None:
        """Enforce the timeout; end a run whose leader exited but whose pipe stays open."""
        assert self.proc is not None
        self._enforce_timeout(now)
        if exited_at is None and self.proc.poll() is not None:
            return now
        if exited_at is not None and now - exited_at > ORPHAN_GRACE_S:
            self._kill()  # background children still hold the pipe: the run is over
        return exited_at

    def _write_end_later(self) -> None:
        """The end is kept in memory (every read shows it), and so are its last lines when the
        store is away: write them once the lock lets go or the store is back."""
        deadline = time.monotonic() + END_RETRY_FOR_S
        while time.monotonic() < deadline:
            time.sleep(RETRY_STORE_EVERY_S)
            try:
                if self._unstored and not self._unstored.store(self.store, self.run.id):
                    continue
                self.store.write_pending_ends()
                return
            except (StoreUnavailable, sqlite3.Error):
                continue
        logger.error("run %s: its end was never written (the store stayed away)", self.run.id)

    def _wait(self, pending: Pending, now: float) -> float:
        """How long the reader may block: until a flush, or the next try of a store away."""
        wait = pending.wait(now)
        if self._unstored:
            wait = min(wait, max(0.0, self._unstored.retry_at - now))
        return wait

    def _enforce_timeout(self, now: float) -> None:
        timed_out = self.timeout_s is not None and now - self._started > self.timeout_s
        if timed_out and self._outcome.status is None:
            self._outcome.status = RunStatus.TIMED_OUT
            self._terminate()

    def _flush(self, lines: list[str]) -> None:
        if not lines:
            return
        first = self._next_seq
        away: StoreUnavailable | None = None
        if not self._unstored:  # nothing is written past lines still waiting
            try:
                self._append(first, lines)  # on disk before anyone sees it
            except StoreUnavailable as exc:
                if not exc.extra.get("unreachable"):
                    raise
                away = exc
        if away is not None or self._unstored:
            self._keep(first, lines, away)
        self._next_seq += len(lines)
        self.channel.lines(first, lines)  # from memory while the store is away

    def _keep(self, first: int, lines: list[str], away: StoreUnavailable | None) -> None:
        if away is not None:
            logger.warning("run %s: %s; keeping its output in memory", self.run.id, away)
            self._unstored.later(time.monotonic(), away.message)
        self._unstored.add(first, lines)

    def _note_losses(self) -> None:
        """What could not be stored, in the run's error and as its last log line."""
        text = self._unstored.loss_note(self._lost_recs)
        if text is not None:
            self._outcome.error = f"{self._outcome.error}; {text}" if self._outcome.error else text
            self._flush([f"[attune] {text}"])

    def _append(self, first: int, lines: list[str]) -> None:
        """Store a batch; while another process holds the database, wait and try again.

        The lines stay in memory meanwhile and the pipe is not read, so the workflow waits on
        its own output instead of anything being lost. A run already being ended gives up after
        a few more tries (its end is then kept in memory by the store).
        """
        tries_left = LOCKED_TRIES_WHEN_ENDING
        warned = False
        while True:
            try:
                self.store.append_lines(self.run.id, first, lines)
                return
            except StoreUnavailable as exc:
                if not exc.extra.get("locked") or exc.extra.get("unreachable"):
                    raise  # only a lock is waited out here; a store away keeps lines in memory
                self._enforce_timeout(time.monotonic())  # the pump waits here, not in _watch
                if self._outcome.status is not None:
                    tries_left -= 1
                    if tries_left <= 0:
                        raise
                if not warned:
                    warned = True
                    logger.warning("run %s: %s; keeping its output, trying again", self.run.id, exc)

    def _recommend(self, line: str) -> None:
        if self._rec_count >= MAX_RECOMMENDATIONS:
            return
        try:
            payload = self.validate_rec(json.loads(line[len(REC_PREFIX) :]))
        except (ValueError, RecursionError):  # not JSON, or nested past what json can read
            payload = None
        if payload is None:
            return
        index = self._rec_count
        self._rec_count += 1
        try:
            self.store.add_recommendation(self.run.id, index, payload)
        except StoreUnavailable as exc:  # the card is lost (named at the end), the run goes on
            logger.warning("run %s: a recommendation could not be stored: %s", self.run.id, exc)
            self._lost_recs += 1
            self._unstored.reason = self._unstored.reason or exc.message
            return
        self.channel.recommendation(index, payload)

    def _finish(self) -> None:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=self.grace_s + 5)
        except subprocess.TimeoutExpired:
            self._kill()
            code = self.proc.wait()
        if self._kill_timer is not None:
            self._kill_timer.cancel()
        kill_group(self.proc.pid, signal.SIGKILL)  # no grandchild outlives its run
        self._sweep()
        status = self._outcome.status or (RunStatus.SUCCEEDED if code == 0 else RunStatus.FAILED)
        interrupted = lambda: self._outcome.status == RunStatus.INTERRUPTED  # noqa: E731
        # Before the reports read the log back; the runner stays busy meanwhile.
        self._unstored.wait(self.store, self.run.id, self.store_wait_s, interrupted)
        self._outcome.extra_notes.extend(self.usage.finish() if self.usage else [])
        if self.reports is not None:  # before the end is recorded: a finished run has its tests
            self._outcome.extra_notes.extend(self.reports.collect(self.store, self.run.id))
        self._write_note(code)
        self._note_losses()
        duration = round(time.monotonic() - self._started, 3)
        run = self._record_end(status, code, duration)
        self.end(run)

    def end(self, run: Run) -> None:
        """The run is over and recorded: free the runner, tell the readers and the listener."""
        self.result = run
        if self.release is not None:
            self.release()
        self.finished.set()
        self.channel.done(run)
        if self.on_end is not None:
            self.on_end(run)

    def _sweep(self) -> None:
        """End what escaped the process group (a double-forked daemon), found by its tag."""
        tag = self.env.get(TAG_ENV)
        if not tag:
            return
        killed = kill_tagged(tag, skip_group=self.proc.pid if self.proc else None)
        if killed:
            pids = ", ".join(map(str, killed[:10])) + (" …" if len(killed) > 10 else "")
            self._outcome.extra_notes.append(
                f"[attune] ended {len(killed)} process(es) the run left outside its group: {pids}"
            )

    def _write_note(self, code: int) -> None:
        """The run's last line says who ended it and how the process went (by signal name)."""
        note = self._outcome.note
        lines = list(self._outcome.extra_notes)
        if note is not None or code < 0:
            how = f"exit code {code}" if code >= 0 else f"killed by {signal_name(-code)}"
            lines.append(
                f"{note}; the process ended: {how}" if note else f"[attune] the process was {how}"
            )
        if not lines:
            return
        try:
            self._flush(lines)
        except Exception:
            logger.exception("run %s: could not store its last line", self.run.id)

    def _record_end(self, status: RunStatus, code: int, duration: float) -> Run:
        try:
            run = self.store.finish_run(self.run.id, status, code, duration, self._outcome.error)
        except Exception as exc:
            logger.exception("run %s: could not record its end", self.run.id)
            if isinstance(exc, StoreUnavailable) and is_away(exc):
                threading.Thread(target=self._write_end_later, daemon=True).start()
            error = self._outcome.error or f"the run's end could not be stored: {exc}"
            return replace(
                self.run,
                status=status,
                exit_code=code,
                duration_s=duration,
                line_count=self._next_seq - 1,
                error=error,
            )
        if self._unstored:  # the end got in, its last lines not yet
            threading.Thread(target=self._write_end_later, daemon=True).start()
        return run

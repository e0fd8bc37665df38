"""Live across machines: ``LISTEN``/``NOTIFY`` tells a dashboard that a run has new rows.

Every write of the team store that adds log lines or ends a run sends
``pg_notify('attune_run_lines', '<run_id>:<line_count>')`` in its own transaction, so the
notification is delivered on commit, once the rows are visible. It carries nothing else:
readers fetch the rows themselves, exactly as they replay a stored run.

A :class:`RunListener` (one per store, started on a reader's first wait) holds
one dedicated connection that only ever waits in ``LISTEN`` (while it waits, other statements on
it would hang), on a daemon thread, and wakes the watches of the run a notification names. The
connection going away (the database restarting, a network cut) is no loss: while it is down
every watch falls back to a short poll, and when it is back every watch is woken to read once
more, so what was committed meanwhile is fetched; even connected, a watch reads again at least
every :data:`SAFETY_POLL_S` seconds. Any other failure of the thread (a bug) is logged once and
treated the same way: it reconnects with a backoff, it never stops listening for good.
``close()`` stops the thread within about :data:`WAIT_SLICE_S` (a connect in progress may take
up to its timeout, on a daemon thread that never keeps the process alive) and its connection
is closed on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import psycopg

from attune.ops.store.database import LineWatch

__all__ = ["CHANNEL", "RunListener", "notify_runs", "parse_payload"]

logger = logging.getLogger(__name__)

CHANNEL = "attune_run_lines"
LISTENER_NAME = "attune-ops listener"  # its connection's application_name (pg_stat_activity)
SAFETY_POLL_S = 5.0  # a watch reads again this often even when nothing was notified
WAIT_SLICE_S = 0.5  # how often the listener thread looks up from LISTEN (to stop, to check)
RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 5.0
_NOTIFY_SQL = (
    "SELECT pg_notify(%s, id::text || ':' || line_count::text) FROM runs WHERE id = ANY(%s)"
)


def notify_runs(conn: psycopg.Connection[Any], run_ids: Iterable[int]) -> None:
    """Queue one notification per run, ``<run_id>:<line_count>`` as this transaction sees it
    (delivered when it commits, dropped if it rolls back)."""
    ids = sorted(set(run_ids))
    if ids:
        conn.execute(_NOTIFY_SQL, (CHANNEL, ids))


def parse_payload(payload: str) -> tuple[int, int] | None:
    """``(run_id, last_seq)`` of a notification, ``None`` for anything else."""
    run, sep, seq = payload.partition(":")
    if not sep or not run.isdigit() or not seq.isdigit():
        return None
    return int(run), int(seq)


class _PgLineWatch(LineWatch):
    """A watch woken by the listener thread (through the reader's event loop)."""

    def __init__(self, listener: RunListener, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self._listener = listener
        self._loop = asyncio.get_running_loop()
        #: wakes sent (by the listener thread) and arrived (on the reader's loop): equal once
        #: none is on its way, which tests wait for instead of sleeping
        self.wakes_sent = 0
        self.wakes = 0

    def wake(self) -> None:
        """Called from the listener thread."""
        self.wakes_sent += 1
        with contextlib.suppress(RuntimeError):  # the reader's loop has closed
            self._loop.call_soon_threadsafe(self._woken)

    def _woken(self) -> None:
        self.wakes += 1
        self._event.set()

    async def wait(self, timeout_s: float) -> bool:
        self._listener.start()
        bound = SAFETY_POLL_S if self._listener.listening else self.poll_s
        return await self._wait_at_most(min(timeout_s, bound))

    def close(self) -> None:
        self._listener.forget(self)


class RunListener:
    """The store's one ``LISTEN`` connection and the watches it wakes (thread-safe)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._watches: dict[int, set[_PgLineWatch]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: whether notifications are arriving now (else watches poll)
        self.listening = False
        #: notifications received, and times the connection was (re)made: for tests and doctor
        self.received = 0
        self.connects = 0
        self._failed = False  # an unexpected error was logged (with its traceback) once

    def watch(self, run_id: int) -> LineWatch:
        """A watch of ``run_id`` for a reader on the running event loop."""
        found = _PgLineWatch(self, run_id)
        with self._lock:
            self._watches.setdefault(run_id, set()).add(found)
        return found

    def start(self) -> None:
        """Start listening, once: on the first wait (a finished run's replay never waits)."""
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="attune-team-listener", daemon=True
                )
                self._thread.start()

    def forget(self, watch: _PgLineWatch) -> None:
        with self._lock:
            left = self._watches.get(watch.run_id)
            if left is not None:
                left.discard(watch)
                if not left:
                    del self._watches[watch.run_id]

    def close(self) -> None:
        """Stop the listener thread (it looks up every :data:`WAIT_SLICE_S`) and, with it, its
        connection; a connect in progress may outlast the bounded join (a daemon thread)."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join(WAIT_SLICE_S * 4)

    def _wake(self, run_id: int | None) -> None:
        with self._lock:
            if run_id is None:
                found = [w for ws in self._watches.values() for w in ws]
            else:
                found = list(self._watches.get(run_id, ()))
        for watch in found:
            watch.wake()

    def _run(self) -> None:
        delay = RECONNECT_MIN_S
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self._listen()
            except psycopg.Error as exc:  # the message may name the server: the type is enough
                logger.info("team store listener: %s; reconnecting", type(exc).__name__)
            except Exception:  # a bug must not end live updates for good: say so once, go on
                if not self._failed:
                    self._failed = True
                    logger.exception("team store listener failed; reconnecting")
            finally:
                if self.listening:
                    self.listening = False
                    self._wake(None)  # readers fall back to polling now
            if time.monotonic() - began > RECONNECT_MAX_S:  # it had worked for a while
                delay = RECONNECT_MIN_S
            self._stop.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _listen(self) -> None:
        with psycopg.connect(
            self._url,
            autocommit=True,
            connect_timeout=5,
            application_name=LISTENER_NAME,
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        ) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.connects += 1
            self._wake(None)  # what was committed while nobody listened is read now
            self.listening = True  # after the wake: whoever sees it may count that wake sent
            while not self._stop.is_set():
                for note in conn.notifies(timeout=WAIT_SLICE_S):
                    self.received += 1
                    parsed = parse_payload(note.payload)
                    if parsed is not None:
                        self._wake(parsed[0])

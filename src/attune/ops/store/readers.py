"""The store's reader connections: pooled, so no thread leaves one behind.

Every run's pump thread and every worker thread reads; a connection kept per thread would leak
one file (and one page cache) for each thread that has come and gone — a dashboard left running
for a few hundred runs ran out of descriptors. So a read takes an idle connection (or opens
one), and gives it back after; a read nested in another of the same thread shares its snapshot.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from attune.ops.store.locks import is_locked, locked_error

__all__ = ["MAX_IDLE_READERS", "ReaderPool"]

MAX_IDLE_READERS = 8  # more concurrent readers than this are opened, then closed after


class ReaderPool:
    """Reader connections of one database file."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], path: Path) -> None:
        self._connect = connect
        self._path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    @property
    def open_count(self) -> int:
        """How many reader connections are open (idle or in use)."""
        with self._lock:
            return len(self._all)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one read transaction (``BEGIN`` … ``COMMIT``)."""
        held: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        conn = self._take()
        self._local.conn = conn
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            except sqlite3.OperationalError as exc:
                if is_locked(exc):
                    raise locked_error(self._path, "a read") from exc
                raise
            finally:
                _end_read(conn)
        finally:
            self._local.conn = None
            self._give_back(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all, self._idle = self._all, [], []
        for conn in conns:
            conn.close()

    def _take(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        conn = self._connect()
        with self._lock:
            self._all.append(conn)
        return conn

    def _give_back(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed and not conn.in_transaction and len(self._idle) < MAX_IDLE_READERS:
                self._idle.append(conn)
                return
            if conn in self._all:
                self._all.remove(conn)
        conn.close()


def _end_read(conn: sqlite3.Connection) -> None:
    """End a read transaction; a failed COMMIT must not leave the snapshot open for ever."""
    if not conn.in_transaction:
        return
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise  # a damaged page reports itself here too: the caller turns it into a clear error

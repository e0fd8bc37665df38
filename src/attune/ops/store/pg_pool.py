"""The team store's connections: bounded, watched, and their errors told as ``StoreUnavailable``.

Every connection carries TCP keepalives and ``tcp_user_timeout`` (a network cut drops it
instead of leaving it half-open) and a server-side ``statement_timeout`` /
``idle_in_transaction_session_timeout``. A server that is alive on the network but silent (its
processes stopped, a disk that hangs) answers neither, and the kernel still acknowledges every
packet, so the :class:`Watchdog` bounds each round trip on the client: past its bound it shuts
the socket down and the waiting call fails at once as a lost connection.

A transaction's ``BEGIN`` goes out with its first statement (one round trip, pipelined), and a
first statement that finds its pooled connection dead (killed by an admin, a proxy, a NAT) is
sent again on another one: nothing of the transaction was seen or committed yet.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.numeric import NumericLoader

from attune.ops.errors import StoreUnavailable
from attune.ops.store.pg_health import connection_lost
from attune.ops.store.pg_sql import row_class, to_number, translate
from attune.ops.store.pg_url import describe_pg_error

__all__ = [
    "CLIENT_GRACE_S",
    "IDLE_IN_TRANSACTION_TIMEOUT_S",
    "LONG_STATEMENT_TIMEOUT_S",
    "STATEMENT_TIMEOUT_S",
    "PgConnection",
    "Watchdog",
    "configure",
    "connection_kwargs",
    "refusal_for",
]

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
# The dashboard's statements take milliseconds (a search over 2,000,000 lines about 1 s):
# past this the server cancels one. Retention and migrations allow themselves longer.
STATEMENT_TIMEOUT_S = 5.0
LONG_STATEMENT_TIMEOUT_S = 600.0
IDLE_IN_TRANSACTION_TIMEOUT_S = 30.0  # a store transaction never waits on a person
CLIENT_GRACE_S = 2.0  # the watchdog cuts a round trip this long after the server should have
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 10, 3, 3  # a dead peer found in ~19 s
TCP_USER_TIMEOUT_MS = 10_000  # data unacknowledged this long: the connection is dropped
WATCH_TICK_S = 0.25
MAX_RETRIES = 9  # a first statement tried on this many connections (the pool holds 8)
# Timeouts, lock waits and conflicts: the server is fine, the call may simply be tried again
# (a run keeps its lines in memory meanwhile, as while the store is away).
_TRANSIENT_STATES = ("57014", "55P03", "40001", "40P01")


def connection_kwargs() -> dict[str, Any]:
    """What every team store connection is opened with (pool and first connection alike)."""
    return {
        "autocommit": True,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_S,
        "keepalives_interval": KEEPALIVE_INTERVAL_S,
        "keepalives_count": KEEPALIVE_COUNT,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        "options": (
            f"-c statement_timeout={int(STATEMENT_TIMEOUT_S * 1000)} "
            f"-c idle_in_transaction_session_timeout={int(IDLE_IN_TRANSACTION_TIMEOUT_S * 1000)}"
        ),
    }


class _Numeric(NumericLoader):
    """``numeric`` results (``sum`` of integers, ``avg``) as int or float, like SQLite's."""

    def load(self, data: Any) -> Any:
        return to_number(super().load(data))


def _row_factory(cursor: Any) -> Callable[[Any], Any]:
    names = tuple(d.name for d in cursor.description or ())
    return row_class(names)


def configure(conn: psycopg.Connection[Any]) -> None:
    conn.row_factory = _row_factory
    conn.adapters.register_loader("numeric", _Numeric)


class Watchdog:
    """Shuts down the socket of a round trip past its bound; one thread per store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[float, psycopg.Connection[Any]]] = {}
        self._cut: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(self, raw: psycopg.Connection[Any], bound_s: float) -> Iterator[None]:
        key = id(raw)  # a connection serves one thread at a time
        with self._lock:
            self._watched[key] = (time.monotonic() + bound_s, raw)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._loop, name="attune-pg-watchdog", daemon=True
                )
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._watched.pop(key, None)

    def was_cut(self, raw: psycopg.Connection[Any]) -> bool:
        """Whether the watchdog cut ``raw`` (its server stayed silent past the bound)."""
        with self._lock:
            return id(raw) in self._cut

    def forget(self, raw: psycopg.Connection[Any]) -> None:
        """``raw`` goes back to the pool (or away): its id may be another's tomorrow."""
        with self._lock:
            self._cut.discard(id(raw))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        while not self._stop.wait(WATCH_TICK_S):
            now = time.monotonic()
            with self._lock:
                for key, (deadline, raw) in list(self._watched.items()):
                    if now >= deadline:
                        del self._watched[key]
                        self._cut.add(key)
                        _shut_down(raw)


def _shut_down(raw: psycopg.Connection[Any]) -> None:
    """End the socket under libpq's feet: its wait returns at once, the connection broken."""
    with (
        contextlib.suppress(OSError, psycopg.Error),
        socket.socket(fileno=os.dup(raw.pgconn.socket)) as sock,
    ):
        sock.shutdown(socket.SHUT_RDWR)
    logger.warning("the team database did not answer in time: its connection was cut")


class _Cursor:
    """A psycopg cursor seen through the store's :class:`attune.ops.store.sql.Cursor`."""

    def __init__(self, cur: psycopg.Cursor[Any], lastrowid: int | None = None) -> None:
        self._cur = cur
        self.lastrowid = lastrowid

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cur)


Replace = Callable[[psycopg.Connection[Any], BaseException], psycopg.Connection[Any]]


class PgConnection:
    """One pooled connection speaking the store's SQL (translated once per statement), inside
    one transaction opened by its first statement."""

    def __init__(
        self, raw: psycopg.Connection[Any], watchdog: Watchdog, begin: str, replace: Replace
    ) -> None:
        self.raw = raw
        self._watchdog = watchdog
        self._begin = begin
        self._begun = False
        self._replace = replace  # a dead connection for another one (or a refusal)
        self.bound_s = STATEMENT_TIMEOUT_S + CLIENT_GRACE_S

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        done = translate(sql)
        params = tuple(parameters)
        cur = self._first_or_next(lambda raw: raw.execute(done.sql, params))
        if done.returns_id:
            row = cur.fetchone()
            return _Cursor(cur, int(row[0]) if row else None)
        return _Cursor(cur)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Cursor:
        done = translate(sql).sql
        rows = [tuple(p) for p in seq_of_parameters]
        self._first_or_next(lambda raw: raw.execute("SELECT 1"))  # BEGIN, retried if need be

        def many(raw: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
            cur = raw.cursor()
            cur.executemany(done, rows)
            return cur

        return _Cursor(self._first_or_next(many))

    def allow_long(self, seconds: float = LONG_STATEMENT_TIMEOUT_S) -> None:
        """This transaction's statements may run ``seconds`` (retention, a big delete)."""
        self.execute(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
        self.bound_s = seconds + CLIENT_GRACE_S

    @contextmanager
    def watched(self) -> Iterator[psycopg.Connection[Any]]:
        """The raw connection for a round trip of its own, bounded by the watchdog."""
        with self._watchdog.watch(self.raw, self.bound_s):
            yield self.raw

    def end(self, *, commit: bool) -> None:
        """End the transaction (a failed COMMIT must not leave it open on a pooled connection)."""
        if not self.in_transaction:
            return
        try:
            with self.watched() as raw:
                raw.execute("COMMIT" if commit else "ROLLBACK")
        except psycopg.Error:
            if self.raw.broken:
                if commit:
                    raise
                return  # the server ended the transaction with the connection: all was read
            with contextlib.suppress(psycopg.Error), self.watched() as raw:
                raw.execute("ROLLBACK")
            raise

    def _first_or_next(
        self, send: Callable[[psycopg.Connection[Any]], psycopg.Cursor[Any]]
    ) -> psycopg.Cursor[Any]:
        if self._begun:
            with self.watched() as raw:
                return send(raw)
        for _ in range(MAX_RETRIES):
            try:
                with self.watched() as raw, raw.pipeline():
                    raw.execute(self._begin)
                    cur = send(raw)
                self._begun = True
                return cur
            except psycopg.Error as exc:
                # A statement the server refused is the caller's; a connection found dead
                # (broken, or a client-side error such as "cannot exit pipeline mode while
                # busy" when the server hung up mid-pipeline) is replaced: nothing sent landed.
                if not connection_lost(exc, self.raw) or self._watchdog.was_cut(self.raw):
                    self._begun = True
                    raise
                self.raw = self._replace(self.raw, exc)
        self._begun = True
        with self.watched() as raw, raw.pipeline():
            raw.execute(self._begin)
            return send(raw)


def refusal_for(exc: psycopg.Error, where: str, url: str, doing: str) -> StoreUnavailable:
    """What the database said, as a 503: one line, the password masked; a bug is logged."""
    state = exc.sqlstate or "?"
    if _is_bug(exc):
        logger.error("the team database refused a statement (SQLSTATE %s)", state, exc_info=exc)
        return StoreUnavailable(
            f"the team database {where} refused a statement while {doing} (SQLSTATE {state}, "
            f"{type(exc).__name__}): a bug in attune ops; the dashboard's log has the details",
            sqlstate=state,
        )
    primary = getattr(exc.diag, "message_primary", None) or str(exc)
    text = describe_pg_error(Exception(primary), url)
    extra: dict[str, Any] = {"sqlstate": state}
    if state in _TRANSIENT_STATES:
        extra["unreachable"] = True  # try again: a run keeps its lines in memory meanwhile
    return StoreUnavailable(
        f"the team database {where} refused {doing} ({text}); `attune ops doctor` says more",
        **extra,
    )


def _is_bug(exc: psycopg.Error) -> bool:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return False
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return False
    bugs = (psycopg.ProgrammingError, psycopg.DataError, psycopg.IntegrityError)
    return isinstance(exc, (*bugs, psycopg.InternalError))

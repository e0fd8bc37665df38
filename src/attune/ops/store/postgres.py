"""The team store: one PostgreSQL database shared by every teammate's dashboard.

The same store as SQLite's (the run, log, test, usage and settings methods are the same
mixins, on the same statements; store/pg_sql.py translates what differs) on a ``psycopg`` 3
connection pool. Reads run in a ``REPEATABLE READ READ ONLY`` transaction (a stable snapshot,
as SQLite's), writes in ``READ COMMITTED`` under a per-process lock like SQLite's one writer.
Migrations are the same numbered versions (store/pg_schema.py), applied under an advisory
lock so two dashboards starting at once do not race. The database going away turns every call
into ``StoreUnavailable`` (503, ``store_unavailable``) naming the database with its password
masked; the pool reconnects by itself once it is back.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg_pool
from psycopg.types.numeric import NumericLoader

from attune.ops.errors import StoreUnavailable
from attune.ops.store.database import LineWatch, Store
from attune.ops.store.locks import BUSY_TIMEOUT_S
from attune.ops.store.pg_health import ServerHealth, connection_lost
from attune.ops.store.pg_notify import RunListener, notify_runs
from attune.ops.store.pg_schema import PG_MIGRATIONS
from attune.ops.store.pg_search import plan_pg_search
from attune.ops.store.pg_sql import row_class, to_number, translate
from attune.ops.store.pg_url import describe_pg_error, masked_url
from attune.ops.store.run_record import Run
from attune.ops.store.settings import utc_now

__all__ = ["MIN_SERVER_VERSION", "PostgresStore"]

logger = logging.getLogger(__name__)

MIN_SERVER_VERSION = 130000  # PostgreSQL 13: pg_trgm is a trusted extension from there on
MAX_CONNECTIONS = 8
# The pool gives up a failed connection attempt quickly (its backoff would wait minutes):
# ServerHealth says when the server is back, and the pool then connects on demand.
RECONNECT_TIMEOUT_S = 2.0
_MIGRATION_LOCK = 0x41545455  # 'ATTU', as SQLite's application_id


class _Numeric(NumericLoader):
    """``numeric`` results (``sum`` of integers, ``avg``) as int or float, like SQLite's."""

    def load(self, data: Any) -> Any:
        return to_number(super().load(data))


def _row_factory(cursor: Any) -> Callable[[Any], Any]:
    names = tuple(d.name for d in cursor.description or ())
    return row_class(names)


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


class PgConnection:
    """One pooled connection speaking the store's SQL (translated once per statement)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        done = translate(sql)
        cur = self.raw.execute(done.sql, tuple(parameters))
        if done.returns_id:
            row = cur.fetchone()
            return _Cursor(cur, int(row[0]) if row else None)
        return _Cursor(cur)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Cursor:
        cur = self.raw.cursor()
        cur.executemany(translate(sql).sql, [tuple(p) for p in seq_of_parameters])
        return _Cursor(cur)


class PostgresStore(Store):
    """The PostgreSQL database of a team: a :class:`Store` on other connections.

    Everything the domain code calls is the same; what SQLite did with its file (checking
    pages, vacuuming, the FTS5 indexes, moving a broken file aside) PostgreSQL does itself.
    Thread-safe; cheap to share.
    """

    plan_search = staticmethod(plan_pg_search)
    backend = "postgresql"
    _pool: psycopg_pool.ConnectionPool[Any]

    def __init__(self, url: str, integrity_budget_s: float | None = None) -> None:
        """Connect to ``url`` and migrate; raises ``StoreUnavailable`` (password masked)."""
        del integrity_budget_s  # PostgreSQL checks its own pages
        self.url = url
        self.where = masked_url(url)
        self.moved_aside = None
        self.integrity = "ok"
        self.server_version = 0
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._unwritten_ends: dict[int, dict[str, Any]] = {}
        self._closed = False
        self._health = ServerHealth(url, self._unavailable)
        first = self._connect_once()  # the real reason (refused, auth, missing) when it fails
        try:
            self.server_version = first.info.server_version
            self._check_version()
            self._migrate_pg(first)
        except psycopg.Error as exc:
            raise self._unavailable(exc, "migrating it") from exc
        finally:
            first.close()
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=MAX_CONNECTIONS,
            kwargs={"autocommit": True, "connect_timeout": 5},
            configure=_configure,
            timeout=BUSY_TIMEOUT_S,
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            open=False,
            name="attune-team-store",
        )
        self._pool.open(wait=False)
        self._listener = RunListener(url)

    # -- connections ---------------------------------------------------------------------------

    def _connect_once(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise self._unavailable(exc, "connecting") from exc
        _configure(conn)
        return conn

    def _unavailable(self, exc: BaseException, doing: str) -> StoreUnavailable:
        return StoreUnavailable(
            f"the team database {self.where} is unavailable ({doing}: "
            f"{describe_pg_error(exc, self.url)}); the dashboard retries by itself, "
            "and `attune ops doctor` says how to fix it"
        )

    def _check_version(self) -> None:
        if self.server_version < MIN_SERVER_VERSION:
            major = self.server_version // 10000
            raise StoreUnavailable(
                f"the team database {self.where} runs PostgreSQL {major}; attune ops needs "
                f"PostgreSQL {MIN_SERVER_VERSION // 10000} or newer"
            )

    @contextmanager
    def _pooled(self, doing: str) -> Iterator[PgConnection]:
        """A checked connection; ``StoreUnavailable`` (``unreachable``) at once while away."""
        if self._closed:
            raise StoreUnavailable(f"the team store {self.where} is closed")
        self._health.gate(doing)
        raw = self._checked_out(doing)
        try:
            yield PgConnection(raw)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if not connection_lost(exc, raw):
                raise self._unavailable(exc, doing) from exc
            self._health.lost(exc)
            raise self._health.refusal(doing) from exc
        finally:
            self._pool.putconn(raw)  # a broken one is replaced by the pool

    def _checked_out(self, doing: str) -> psycopg.Connection[Any]:
        """A pooled connection that answers; a dead one makes the health probe at once, so a
        stopped server is a refusal in milliseconds, a restarted one just the next connection."""
        for _ in range(MAX_CONNECTIONS + 1):
            try:
                raw: psycopg.Connection[Any] = self._pool.getconn()
            except psycopg_pool.PoolTimeout as exc:
                self._health.lost(exc)
                raise self._health.refusal(doing) from exc
            try:
                psycopg_pool.ConnectionPool.check_connection(raw)
            except psycopg.Error as exc:
                self._pool.putconn(raw)
                self._health.lost(exc)
                self._health.gate(doing)
                continue
            return raw
        raise self._health.refusal(doing)

    @contextmanager
    def read(self) -> Iterator[PgConnection]:
        """A connection inside one read-only snapshot; a nested read shares it."""
        held: PgConnection | None = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        with self._pooled("a read") as conn:
            conn.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._local.conn = conn
            try:
                yield conn
            finally:
                self._local.conn = None
                _end(conn, commit=False)

    @contextmanager
    def write(self) -> Iterator[PgConnection]:
        """One write transaction (``BEGIN`` … ``COMMIT``) under this process's writer lock."""
        if not self._write_lock.acquire(timeout=BUSY_TIMEOUT_S):
            raise StoreUnavailable(f"the team store {self.where} is busy (a write)", locked=True)
        try:
            with self._pooled("a write") as conn:
                conn.raw.execute("BEGIN")
                try:
                    yield conn
                    notify_runs(conn.raw, getattr(self._local, "notify", None) or ())
                except BaseException:
                    _end(conn, commit=False)
                    raise
                _end(conn, commit=True)
        finally:
            self._write_lock.release()

    def close(self) -> None:
        """Close the pool; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._listener.close()
        self._pool.close(timeout=2)

    # -- live across machines (store/pg_notify.py) ---------------------------------------------

    def watch_lines(self, run_id: int) -> LineWatch:
        """A watch of ``run_id`` woken by ``NOTIFY`` from whichever dashboard writes the run."""
        return self._listener.watch(run_id)

    @contextmanager
    def _notifying(self, run_id: int | None = None) -> Iterator[list[int]]:
        """The runs whose readers this thread's next write notifies, in its transaction."""
        pending = [] if run_id is None else [run_id]
        self._local.notify = pending
        try:
            yield pending
        finally:
            self._local.notify = None

    def append_lines(self, run_id: int, first_seq: int, lines: Sequence[str]) -> None:
        with self._notifying(run_id):
            super().append_lines(run_id, first_seq, lines)

    def append_note(self, run_id: int, text: str) -> None:
        with self._notifying(run_id):
            super().append_note(run_id, text)

    def add_recommendation(self, run_id: int, index: int, payload: dict[str, Any]) -> None:
        with self._notifying(run_id):
            super().add_recommendation(run_id, index, payload)

    def _write_end(self, run_id: int, end: dict[str, Any]) -> None:
        with self._notifying(run_id):
            super()._write_end(run_id, end)

    def mark_interrupted(self, message: str, is_orphan: Callable[[Run], bool]) -> list[Run]:
        # The runs are picked inside the write's transaction: note each one as it is picked.
        with self._notifying() as pending:

            def picked(run: Run) -> bool:
                if is_orphan(run):
                    pending.append(run.id)
                    return True
                return False

            return super().mark_interrupted(message, picked)

    # -- what differs from SQLite -------------------------------------------------------------

    @staticmethod
    def _migrate_pg(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
            if exists is None or exists[0] is None:
                foreign = conn.execute("SELECT to_regclass('runs')").fetchone()
                if foreign is not None and foreign[0] is not None:
                    raise StoreUnavailable(
                        "the database already has a table `runs` that is not attune's: "
                        "give attune ops a database of its own"
                    )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            if done and max(done) > len(PG_MIGRATIONS):
                raise StoreUnavailable(
                    f"the team database was migrated by a newer attune ops (schema version "
                    f"{max(done)}; this one knows {len(PG_MIGRATIONS)}): upgrade attune-ops "
                    "on this machine"
                )
            for version, statements in enumerate(PG_MIGRATIONS, start=1):
                if version in done:
                    continue
                with conn.transaction():
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                        (version, utc_now()),
                    )
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    @property
    def schema_version(self) -> int:
        with self.read() as conn:
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def check_integrity(self, budget_s: float | None = None) -> str:
        """PostgreSQL checks its own pages; the store is ``"ok"`` while it answers."""
        del budget_s
        with self.read() as conn:
            conn.execute("SELECT 1").fetchone()
        return "ok"

    def free_ratio(self) -> float:
        """PostgreSQL's autovacuum reuses freed space itself: nothing to give back here."""
        return 0.0

    def vacuum(self) -> None:
        """Nothing to do: autovacuum runs on the server."""

    def index_run_batch(self, run_id: int, max_chunks: int = 1) -> bool:
        """The trigram index is kept by PostgreSQL on every insert: mark the run indexed."""
        del max_chunks
        with self.write() as conn:
            conn.execute(
                "UPDATE runs SET indexed = 1, trigram_indexed = 1 WHERE id = ? "
                "AND status != 'running'",
                (run_id,),
            )
        return True

    def unindexed_finished_runs(self) -> list[int]:
        return []

    def delete_runs_before(self, cutoff: datetime) -> int:
        """Delete finished runs started before ``cutoff`` (their rows go with them)."""
        stamp = cutoff.astimezone(UTC).isoformat(timespec="milliseconds")
        with self.write() as conn:
            rows = conn.execute(
                "DELETE FROM runs WHERE started_at < ? AND status != 'running' RETURNING id",
                (stamp,),
            ).fetchall()
        return len(rows)


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.row_factory = _row_factory
    conn.adapters.register_loader("numeric", _Numeric)


def _end(conn: PgConnection, *, commit: bool) -> None:
    """End the transaction (a failed COMMIT must not leave it open on a pooled connection)."""
    if not conn.in_transaction:
        return
    try:
        conn.raw.execute("COMMIT" if commit else "ROLLBACK")
    except psycopg.Error:
        with contextlib.suppress(psycopg.Error):
            conn.raw.execute("ROLLBACK")
        raise


def open_postgres(url: str) -> AbstractContextManager[PostgresStore]:  # pragma: no cover
    """A store for ``with`` (closed at the end)."""
    return contextlib.closing(PostgresStore(url))

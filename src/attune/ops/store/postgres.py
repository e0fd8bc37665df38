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
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg_pool

from attune.ops.errors import StoreUnavailable
from attune.ops.store.database import LineWatch, Store
from attune.ops.store.locks import BUSY_TIMEOUT_S
from attune.ops.store.pg_health import ServerHealth, connection_lost
from attune.ops.store.pg_notify import RunListener, notify_runs
from attune.ops.store.pg_pool import (
    LONG_STATEMENT_TIMEOUT_S,
    PgConnection,
    Watchdog,
    configure,
    connection_kwargs,
    refusal_for,
)
from attune.ops.store.pg_probe import MIN_SERVER_VERSION
from attune.ops.store.pg_schema import PG_MIGRATIONS
from attune.ops.store.pg_search import plan_pg_search
from attune.ops.store.pg_url import describe_pg_error, masked_url
from attune.ops.store.run_record import Run
from attune.ops.store.settings import utc_now

__all__ = ["MIN_SERVER_VERSION", "PgConnection", "PostgresStore"]

logger = logging.getLogger(__name__)

MAX_CONNECTIONS = 8
# The pool gives up a failed connection attempt quickly (its backoff would wait minutes):
# ServerHealth says when the server is back, and the pool then connects on demand.
RECONNECT_TIMEOUT_S = 2.0
_MIGRATION_LOCK = 0x41545455  # 'ATTU', as SQLite's application_id
_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


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
        self._watchdog = Watchdog()
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
            kwargs=connection_kwargs(),
            configure=configure,
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
            conn = psycopg.connect(self.url, **connection_kwargs())
        except psycopg.Error as exc:
            raise self._unavailable(exc, "connecting") from exc
        configure(conn)
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
    def _pooled(self, doing: str, begin: str) -> Iterator[PgConnection]:
        """A connection whose first statement opens the transaction with ``begin``; every
        database error leaves as ``StoreUnavailable`` (``unreachable`` while away: at once)."""
        if self._closed:
            raise StoreUnavailable(f"the team store {self.where} is closed")
        self._health.gate(doing)
        conn = PgConnection(
            self._get(doing), self._watchdog, begin, lambda dead, exc: self._fresh(dead, exc, doing)
        )
        try:
            yield conn
        except psycopg.Error as exc:
            raise self._refusal(exc, conn.raw, doing) from exc
        finally:
            self._watchdog.forget(conn.raw)
            self._pool.putconn(conn.raw)  # a broken one is replaced by the pool

    def _get(self, doing: str) -> psycopg.Connection[Any]:
        try:
            raw: psycopg.Connection[Any] = self._pool.getconn()
        except psycopg_pool.PoolTimeout as exc:  # every connection busy or none to be had
            self._health.lost(exc)
            raise self._health.refusal(doing) from exc
        return raw

    def _fresh(
        self, dead: psycopg.Connection[Any], exc: BaseException, doing: str
    ) -> psycopg.Connection[Any]:
        """Another connection for one found dead; a refusal when a new one cannot be had."""
        if not self._health.confirm(exc):
            raise self._health.refusal(doing) from exc
        fresh = self._get(doing)  # before the dead one goes: the caller returns whichever it holds
        self._watchdog.forget(dead)
        self._pool.putconn(dead)
        return fresh

    def _refusal(self, exc: psycopg.Error, raw: psycopg.Connection[Any], doing: str) -> Exception:
        if self._watchdog.was_cut(raw):  # the server stayed silent past the bound: away
            self._health.lost(exc)
            return self._health.refusal(doing)
        if connection_lost(exc, raw):
            if not self._health.confirm(exc):  # a new connection failed too: away
                return self._health.refusal(doing)
            cut = self._unavailable(exc, doing)  # this call only: the next one gets through
            cut.extra["unreachable"] = True
            return cut
        return refusal_for(exc, self.where, self.url, doing)

    @contextmanager
    def read(self) -> Iterator[PgConnection]:
        """A connection inside one read-only snapshot; a nested read shares it."""
        held: PgConnection | None = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        with self._pooled("a read", _READ) as conn:
            self._local.conn = conn
            try:
                yield conn
            finally:
                self._local.conn = None
                conn.end(commit=False)

    @contextmanager
    def write(self) -> Iterator[PgConnection]:
        """One write transaction (``BEGIN`` … ``COMMIT``) under this process's writer lock."""
        if not self._write_lock.acquire(timeout=BUSY_TIMEOUT_S):
            # Another write of this process has waited on the server that long: as away (the
            # run keeps its lines in memory), never "locked" (which a run waits out for ever).
            raise StoreUnavailable(
                f"the team store {self.where} is busy: a write has not ended in "
                f"{BUSY_TIMEOUT_S:g} s",
                unreachable=True,
            )
        try:
            with self._pooled("a write", "BEGIN") as conn:
                try:
                    yield conn
                    notifying = getattr(self._local, "notify", None) or ()
                    if notifying:
                        with conn.watched() as raw:
                            notify_runs(raw, notifying)
                except BaseException:
                    conn.end(commit=False)
                    raise
                conn.end(commit=True)
        finally:
            self._write_lock.release()

    def close(self) -> None:
        """Close the pool; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._listener.close()
        self._pool.close(timeout=2)
        self._watchdog.close()

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
        # A migration (or waiting for another dashboard's) may take long.
        conn.execute(f"SET statement_timeout = {int(LONG_STATEMENT_TIMEOUT_S * 1000)}")
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
                conn.execute(  # only then: a teammate's role may not create tables
                    "CREATE TABLE schema_migrations "
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
            conn.allow_long()  # a year of runs may go at once
            rows = conn.execute(
                "DELETE FROM runs WHERE started_at < ? AND status != 'running' RETURNING id",
                (stamp,),
            ).fetchall()
        return len(rows)

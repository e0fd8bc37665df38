"""The embedded SQLite store: ``<attune_home>/ops/ops.db``.

One writer connection behind a lock (every write is one transaction), one reader connection per
thread (WAL lets readers run beside the writer, including ``attune runs`` in another process).
Schema changes are numbered migrations recorded in ``schema_migrations``; a file that is not a
database, or someone else's database, is moved aside and a fresh one created, never a crash loop.
A database that opens but is partly damaged is kept (most of its runs still read): a bounded
check at open records :attr:`Store.integrity`, and reads that reach a damaged page raise
``StoreUnavailable`` (store/damage.py). The folder is 0700 and the files 0600 (store/files.py).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from attune.ops.errors import StoreUnavailable
from attune.ops.store.damage import INTEGRITY_BUDGET_S, INTEGRITY_UNCHECKED, check_integrity
from attune.ops.store.files import create_database_file, prepare_files
from attune.ops.store.locks import BUSY_TIMEOUT_S, is_locked, locked_error
from attune.ops.store.log_times import LogTimesMixin
from attune.ops.store.readers import ReaderPool
from attune.ops.store.run_git import RunGitMixin
from attune.ops.store.run_origin import ORIGIN_MIGRATION
from attune.ops.store.run_usage import RUN_USAGE_MIGRATION, RunUsageMixin
from attune.ops.store.runs import Run, RunLogMixin
from attune.ops.store.settings import SettingsMixin, utc_now
from attune.ops.store.sql import Connection
from attune.ops.store.tests import TESTS_MIGRATION, TestResultsMixin
from attune.ops.store.upkeep import RunUpkeepMixin
from attune.ops.store.usage_schema import USAGE_MIGRATION

__all__ = ["APPLICATION_ID", "MIGRATIONS", "LineWatch", "Run", "Store", "utc_now"]

logger = logging.getLogger(__name__)

# 'ATTU' — marks a database as ours, so a foreign SQLite file is recognised and set aside.
APPLICATION_ID = 0x41545455

# Numbered migrations: index 0 is version 1. Append only; never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    # 1: runs, their output in batched chunks, settings, spec dismissals.
    # A run's output is stored as chunks of consecutive lines (seq first_seq..last_seq joined
    # with newlines), one row per batch the runner flushes: a million-line run is a few
    # thousand rows, not a million.
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workflow TEXT NOT NULL,
        path TEXT,
        status TEXT NOT NULL,
        exit_code INTEGER,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_s REAL,
        line_count INTEGER NOT NULL DEFAULT 0,
        trigger TEXT NOT NULL DEFAULT 'web',
        pid INTEGER,
        error TEXT
    );
    CREATE INDEX runs_by_workflow ON runs (workflow, id);
    CREATE INDEX runs_by_status ON runs (status, id);
    CREATE INDEX runs_by_started ON runs (started_at);
    CREATE TABLE run_chunks (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        text TEXT NOT NULL
    );
    CREATE UNIQUE INDEX run_chunks_by_run ON run_chunks (run_id, last_seq);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE spec_dismissals (
        path TEXT PRIMARY KEY,
        snapshot_hash TEXT NOT NULL,
        dismissed_at TEXT NOT NULL
    );
    """,
    # 2: run recommendations, and a full-text index of finished runs' output (external content:
    # the text lives once, in run_chunks; a run is indexed when it finishes).
    """
    CREATE TABLE run_recommendations (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (run_id, idx)
    );
    ALTER TABLE runs ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN server_pid INTEGER;
    CREATE INDEX runs_unindexed ON runs (indexed) WHERE indexed = 0;
    CREATE VIRTUAL TABLE run_chunks_fts USING fts5 (
        text, content = 'run_chunks', content_rowid = 'id'
    );
    """,
    # 3: a finished run is indexed in small batches off the hot path; indexed_upto is the last
    # chunk id already in the index, so an interrupted indexing resumes without duplicates.
    """
    ALTER TABLE runs ADD COLUMN indexed_upto INTEGER NOT NULL DEFAULT 0;
    UPDATE runs SET indexed_upto = (
        SELECT coalesce(max(id), 0) FROM run_chunks WHERE run_id = runs.id
    ) WHERE indexed = 1;
    """,
    # 4: a trigram index of the same chunks, so q= finds prefixes and substrings (``itsdanger``
    # finds ``itsdangerous``; see store/search.py). detail = none stores no positions: about a
    # tenth of the size of a full trigram index, candidates are confirmed with LIKE. Only the
    # empty index is made here; existing output is added by the background indexer
    # (trigram_indexed = 0), since on a big database that takes minutes and would hold the
    # write lock for all of them.
    """
    CREATE VIRTUAL TABLE run_chunks_trigram USING fts5 (
        text, content = 'run_chunks', content_rowid = 'id', tokenize = 'trigram', detail = none
    );
    ALTER TABLE runs ADD COLUMN trigram_upto INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN trigram_indexed INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX runs_untrigrammed ON runs (trigram_indexed) WHERE trigram_indexed = 0;
    """,
    # 5: Claude Code usage: transcripts' offsets, one row per API response, roll-ups.
    USAGE_MIGRATION,
    # 6: what each run's ATTUNE_USAGE lines reported, summed per run (store/run_usage.py).
    RUN_USAGE_MIGRATION,
    # 7: test cases of runs' JUnit reports, runs' git commit, log batches' arrival (store/tests.py).
    TESTS_MIGRATION,
    # 8: who started each run and where; whose Claude Code usage each file is (store/run_origin.py).
    ORIGIN_MIGRATION,
)


class LineWatch:
    """What a reader of a run that another process writes waits on between two reads.

    ``arm()`` before each read, then ``await wait(timeout_s)``: it ends early (``True``) once
    something is committed after ``arm()``, else after ``timeout_s`` or one short poll
    (``False``). This one only polls (SQLite cannot notify); the team store's is woken by
    ``LISTEN`` (store/pg_notify.py). :meth:`interrupt`: the server stops, no more waiting.
    """

    poll_s = 0.5

    def __init__(self) -> None:
        import asyncio  # here: a command that never follows a run does not import the loop

        self._event = asyncio.Event()
        self.interrupted = False

    def arm(self) -> None:
        """From now on, a commit to the run ends :meth:`wait` early (when this store can tell)."""
        if not self.interrupted:
            self._event.clear()

    async def wait(self, timeout_s: float) -> bool:
        return await self._wait_at_most(min(timeout_s, self.poll_s))

    def interrupt(self) -> None:
        """End the current wait and every later one now (on the reader's event loop)."""
        self.interrupted = True
        self._event.set()

    async def _wait_at_most(self, bound_s: float) -> bool:
        import asyncio

        with suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(0.0, bound_s))
        return self._event.is_set()

    def close(self) -> None:
        """Stop watching."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Store(
    SettingsMixin,
    RunUsageMixin,
    RunLogMixin,
    RunUpkeepMixin,
    TestResultsMixin,
    RunGitMixin,
    LogTimesMixin,
):
    """The SQLite database of one attune home. Thread-safe; cheap to share.

    ``backend`` says which store this is (``"sqlite"``; ``"postgresql"`` for
    store/postgres.py's team store, a subclass on other connections).

    The run methods (``create_run``, ``get_run``, ``list_runs``, ``read_lines`` …) come from
    :class:`attune.ops.store.runs.RunLogMixin`; indexing, recovery and retention from
    :class:`attune.ops.store.upkeep.RunUpkeepMixin`.
    """

    backend = "sqlite"

    def __init__(self, path: Path, integrity_budget_s: float | None = INTEGRITY_BUDGET_S) -> None:
        """Open (or create) the store at ``path``; raises ``StoreUnavailable`` if it cannot be.

        ``integrity_budget_s`` bounds the start-up ``quick_check`` (0 skips it); the result is
        :attr:`integrity`.
        """
        self.path = path
        self.moved_aside: Path | None = None
        #: ``"ok"``, ``"unchecked"`` (too big to check within the budget at open), or the first
        #: problem ``PRAGMA quick_check`` found; for the health page and ``attune ops doctor``.
        self.integrity: str = INTEGRITY_UNCHECKED
        prepare_files(path)
        self._write_lock = threading.RLock()
        self._readers = ReaderPool(self._connect, path)
        self._closed = False
        self._unwritten_ends = {}
        self._writer = self._open_checked()
        self.integrity = self.check_integrity(integrity_budget_s)

    # -- connections ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _open_checked(self) -> sqlite3.Connection:
        try:
            try:
                return self._open_and_migrate()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and not _looks_corrupt(exc):
                    raise
                self.moved_aside = self._move_aside(str(exc))
                create_database_file(self.path)
                return self._open_and_migrate()
        except sqlite3.Error as exc:
            if is_locked(exc):
                raise locked_error(self.path, "opening it") from exc
            raise StoreUnavailable(
                f"the run store {self.path} cannot be opened ({exc}): check that the file and "
                f"its folder are yours and writable, or move {self.path} aside and start again"
            ) from exc
        except OSError as exc:
            raise StoreUnavailable(
                f"the run store {self.path} cannot be opened ({exc}): check that the file and "
                f"its folder are yours and writable, or move {self.path} aside and start again"
            ) from exc

    def check_integrity(self, budget_s: float | None = None) -> str:
        """Check the file now (``PRAGMA quick_check``), on its own connection.

        Returns ``"ok"``, the first problem found, or ``"unchecked"`` when ``budget_s`` ran out
        first; ``None`` checks the whole file however long it takes (``attune ops doctor``).
        """
        conn = self._connect()
        try:
            return check_integrity(conn, budget_s)
        finally:
            conn.close()

    def _open_and_migrate(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if app_id != APPLICATION_ID and tables:
                raise sqlite3.DatabaseError("not an attune ops database (foreign schema)")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _move_aside(self, reason: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.broken-{stamp}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.broken-{stamp}-{n}")
            n += 1
        self.path.rename(target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
        logger.warning(
            "database %s could not be used (%s); moved it to %s and started a new one",
            self.path,
            reason,
            target,
        )
        return target

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, script in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, utc_now()),
                )
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        with self.read() as conn:
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) under the writer lock.

        Waits at most :data:`BUSY_TIMEOUT_S` for the lock (held by another thread or process);
        then raises ``StoreUnavailable`` saying who holds the file.
        """
        if not self._write_lock.acquire(timeout=BUSY_TIMEOUT_S):
            raise locked_error(self.path, "a write")
        try:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if is_locked(exc):
                    raise locked_error(self.path, "a write") from exc
                raise
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # SQLite already rolled back after e.g. SQLITE_FULL
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if is_locked(exc):
                    raise locked_error(self.path, "a write") from exc
                raise
        finally:
            self._write_lock.release()

    def read(self) -> AbstractContextManager[Connection]:
        """A reader connection inside one read transaction (a stable snapshot)."""
        return self._readers.read()

    def watch_lines(self, run_id: int) -> LineWatch:
        """A :class:`LineWatch` of ``run_id`` for a reader on the running event loop."""
        del run_id
        return LineWatch()

    def close(self) -> None:
        """Close every connection; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._readers.close()
        with self._write_lock:
            self._writer.close()

    def free_ratio(self) -> float:
        """The share of the database file's pages that are free (after deletions)."""
        with self.read() as conn:
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            total = conn.execute("PRAGMA page_count").fetchone()[0]
        return float(free) / total if total else 0.0

    def vacuum(self) -> None:
        """Rebuild the file to give freed pages back to the disk (takes the writer lock)."""
        with self._write_lock:
            self._writer.execute("VACUUM")


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (``executescript`` would commit on its own)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def _looks_corrupt(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "file is encrypted" in text

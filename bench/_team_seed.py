"""Seed the same run history into SQLite and PostgreSQL for ``bench/team.py``.

The runs and their output are ``bench/history.py``'s (its workflows, statuses, line texts and
the big runs spread over time), plus a host and a user on every run — a few of each, so the
history's host and user filters have something to pick. Every run is finished and already in
the search indexes, as the background indexer leaves them.

SQLite is filled through the store's own connection (``Store.write()``) and its FTS5 indexes
built as ``bench/history.py`` builds them; PostgreSQL gets its schema from ``PostgresStore``
(the same migrations a dashboard applies) and its rows with ``COPY`` on a connection of
``PostgresStore.write()``, then ``VACUUM ANALYZE`` (what autovacuum does on a live database a
little later), so neither side is measured on statistics it would not have.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from history import STATUSES, WORKFLOWS, _line

HOSTS = ("ci-runner", "ana-laptop", "ben-desktop", "build-box")
USERS = ("ana", "ben", "chen")
RUN_COLUMNS = (
    "id", "workflow", "path", "status", "exit_code", "command", "started_at", "finished_at",
    "duration_s", "line_count", "trigger", "indexed", "trigram_indexed", "indexed_upto",
    "trigram_upto", "host", "username",
)  # fmt: skip
CHUNK_COLUMNS = ("id", "run_id", "first_seq", "last_seq", "text")
BATCH = 5000


def plan(small: int, large: int) -> list[tuple[int, int]]:
    """``(lines, n)`` of every run, oldest first: the big runs spread over the history."""
    batch = [(10, i) for i in range(small)] + [(1000, small + i) for i in range(large)]
    count = len(batch)
    batch.sort(key=lambda item: (item[1] * 7919) % count)
    return batch


def rows(small: int, large: int) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """``(run row, chunk row)`` per run, ids from 1 in time order (a run has one chunk)."""
    batch = plan(small, large)
    start = datetime.now(UTC) - timedelta(days=25)
    step = timedelta(days=24) / max(1, len(batch))
    for position, (lines, n) in enumerate(batch):
        run_id = position + 1
        workflow = WORKFLOWS[n % len(WORKFLOWS)]
        status = STATUSES[(n // 7) % len(STATUSES)]
        started = start + step * position
        run = (
            run_id, workflow, f"src/pkg{n % 40}", status, 0 if status == "succeeded" else 1,
            json.dumps([workflow]), started.isoformat(timespec="milliseconds"),
            (started + timedelta(seconds=3)).isoformat(timespec="milliseconds"), 3.0, lines,
            "web", 1, 1, run_id, run_id, HOSTS[n % len(HOSTS)], USERS[n % len(USERS)],
        )  # fmt: skip
        text = "\n".join(_line(n, i) for i in range(lines))
        yield run, (run_id, run_id, 1, lines, text)


def _say(what: str, small: int, large: int, seeded: float, indexed: float) -> None:
    print(
        f"  {what}: seeded {small + large:,} runs ({small * 10 + large * 1000:,} lines) in "
        f"{seeded:.1f} s, indexed in {indexed:.1f} s"
    )


def seed_sqlite(db: Path, small: int, large: int) -> None:
    """The history in the SQLite store at ``db``, both FTS5 indexes built."""
    from attune.ops.store.database import Store

    store = Store(db)
    t0 = time.monotonic()
    runs_sql = f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * 17)})"
    chunks_sql = "INSERT INTO run_chunks (id, run_id, first_seq, last_seq, text) VALUES (?,?,?,?,?)"
    pending: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []
    for pair in rows(small, large):
        pending.append(pair)
        if len(pending) == BATCH:
            _sqlite_batch(store, runs_sql, chunks_sql, pending)
    _sqlite_batch(store, runs_sql, chunks_sql, pending)
    seeded = time.monotonic() - t0
    t0 = time.monotonic()
    with store.write() as conn:
        for table in ("run_chunks_fts", "run_chunks_trigram"):
            conn.execute(f"INSERT INTO {table} (rowid, text) SELECT id, text FROM run_chunks")
    store.close()
    _say("SQLite", small, large, seeded, time.monotonic() - t0)
    print(f"    database {db.stat().st_size / 1e6:.0f} MB")


def _sqlite_batch(store: Any, runs_sql: str, chunks_sql: str, pending: list[Any]) -> None:
    if not pending:
        return
    with store.write() as conn:
        conn.executemany(runs_sql, [run for run, _ in pending])
        conn.executemany(chunks_sql, [chunk for _, chunk in pending])
    pending.clear()


def seed_postgres(url: str, small: int, large: int) -> None:
    """The history in the (empty) PostgreSQL database at ``url``, through ``COPY``.

    The trigram GIN index is dropped for the load and made again with the same definition
    afterwards (one sorted build instead of 100,000 insertions into it).
    """
    import psycopg

    from attune.ops.store.postgres import PostgresStore

    store = PostgresStore(url)
    t0 = time.monotonic()
    with store.write() as conn:
        raw = conn.raw
        index_def = raw.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'run_chunks_trgm'"
        ).fetchone()[0]
        raw.execute("DROP INDEX run_chunks_trgm")
        with raw.cursor() as cur:
            with cur.copy(f"COPY runs ({', '.join(RUN_COLUMNS)}) FROM STDIN") as runs_copy:
                chunks: list[tuple[Any, ...]] = []
                for run, chunk in rows(small, large):
                    runs_copy.write_row(run)
                    chunks.append(chunk)
            with cur.copy(f"COPY run_chunks ({', '.join(CHUNK_COLUMNS)}) FROM STDIN") as copy:
                for chunk in chunks:
                    copy.write_row(chunk)
        for table in ("runs", "run_chunks"):
            raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    seeded = time.monotonic() - t0
    t0 = time.monotonic()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SET maintenance_work_mem = '256MB'")
        admin.execute(index_def)
        admin.execute("VACUUM ANALYZE runs")
        admin.execute("VACUUM ANALYZE run_chunks")
        size = admin.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        version = admin.execute("SHOW server_version").fetchone()[0]
        settings = ", ".join(
            f"{name} {admin.execute(f'SHOW {name}').fetchone()[0]}"
            for name in ("fsync", "synchronous_commit", "full_page_writes")
        )
    store.close()
    _say("PostgreSQL", small, large, seeded, time.monotonic() - t0)
    print(f"    database {size / 1e6:.0f} MB; PostgreSQL {version.split()[0]}: {settings}")

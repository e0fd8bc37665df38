"""The upkeep half of the run store: full-text indexing, crash recovery and retention.

Mixed into :class:`~attune.ops.store.database.Store` next to ``RunLogMixin``;
these run at start and in background threads, never on a request.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from attune.ops.store.runs import RUN_COLUMNS, Run, now_iso
from attune.ops.store.sql import Connection

__all__ = ["INDEXES", "RunUpkeepMixin"]

# The full-text indexes of run_chunks: (table, runs column "complete", runs column "last chunk
# id in it"). Words for "quoted" searches, trigrams for substrings (store/search.py).
INDEXES = (
    ("run_chunks_fts", "indexed", "indexed_upto"),
    ("run_chunks_trigram", "trigram_indexed", "trigram_upto"),
)


class RunUpkeepMixin:
    """Indexing finished runs, marking orphaned runs interrupted, deleting old runs."""

    def read(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store
        raise NotImplementedError

    def write(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store
        raise NotImplementedError

    def index_run(self, run_id: int) -> None:
        """Add a finished run's output to both full-text indexes now (idempotent)."""
        while not self.index_run_batch(run_id):
            pass

    def index_run_batch(self, run_id: int, max_chunks: int = 1) -> bool:
        """Index the next ``max_chunks`` chunks of a run; ``True`` once it is fully indexed.

        Each index keeps its own cursor (the trigram index of a database made before it
        existed catches up later). Small batches keep each write transaction short, so a live
        run's commits never wait long behind indexing.
        """
        with self.write() as conn:
            row = conn.execute(
                "SELECT status, indexed, indexed_upto, trigram_indexed, trigram_upto "
                "FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
            if row is None or row[0] == "running":
                return True
            done = True
            for index, (table, flag, upto) in enumerate(INDEXES):
                if not row[1 + 2 * index]:
                    step = _index_chunks(conn, run_id, table, int(row[2 + 2 * index]), max_chunks)
                    conn.execute(
                        f"UPDATE runs SET {upto} = ?, {flag} = ? WHERE id = ?",  # noqa: S608
                        (step[0], int(step[1]), run_id),
                    )
                    done = done and step[1]
        return done

    def unindexed_finished_runs(self) -> list[int]:
        """Finished runs missing from an index: new ones oldest first, then the trigram
        backfill of an older database newest first (recent runs are searched most)."""
        with self.read() as conn:
            new = conn.execute(
                "SELECT id FROM runs WHERE indexed = 0 AND status != 'running' ORDER BY id"
            ).fetchall()
            backfill = conn.execute(
                "SELECT id FROM runs WHERE trigram_indexed = 0 AND status != 'running' "
                "ORDER BY id DESC"
            ).fetchall()
        return list(dict.fromkeys(int(r[0]) for r in [*new, *backfill]))

    def mark_interrupted(self, message: str, is_orphan: Callable[[Run], bool]) -> list[Run]:
        """Runs left ``running`` by a server that is gone become ``interrupted``.

        ``is_orphan`` tells whether a running run's server has gone (another dashboard on the
        same home may be serving its own run). A final log line (``message``) is appended to
        each; returns them as they were (with their ``pid``) to deal with leftover processes.
        """
        with self.write() as conn:
            rows = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running'"  # noqa: S608
            ).fetchall()
            left = [run for run in map(Run.from_row, rows) if is_orphan(run)]
            for run in left:
                conn.execute(
                    "INSERT INTO run_chunks (run_id, first_seq, last_seq, text) "
                    "VALUES (?, ?, ?, ?)",
                    (run.id, run.line_count + 1, run.line_count + 1, message),
                )
                conn.execute(
                    "UPDATE runs SET status = 'interrupted', finished_at = ?, "
                    "line_count = line_count + 1 WHERE id = ?",
                    (now_iso(), run.id),
                )
        return left

    def delete_runs_before(self, cutoff: datetime) -> int:
        """Delete finished runs started before ``cutoff`` with their output; returns how many."""
        stamp = cutoff.astimezone(UTC).isoformat(timespec="milliseconds")
        with self.write() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT id FROM runs WHERE started_at < ? AND status != 'running'", (stamp,)
                )
            ]
            for run_id in ids:
                for table, _, upto in INDEXES:
                    conn.execute(
                        f"INSERT INTO {table} ({table}, rowid, text) "  # noqa: S608
                        "SELECT 'delete', c.id, c.text FROM run_chunks c JOIN runs r "
                        f"ON r.id = c.run_id WHERE c.run_id = ? AND c.id <= r.{upto}",
                        (run_id,),
                    )
                conn.execute("DELETE FROM run_chunks WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM run_recommendations WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        return len(ids)

    def delete_runs_older_than(self, days: int) -> int:
        """Apply a retention of ``days`` (0 keeps everything); returns the runs deleted."""
        if days <= 0:
            return 0
        return self.delete_runs_before(datetime.now(UTC) - timedelta(days=days))


def _index_chunks(
    conn: Connection, run_id: int, table: str, upto: int, max_chunks: int
) -> tuple[int, bool]:
    """Add the next ``max_chunks`` chunks after ``upto`` to ``table``: (new upto, complete)."""
    ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT id FROM run_chunks WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?",
            (run_id, upto, max_chunks),
        )
    ]
    if ids:
        conn.execute(
            f"INSERT INTO {table} (rowid, text) SELECT id, text FROM run_chunks "  # noqa: S608
            "WHERE run_id = ? AND id > ? AND id <= ?",
            (run_id, upto, ids[-1]),
        )
    return (ids[-1] if ids else upto), len(ids) < max_chunks

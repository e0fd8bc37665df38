"""When each stored batch of a run's log arrived, for the SSE replay (``t`` of ``lines``).

Every ``run_chunks`` row holds the time it was written (epoch seconds): the writer stamps it
with its own clock, the clock of the run's ``started_at`` (on a team store the database
server's may differ), and a trigger (SQLite) or a column default (PostgreSQL) of the
test-results migration stamps any other insert. A batch is committed within a few
milliseconds of being read from the process, so that is the time its lines arrived.
Chunks stored before that migration have no time (``None``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from attune.ops.store.damage import reading
from attune.ops.store.sql import Connection

__all__ = ["LogTimesMixin"]


class LogTimesMixin:
    """Chunk references with their arrival time (mixed into the ``Store``)."""

    def read(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store
        raise NotImplementedError

    def timed_chunk_refs(
        self, run_id: int, after_seq: int, limit: int
    ) -> list[tuple[int, int, int, float | None]]:
        """``(chunk id, first_seq, last_seq, arrived_at)`` of the chunks after ``after_seq``."""
        with reading(f"the log of run {run_id}", run_id=run_id), self.read() as conn:
            rows = conn.execute(
                "SELECT id, first_seq, last_seq, arrived_at FROM run_chunks "
                "WHERE run_id = ? AND last_seq > ? ORDER BY last_seq LIMIT ?",
                (run_id, after_seq, limit),
            ).fetchall()
        return [(int(r[0]), int(r[1]), int(r[2]), r[3]) for r in rows]

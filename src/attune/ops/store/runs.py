"""Runs and their output in the store: the :class:`Run` value and the run half of ``Store``.

A run's output is kept as chunks of consecutive lines (``first_seq..last_seq`` joined by
``\\n``), one row per batch the runner flushes, each batch one transaction that also bumps the
run's ``line_count``: what a client was sent is already on disk. Finished runs are added to a
word index and a trigram index (FTS5) so ``q=`` finds the run that printed an error, or a part
of a name (store/search.py says how a query picks); runs still running are searched with
``LIKE`` until they are indexed. A read that reaches a damaged page raises ``StoreUnavailable``
naming the run (store/damage.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from attune.ops.errors import RunNotFound, StoreUnavailable
from attune.ops.store.damage import reading
from attune.ops.store.run_filter import RunFilter
from attune.ops.store.run_origin import this_machine, this_origin
from attune.ops.store.run_record import (
    FINISHED,
    MAX_LIMIT,
    MAX_SQLITE_INT,
    RUN_COLUMNS,
    Run,
    RunStatus,
    now_iso,
)
from attune.ops.store.search import plan_search
from attune.ops.store.sql import Connection

__all__ = [
    "FINISHED",
    "MAX_LIMIT",
    "MAX_SQLITE_INT",
    "RUN_COLUMNS",
    "Run",
    "RunFilter",
    "RunLogMixin",
    "RunStatus",
    "now_iso",
]


class RunLogMixin:
    """The run methods of :class:`attune.ops.store.database.Store` (mixed in; uses its connections).

    An ending that cannot be written (disk full, read-only) is kept in memory and shown by every
    read of this store, so no page says ``running`` for a run that is over; it is written by the
    next write that succeeds (or, after a restart, the run is found ``interrupted``).
    """

    _unwritten_ends: dict[int, dict[str, Any]]
    #: how ``q=`` becomes SQL on this backend (store/search.py; store/pg_search.py)
    plan_search = staticmethod(plan_search)

    def read(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store
        raise NotImplementedError

    def write(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store
        raise NotImplementedError

    def _with_usage(self, runs: list[Run]) -> list[Run]:  # pragma: no cover - store/run_usage.py
        raise NotImplementedError

    # -- writing -------------------------------------------------------------------------------

    def create_run(
        self, workflow: str, path: str | None, command: Sequence[str], trigger: str = "web"
    ) -> Run:
        """Insert a new ``running`` run and return it."""
        self.write_pending_ends()
        origin = this_origin()
        with self.write() as conn:
            cur = conn.execute(
                "INSERT INTO runs (workflow, path, status, command, started_at, trigger, "
                "server_pid, host, username, machine) "
                "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                (
                    workflow,
                    path,
                    json.dumps(list(command)),
                    now_iso(),
                    trigger,
                    os.getpid(),
                    origin.host,
                    origin.user,
                    this_machine(),
                ),
            )
            run_id = int(cur.lastrowid or 0)
        run = self.get_run(run_id)
        assert run is not None
        return run

    def set_run_pid(self, run_id: int, pid: int) -> None:
        with self.write() as conn:
            conn.execute("UPDATE runs SET pid = ? WHERE id = ?", (pid, run_id))

    def append_lines(self, run_id: int, first_seq: int, lines: Sequence[str]) -> None:
        """Store ``lines`` (seq ``first_seq``…) as one chunk, in one transaction."""
        if not lines:
            return
        last_seq = first_seq + len(lines) - 1
        with self.write() as conn:
            conn.execute(
                # Stamped with the writer's clock, like the run's start (on a team store the
                # database server's clock may differ from it).
                "INSERT INTO run_chunks (run_id, first_seq, last_seq, text, arrived_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (run_id, first_seq, last_seq, "\n".join(lines), time.time()),
            )
            conn.execute("UPDATE runs SET line_count = ? WHERE id = ?", (last_seq, run_id))

    def finish_run(
        self,
        run_id: int,
        status: str,
        exit_code: int | None,
        duration_s: float | None,
        error: str | None = None,
    ) -> Run:
        """Record how a run ended; returns the finished run.

        When the write fails, the ending is remembered (see the class) and the error raised.
        """
        end = {
            "status": status,
            "exit_code": exit_code,
            "finished_at": now_iso(),
            "duration_s": duration_s,
            "error": error,
        }
        try:
            self._write_end(run_id, end)
        except (sqlite3.Error, StoreUnavailable):  # full, read-only, or locked by another process
            self._unwritten_ends[run_id] = end
            raise
        run = self.get_run(run_id)
        assert run is not None
        return run

    def _write_end(self, run_id: int, end: dict[str, Any]) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, exit_code = ?, finished_at = ?, duration_s = ?, "
                "error = coalesce(?, error) WHERE id = ?",
                (
                    end["status"],
                    end["exit_code"],
                    end["finished_at"],
                    end["duration_s"],
                    end["error"],
                    run_id,
                ),
            )

    def write_pending_ends(self) -> None:
        """Write the endings that could not be written before; raises if the store still fails."""
        for run_id, end in list(self._unwritten_ends.items()):
            self._write_end(run_id, end)
            del self._unwritten_ends[run_id]

    def _with_pending_end(self, run: Run) -> Run:
        end = self._unwritten_ends.get(run.id)
        if end is None:
            return run
        return replace(run, **{k: v for k, v in end.items() if k != "error" or v is not None})

    def add_recommendation(self, run_id: int, index: int, payload: dict[str, Any]) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO run_recommendations (run_id, idx, payload) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (run_id, index, json.dumps(payload)),
            )

    def append_note(self, run_id: int, text: str) -> None:
        """Append one line to a (finished) run's log, e.g. what happened to its process."""
        with self.write() as conn:
            row = conn.execute("SELECT line_count FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return
            seq = int(row[0]) + 1
            conn.execute(
                "INSERT INTO run_chunks (run_id, first_seq, last_seq, text, arrived_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (run_id, seq, seq, text, time.time()),
            )
            conn.execute(
                "UPDATE runs SET line_count = ?, indexed = 0, trigram_indexed = 0 WHERE id = ?",
                (seq, run_id),
            )

    # -- reading -------------------------------------------------------------------------------

    def get_run(self, run_id: int) -> Run | None:
        if not 0 < run_id <= MAX_SQLITE_INT:
            return None
        with reading(f"run {run_id}", run_id=run_id), self.read() as conn:
            sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"  # noqa: S608
            row = conn.execute(sql, (run_id,)).fetchone()
        if row is None:
            return None
        return self._with_usage([self._with_pending_end(Run.from_row(row))])[0]

    def require_run(self, run_id: int) -> Run:
        """The run ``run_id``; raises :class:`RunNotFound` (404 ``run_not_found``) when absent."""
        run = self.get_run(run_id)
        if run is None:
            raise RunNotFound(f"no run with id {run_id}", run_id=run_id)
        return run

    def list_runs(
        self,
        workflow: str | None = None,
        statuses: Sequence[str] = (),
        q: str | None = None,
        limit: int = 50,
        before: int | None = None,
        since: str | None = None,
        host: str | None = None,
        user: str | None = None,
    ) -> tuple[list[Run], int | None]:
        """Runs newest first and the cursor of the next page (``None`` on the last page).

        The cursor is a run id: ids only grow, so pages stay stable while new runs arrive.
        """
        limit = max(1, min(int(limit), MAX_LIMIT))
        where, args = self.run_filter(RunFilter(workflow, statuses, q, since, host, user))
        if before is not None:
            where.append("id < ?")
            args.append(max(min(before, MAX_SQLITE_INT), 0))
        sql = f"SELECT {RUN_COLUMNS} FROM runs"  # noqa: S608 - placeholders carry the values
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit + 1)
        what = f"the logs searched for {q!r}" if q else "the run history"
        with reading(what), self.read() as conn:
            rows = conn.execute(sql, args).fetchall()
        runs = self._with_usage([self._with_pending_end(Run.from_row(r)) for r in rows[:limit]])
        return runs, (runs[-1].id if len(rows) > limit else None)

    def run_filter(self, found: RunFilter) -> tuple[list[str], list[Any]]:
        """The conditions on ``runs`` (and their arguments) of a history filter."""
        workflow, statuses, q, since = found.workflow, found.statuses, found.q, found.since
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("host", found.host), ("username", found.user)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if workflow:
            where.append("workflow = ?")
            args.append(workflow)
        if statuses:
            # With a workflow, walk its (workflow, id) index newest first and filter on status
            # ("+status" keeps the planner off the status index, which would need a sort).
            column = "+status" if workflow else "status"
            where.append(f"{column} IN ({', '.join('?' * len(statuses))})")
            args.extend(statuses)
        if since:
            where.append("started_at >= ?")
            args.append(since)
        if q:
            plan = self.plan_search(q)
            where.append(plan.sql)
            args.extend(plan.args)
        return where, args

    def run_origins(self) -> tuple[list[str], list[str]]:
        """The hosts and the users that have runs here (sorted), for the history's filters.

        A skip scan over the ``(host, id)`` / ``(username, id)`` indexes: one index probe per
        distinct value, however many runs there are (SQLite and PostgreSQL alike).
        """
        found: list[list[str]] = []
        with self.read() as conn:
            for column in ("host", "username"):
                rows = conn.execute(
                    f"WITH RECURSIVE v(x) AS (SELECT min({column}) FROM runs "  # noqa: S608
                    f"UNION ALL SELECT (SELECT min({column}) FROM runs WHERE {column} > v.x) "
                    "FROM v WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL"
                ).fetchall()
                found.append([str(r[0]) for r in rows])
        return found[0], found[1]

    def read_lines(
        self, run_id: int, after_seq: int = 0, limit: int | None = None
    ) -> list[tuple[int, str]]:
        """Lines ``(seq, text)`` of a run with ``seq > after_seq``, at most ``limit`` of them."""
        out: list[tuple[int, str]] = []
        for first, texts in self.iter_chunks(run_id, after_seq):
            for offset, text in enumerate(texts):
                out.append((first + offset, text))
                if limit is not None and len(out) >= limit:
                    return out
        return out

    def iter_chunks(
        self, run_id: int, after_seq: int = 0, max_chunks: int = 4
    ) -> Iterator[tuple[int, list[str]]]:
        """``(first_seq, lines)`` batches with ``seq > after_seq``, read a few chunks at a time.

        A chunk can hold thousands of lines, so only ``max_chunks`` rows are fetched per query:
        a reader that stops early never pulls megabytes it does not use.
        """
        cursor = after_seq
        while True:
            with reading(f"the log of run {run_id}", run_id=run_id), self.read() as conn:
                rows = conn.execute(
                    "SELECT first_seq, last_seq, text FROM run_chunks "
                    "WHERE run_id = ? AND last_seq > ? ORDER BY last_seq LIMIT ?",
                    (run_id, cursor, max_chunks),
                ).fetchall()
            if not rows:
                return
            for first, last, text in rows:
                lines = text.split("\n")
                if first <= cursor:
                    lines = lines[cursor - first + 1 :]
                    first = cursor + 1
                yield first, lines
                cursor = last
            if len(rows) < max_chunks:
                return

    def chunk_refs(self, run_id: int, after_seq: int, limit: int) -> list[tuple[int, int, int]]:
        """``(chunk id, first_seq, last_seq)`` of the chunks holding seqs after ``after_seq``."""
        with reading(f"the log of run {run_id}", run_id=run_id), self.read() as conn:
            rows = conn.execute(
                "SELECT id, first_seq, last_seq FROM run_chunks WHERE run_id = ? AND last_seq > ? "
                "ORDER BY last_seq LIMIT ?",
                (run_id, after_seq, limit),
            ).fetchall()
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    def chunk_text(self, chunk_id: int, run_id: int | None = None) -> str | None:
        """The text of one chunk; ``run_id`` (when known) names the run if it cannot be read."""
        what = f"the log of run {run_id}" if run_id is not None else f"log chunk {chunk_id}"
        with reading(what, run_id=run_id), self.read() as conn:
            row = conn.execute("SELECT text FROM run_chunks WHERE id = ?", (chunk_id,)).fetchone()
        return None if row is None else str(row[0])

    def recommendations(self, run_id: int) -> list[tuple[int, dict[str, Any]]]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT idx, payload FROM run_recommendations WHERE run_id = ? ORDER BY idx",
                (run_id,),
            ).fetchall()
        return [(int(r[0]), json.loads(r[1])) for r in rows]

    def workflow_stats(self, workflow: str, last: int = 10) -> dict[str, Any]:
        """The last ``last`` finished runs' durations and the success rate of a workflow."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT id, status, duration_s FROM runs WHERE workflow = ? AND status != "
                "'running' ORDER BY id DESC LIMIT ?",
                (workflow, last),
            ).fetchall()
        done = [r for r in rows if r[1] in ("succeeded", "failed")]
        ok = sum(1 for r in done if r[1] == "succeeded")
        return {
            "workflow": workflow,
            "recent": [{"id": r[0], "status": r[1], "duration_s": r[2]} for r in reversed(rows)],
            "success_rate": (ok / len(done)) if done else None,
        }

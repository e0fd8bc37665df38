"""Every workflow's recent record in one query: its last run and its success rate.

The workflows page lists hundreds of workflows (a Makefile of 500 targets), each with its last
status, last duration and success rate, most recently used first; one query per workflow
would cost hundreds of round trips per page, so the last :data:`RECENT` runs of every workflow
are read at once, walking the ``runs_by_workflow`` index.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from attune.ops.store.damage import reading
from attune.ops.store.sql import Connection

__all__ = ["RECENT", "WorkflowRecord", "history_stamp", "workflow_records"]

RECENT = 10  # the success rate is over this many finished runs, as on the history page

_SQL = """
SELECT workflow, id, status, started_at, duration_s FROM (
    SELECT workflow, id, status, started_at, duration_s,
           ROW_NUMBER() OVER (PARTITION BY workflow ORDER BY id DESC) AS newest
    FROM runs
) AS recent WHERE newest <= ? ORDER BY workflow, id DESC
"""


@dataclass(frozen=True)
class WorkflowRecord:
    """A workflow's last run and how its recent finished runs went."""

    workflow: str
    last_id: int
    last_status: str
    last_started_at: str
    last_duration_s: float | None
    success_rate: float | None  # succeeded out of succeeded + failed, over the last RECENT

    def to_json(self) -> dict[str, Any]:
        return {
            "last_run": {
                "id": self.last_id,
                "status": self.last_status,
                "started_at": self.last_started_at,
                "duration_s": self.last_duration_s,
            },
            "success_rate": self.success_rate,
        }


def workflow_records(
    read: Callable[[], AbstractContextManager[Connection]],
) -> dict[str, WorkflowRecord]:
    """Each workflow that has runs → its record (``read`` is ``Store.read``)."""
    with reading("the workflows' recent runs"), read() as conn:
        rows = conn.execute(_SQL, (RECENT,)).fetchall()
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    records = {}
    for name, runs in grouped.items():
        done = [r for r in runs if r[2] in ("succeeded", "failed")]
        ok = sum(1 for r in done if r[2] == "succeeded")
        last = runs[0]
        records[name] = WorkflowRecord(
            workflow=name,
            last_id=int(last[1]),
            last_status=str(last[2]),
            last_started_at=str(last[3]),
            last_duration_s=last[4],
            success_rate=(ok / len(done)) if done else None,
        )
    return records


def history_stamp(
    read: Callable[[], AbstractContextManager[Connection]],
) -> tuple[Any, ...]:
    """What changes whenever any workflow's record can: the newest run (its id, status and
    end; one run is live at a time, so only the newest changes) and how many runs there are
    (retention deletes old ones). Two index lookups, however long the history."""
    with reading("the workflows' recent runs"), read() as conn:
        newest = conn.execute(
            "SELECT id, status, finished_at FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        count = conn.execute("SELECT count(*) FROM runs").fetchone()
    return (tuple(newest) if newest else None, int(count[0]))

"""A run as stored: the :class:`Run` value, its statuses and the columns it is read from.

Kept apart from the store's run methods (store/runs.py) so both stay readable; ``Run`` and
``RunStatus`` are imported from ``attune.ops.store.runs`` by everyone else.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from attune.ops.store.run_git import GitState, git_json
from attune.ops.store.run_usage import RunUsage
from attune.ops.store.sql import Row

__all__ = [
    "FINISHED",
    "MAX_LIMIT",
    "MAX_SQLITE_INT",
    "RUN_COLUMNS",
    "Run",
    "RunStatus",
    "now_iso",
]

MAX_LIMIT = 200
MAX_SQLITE_INT = 2**63 - 1  # ids, seqs and cursors from users are clamped to what SQLite stores


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"


FINISHED = frozenset(s for s in RunStatus if s is not RunStatus.RUNNING)

RUN_COLUMNS = (
    "id, workflow, path, status, exit_code, command, started_at, finished_at, duration_s, "
    "line_count, trigger, pid, error, server_pid, git_commit, git_dirty, git_diff, host, username, "
    "machine"
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Run:
    """One run of a workflow, as stored."""

    id: int
    workflow: str
    path: str | None
    status: str
    exit_code: int | None
    command: tuple[str, ...]
    started_at: str
    finished_at: str | None
    duration_s: float | None
    line_count: int
    trigger: str
    pid: int | None = None
    error: str | None = None
    server_pid: int | None = None
    usage: RunUsage | None = None  # what its ATTUNE_USAGE lines reported (store/run_usage.py)
    git: GitState | None = None  # the project's commit when it started (store/run_git.py)
    host: str | None = None  # the machine that runs it (store/run_origin.py)
    user: str | None = None  # who started it there
    machine: str | None = None  # where its processes live (store/run_origin.py; not in JSON)

    @property
    def finished(self) -> bool:
        return self.status != RunStatus.RUNNING

    def to_json(self) -> dict[str, Any]:
        """The DESIGN §5 run object, plus ``error`` when the run failed to start or store, and
        ``signal`` (its name) when a signal ended it."""
        data: dict[str, Any] = {
            "id": self.id,
            "workflow": self.workflow,
            "path": self.path,
            "status": self.status,
            "exit_code": self.exit_code,
            "command": list(self.command),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
            "line_count": self.line_count,
            "trigger": self.trigger,
            "usage": self.usage.to_json() if self.usage else None,
            **git_json(self.git),
            "host": self.host,
            "user": self.user,
        }
        if self.error:
            data["error"] = self.error
        if self.signal is not None:
            data["signal"] = self.signal
        return data

    @property
    def signal(self) -> str | None:
        """``SIGTERM`` when the process was ended by a signal (``exit_code`` -15), else ``None``."""
        if self.exit_code is None or self.exit_code >= 0:
            return None
        try:
            return signal.Signals(-self.exit_code).name
        except ValueError:
            return f"signal {-self.exit_code}"

    @classmethod
    def from_row(cls, row: Row | Sequence[Any]) -> Run:
        return cls(
            id=int(row[0]),
            workflow=row[1],
            path=row[2],
            status=row[3],
            exit_code=row[4],
            command=tuple(json.loads(row[5])),
            started_at=row[6],
            finished_at=row[7],
            duration_s=row[8],
            line_count=int(row[9]),
            trigger=row[10],
            pid=row[11],
            error=row[12],
            server_pid=row[13],
            git=GitState.of(row[14], row[15], row[16]),
            host=row[17],
            user=row[18],
            machine=row[19],
        )

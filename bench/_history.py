"""Seed 10,000 finished runs into each product's own storage, in its own layout.

Ours: the SQLite store at ``<attune_home>/ops/ops.db``, opened through ``Store``
(which applies every migration) and filled with the store's own run functions. Reference:
one JSON record per run at ``<attune_home>/ops/runs/<workflow>/<id>.json``, shaped like its
``Run.to_record()`` plus ``persisted_at``, with file times spread over the last days (it sorts
by mtime, and its startup sweep deletes files older than 30 days).
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _gen_lines import LINE

LOG_LINES = 20  # lines of log per seeded run


def _times(i: int, count: int) -> tuple[datetime, datetime]:
    """Start and finish of the i-th oldest run: one run a minute up to now."""
    started = datetime.now(UTC) - timedelta(minutes=count - i)
    return started, started + timedelta(seconds=3 + i % 40)


def seed_ours(home: Path, project: Path, workflow: str, count: int) -> None:
    """``count`` finished runs with their logs, through our store's own run API.

    The same calls the runner makes: ``create_run``, ``append_lines``, ``finish_run`` and
    ``index_run`` (the word and trigram indexes a finished run gets), one transaction each.
    """
    from attune.ops.store.database import Store

    lines = [LINE.format(k).rstrip("\n") for k in range(1, LOG_LINES + 1)]
    command = ["python", "_gen_lines.py", "n20"]
    store = Store(home / "ops" / "ops.db")
    try:
        for i in range(count):
            started, finished = _times(i, count)
            run = store.create_run(workflow, "n20", command)
            store.append_lines(run.id, 1, lines)
            failed = i % 7 == 0
            duration = (finished - started).total_seconds()
            store.finish_run(run.id, "failed" if failed else "succeeded", int(failed), duration)
            store.index_run(run.id)
    finally:
        store.close()


def seed_reference(home: Path, project: Path, workflow: str, count: int) -> None:
    """``count`` JSON run records in the reference's persistence layout."""
    folder = home / "ops" / "runs" / workflow
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    lines = [LINE.format(k).rstrip("\n") for k in range(1, LOG_LINES + 1)]
    for i in range(count):
        started, finished = _times(i, count)
        run_id = f"{i:012x}"
        record = {
            "id": run_id,
            "workflow": workflow,
            "status": "completed" if i % 7 else "failed",
            "exit_code": 0 if i % 7 else 1,
            "started_at": started.isoformat(),
            "completed_at": finished.isoformat(),
            "duration_seconds": (finished - started).total_seconds(),
            "line_count": LOG_LINES + 1,
            "path": str(project / "n20"),
            "trigger": None,
            "command": ["python", "_gen_lines.py", "--path", str(project / "n20")],
            "sdk_stderr": None,
            "sdk_error_kind": None,
            "report": None,
            "lines": ["$ python _gen_lines.py", *lines],
            "persisted_at": finished.isoformat(),
        }
        path = folder / f"{run_id}.json"
        path.write_text(json.dumps(record, indent=2), encoding="utf-8")
        stamp = now - (count - i) * 60
        os.utime(path, (stamp, stamp))

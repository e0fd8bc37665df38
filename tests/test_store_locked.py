"""Another process holds a write transaction on ``ops.db``: the dashboard stays responsive, the
affected request answers ``store_unavailable`` (503) after a bounded wait naming the file and
the process, a live run's lines are kept, and start-up says in one line what is locked."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

# Holds a write transaction on the database until its stdin closes.
HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('lock', 'x', 'now')")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


@contextmanager
def locked(db: Path) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    try:
        yield holder
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


DRIP = (
    "import time\nfor i in range(1, 41):\n    print(f'line {i}', flush=True)\n    time.sleep(0.1)\n"
)


@pytest.fixture
def drip_project(project: Path) -> Path:
    (project / "attune.toml").write_text(
        f'[workflows.drip]\ncommand = [{json.dumps(sys.executable)}, "-c", {json.dumps(DRIP)}]\n'
    )
    spec = project / "docs" / "specs" / "x"
    spec.mkdir(parents=True)
    (spec / "tasks.md").write_text("# Tasks\n\n- [x] the only task\n")
    return project


def _start(srv: Any) -> httpx.Response:
    return httpx.post(
        f"{srv.url}/api/runs",
        json={"workflow": "drip"},
        headers={"X-Attune-Token": srv.token},
        timeout=60,
    )


def test_a_locked_store_leaves_the_dashboard_responsive(
    server_factory: Callable[..., Any], drip_project: Path
) -> None:
    srv = server_factory(drip_project)
    db = srv.home / "ops" / "ops.db"
    first = _start(srv)
    assert first.status_code == 201
    run_id = first.json()["id"]
    with locked(db) as holder:
        # The event loop is never what waits: /healthz and pages answer at once.
        assert httpx.get(f"{srv.url}/healthz", timeout=3).json()["status"] == "ok"
        assert httpx.get(f"{srv.url}/workflows", timeout=3).status_code == 200
        refused = httpx.post(
            f"{srv.url}/api/specs/candidates/dismiss",
            json={"path": "docs/specs/x", "snapshot_hash": "ab" * 8},
            headers={"X-Attune-Token": srv.token},
            timeout=60,
        )
        assert httpx.get(f"{srv.url}/healthz", timeout=3).status_code == 200
        time.sleep(2)  # the run keeps printing meanwhile
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert error["code"] == "store_unavailable"
    assert str(db) in error["message"] and f"pid {holder.pid}" in error["message"]
    deadline = time.monotonic() + 60
    while (run := httpx.get(f"{srv.url}/api/runs/{run_id}").json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert run["status"] == "succeeded"
    lines = httpx.get(f"{srv.url}/api/runs/{run_id}/log").text.splitlines()
    assert lines == [f"line {i}" for i in range(1, 41)]  # none lost while the store was locked


def test_starting_a_run_on_a_locked_store_is_a_clear_503(
    server_factory: Callable[..., Any], drip_project: Path
) -> None:
    srv = server_factory(drip_project)
    db = srv.home / "ops" / "ops.db"
    with locked(db) as holder:
        refused = _start(srv)
        assert httpx.get(f"{srv.url}/healthz", timeout=3).status_code == 200
    assert refused.status_code == 503
    error = refused.json()["error"]
    assert error["code"] == "store_unavailable"
    assert str(db) in error["message"] and f"pid {holder.pid}" in error["message"]
    # The busy lock was not leaked: once the file is free a run starts.
    assert _start(srv).status_code == 201


def test_start_up_on_a_locked_store_says_so_in_one_line(
    server_factory: Callable[..., Any], drip_project: Path, tmp_path: Path
) -> None:
    srv = server_factory(drip_project)
    db = srv.home / "ops" / "ops.db"
    # A run left "running" makes the next start write (recovery), which the lock blocks.
    assert _start(srv).status_code == 201
    srv.kill()
    with locked(db) as holder:
        started = subprocess.run(
            [sys.executable, "-m", "attune", "ops", "--no-browser", "--port", "0"],
            cwd=drip_project,
            env={**os.environ, "ATTUNE_HOME": str(srv.home)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert started.returncode == 6
    assert "Traceback" not in started.stderr
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    [line] = lines
    assert line.startswith(f"attune ops: the run store {db} is locked by another process")
    assert f"pid {holder.pid}" in line


HOLD = "import time\nprint('holding', flush=True)\ntime.sleep(120)"


def test_a_cancel_while_the_store_stays_locked_is_recorded_once_it_frees(
    server_factory: Callable[..., Any], project: Path
) -> None:
    (project / "attune.toml").write_text(
        f'[workflows.hold]\ncommand = [{json.dumps(sys.executable)}, "-c", {json.dumps(HOLD)}]\n'
        "timeout_s = 600\n"
    )
    srv = server_factory(project)
    db = srv.home / "ops" / "ops.db"
    run_id = _start_named(srv, "hold")
    deadline = time.monotonic() + 30
    while httpx.get(f"{srv.url}/api/runs/{run_id}").json()["line_count"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with locked(db):
        cancel = httpx.post(
            f"{srv.url}/api/runs/{run_id}/cancel",
            headers={"X-Attune-Token": srv.token},
            timeout=60,
        )
        assert cancel.status_code == 202
        # Longer than the run's retries (3 × the 5 s busy wait): its end waits in memory, and
        # every read already shows it ended — as cancelled, not failed.
        deadline = time.monotonic() + 40
        while (shown := httpx.get(f"{srv.url}/api/runs/{run_id}", timeout=30).json())[
            "status"
        ] == "running":
            assert time.monotonic() < deadline, "the cancelled run still shows running"
            time.sleep(0.2)
        assert shown["status"] == "cancelled"
        assert httpx.get(f"{srv.url}/healthz", timeout=3).status_code == 200
    deadline = time.monotonic() + 30
    while True:  # written to the file once the lock is gone
        with sqlite3.connect(db) as conn:
            (status,) = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if status != "running":
            break
        assert time.monotonic() < deadline, "the end was never written"
        time.sleep(0.2)
    assert status == "cancelled"


def _start_named(srv: Any, workflow: str) -> int:
    r = httpx.post(
        f"{srv.url}/api/runs",
        json={"workflow": workflow},
        headers={"X-Attune-Token": srv.token},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])

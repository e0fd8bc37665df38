"""Stopping the dashboard mid-run: the run is ``interrupted`` (not ``cancelled``) with a note,
its processes are gone, and the terminal shows no traceback — even with a run page open."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

PY = json.dumps(sys.executable)
HOLD = "import time\nprint('holding', flush=True)\ntime.sleep(120)"


@pytest.fixture
def hold_project(project: Path) -> Path:
    (project / "attune.toml").write_text(
        f'[workflows.hold]\ncommand = [{PY}, "-c", {json.dumps(HOLD)}]\n'
    )
    return project


def _start(srv: Any) -> dict[str, Any]:
    r = httpx.post(
        f"{srv.url}/api/runs", json={"workflow": "hold"}, headers={"X-Attune-Token": srv.token}
    )
    assert r.status_code == 201, r.text
    run = dict(r.json())
    deadline = time.monotonic() + 30
    while httpx.get(f"{srv.url}/api/runs/{run['id']}").json()["line_count"] < 1:
        assert time.monotonic() < deadline, "the run printed nothing"
        time.sleep(0.05)
    return run


def _stored(home: Path, run_id: int) -> tuple[str, int | None, list[str]]:
    with sqlite3.connect(home / "ops" / "ops.db") as conn:
        status, pid = conn.execute(
            "SELECT status, pid FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        chunks = conn.execute(
            "SELECT text FROM run_chunks WHERE run_id = ? ORDER BY first_seq", (run_id,)
        ).fetchall()
    return status, pid, [line for (text,) in chunks for line in text.split("\n")]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _open_stream(url: str) -> threading.Thread:
    def read() -> None:
        try:
            with httpx.stream("GET", url, timeout=httpx.Timeout(60, read=60)) as r:
                for _ in r.iter_raw():
                    pass
        except httpx.HTTPError:
            pass

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_stopping_the_dashboard_mid_run_marks_it_interrupted(
    server_factory: Callable[..., Any], hold_project: Path, sig: int
) -> None:
    srv = server_factory(hold_project)
    run = _start(srv)
    reader = _open_stream(f"{srv.url}/api/runs/{run['id']}/events")  # a run page left open
    time.sleep(0.3)
    started = time.monotonic()
    srv.kill(sig)
    assert srv.proc.returncode == 0
    assert time.monotonic() - started < 8, "the shutdown waited on the open stream"
    reader.join(10)
    assert not reader.is_alive()
    status, pid, lines = _stored(srv.home, run["id"])
    assert status == "interrupted"
    assert lines[0] == "holding"
    assert lines[-1].startswith(
        "[attune] the dashboard stopped while this run was running; marked interrupted"
    )
    assert pid is not None and not _group_alive(pid)
    out = srv.output()
    assert "Traceback" not in out and "CancelledError" not in out, out
    assert "timeout graceful shutdown exceeded" not in out.lower(), out
    assert out.rstrip().endswith("attune ops: stopped."), out
    assert not (srv.home / "ops" / "servers" / f"{srv.proc.pid}.json").exists()
    assert not (srv.home / "ops" / "server.json").exists()


def test_a_cancel_from_the_terminal_says_so(
    server_factory: Callable[..., Any], hold_project: Path
) -> None:
    import subprocess

    srv = server_factory(hold_project)
    run = _start(srv)
    done = subprocess.run(
        [sys.executable, "-m", "attune", "runs", "cancel", str(run["id"])],
        cwd=hold_project,
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30
    while _stored(srv.home, run["id"])[0] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, _, lines = _stored(srv.home, run["id"])
    assert status == "cancelled"
    shown = httpx.get(f"{srv.url}/api/runs/{run['id']}").json()
    assert shown["exit_code"] == -15 and shown["signal"] == "SIGTERM"
    page = httpx.get(f"{srv.url}/runs/{run['id']}").text
    assert '<dd id="run-exit" class="num">-15 (SIGTERM)</dd>' in page
    assert lines[-1] == (
        "[attune] cancelled by `attune runs cancel` in a terminal; "
        "the process ended: killed by SIGTERM"
    )

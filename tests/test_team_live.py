"""Live across machines: two real dashboards (their own homes and host names) on one PostgreSQL
database. A run started on A streams on B with the SSE contract — every line once, in order,
then ``done``; a reconnect with ``Last-Event-ID`` resumes with no gap or repeat — and both
histories list it with A's host. A killed mid-run (``kill -9``) leaves its run ``running`` for
everyone (no other machine judges it) until A starts again and marks it ``interrupted``; B's
stream then ends with ``done``."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from attune.ops.store.pg_notify import LISTENER_NAME
from tests.helpers import (
    pid_alive,
    python_workflow,
    start_run,
    wait_finished,
    wait_until,
    write_workflows,
)
from tests.sse_client import RunTranscript, follow_run, read_events

LINES = 400
COUNT = (
    "import sys, time\n"
    "for i in range(1, int(sys.argv[1]) + 1):\n"
    "    print(f'line {i}', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)
Start = Callable[..., Any]


@pytest.fixture
def team(server_factory: Start, tmp_path: Path, postgres_url: str) -> Callable[[str], Any]:
    """Start a dashboard of the team on ``host`` (its own project checkout and home)."""

    def start(host: str) -> Any:
        project = tmp_path / f"project-{host}"
        project.mkdir(exist_ok=True)
        write_workflows(
            project,
            python_workflow("count", COUNT, str(LINES), "0.01"),
            python_workflow("long", COUNT, "100000", "0.02"),
        )
        env = {"ATTUNE_DATABASE_URL": postgres_url, "ATTUNE_HOST": host}
        return server_factory(project, home=tmp_path / f"home-{host}", env=env)

    return start


def _run(server: Any, run_id: int) -> dict[str, Any]:
    return dict(httpx.get(f"{server.url}/api/runs/{run_id}", timeout=10).json())


def test_a_run_on_one_dashboard_streams_live_on_another(team: Callable[[str], Any]) -> None:
    a, b = team("host-a"), team("host-b")
    run = start_run(a, "count")
    first = RunTranscript()
    live_on_a = None
    for event in read_events(f"{b.url}/api/runs/{run['id']}/events", timeout=60):
        first.take(event)
        if live_on_a is None and first.seqs:
            live_on_a = _run(a, run["id"])["status"]  # B has lines while A still runs it
        if first.last_seq >= LINES // 3 or first.done is not None:
            break  # the page reloads mid-run
    assert live_on_a == "running" and first.done is None
    rest = RunTranscript()
    headers = {"Last-Event-ID": str(first.last_seq)}
    for event in read_events(f"{b.url}/api/runs/{run['id']}/events", headers=headers):
        rest.take(event)
        if rest.done is not None:
            break
    assert first.seqs + rest.seqs == list(range(1, LINES + 1))
    assert first.lines + rest.lines == [f"line {i}" for i in range(1, LINES + 1)]
    assert rest.done is not None and rest.done["status"] == "succeeded"
    assert rest.done["host"] == "host-a"
    for server in (a, b):
        runs = httpx.get(f"{server.url}/api/runs", timeout=10).json()["runs"]
        assert [(r["id"], r["host"], r["status"]) for r in runs] == [
            (run["id"], "host-a", "succeeded")
        ]
    # A stream opened after the end replays the run and ends, on either dashboard.
    again = follow_run(b.url, run["id"], after=LINES - 2)
    assert again.seqs == [LINES - 1, LINES] and again.done is not None


def test_a_dashboard_killed_mid_run_marks_it_interrupted_when_it_restarts(
    team: Callable[[str], Any], postgres_url: str
) -> None:
    a, b = team("host-a"), team("host-b")
    run = start_run(a, "long")
    got: list[RunTranscript] = []
    reader = threading.Thread(target=lambda: got.append(follow_run(b.url, run["id"], timeout=90)))
    reader.start()
    try:
        wait_until(lambda: _run(b, run["id"])["line_count"] >= 20, message="no lines on B")
        with psycopg.connect(postgres_url) as conn:
            row = conn.execute("SELECT pid FROM runs WHERE id = %s", (run["id"],)).fetchone()
        workflow_pid = int(row[0]) if row else 0
        assert pid_alive(workflow_pid)
        a.kill()  # kill -9: A records nothing more
        # Another dashboard starting (its own recovery) must not judge host-a's run.
        c = team("host-c")
        assert _run(c, run["id"])["status"] == "running"
        assert _run(b, run["id"])["status"] == "running" and reader.is_alive()
        a2 = team("host-a")  # A again, on its home
        wait_finished(b, run["id"], timeout=30)
    finally:
        reader.join(60)
    [transcript] = got
    assert transcript.done is not None and transcript.done["status"] == "interrupted"
    assert transcript.seqs == list(range(1, transcript.last_seq + 1))
    assert "marked interrupted" in transcript.lines[-1]
    assert _run(b, run["id"])["status"] == _run(a2, run["id"])["status"] == "interrupted"
    wait_until(lambda: not pid_alive(workflow_pid), message="the run's process outlived A")


def _backends_of(pid: int, postgres_url: str) -> dict[int, str]:
    """The server backends (their pid → application_name) of process ``pid``'s connections to
    the test database, matched by the client port of each of its TCP sockets."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = []
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                cols = row.split()
                if cols[9] in inodes:
                    ports.append(int(cols[1].rsplit(":", 1)[1], 16))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND client_port = ANY(%s)",
            (ports,),
        ).fetchall()
    return {int(backend): str(name) for backend, name in rows}


def _gone(backends: dict[int, str], postgres_url: str) -> bool:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (list(backends),)
        ).fetchone()
    return row is not None and row[0] == 0


def test_sigterm_stops_a_team_dashboard_promptly_and_closes_its_connections(
    team: Callable[[str], Any], postgres_url: str
) -> None:
    a, b = team("host-a"), team("host-b")
    run = start_run(a, "long")
    got: list[RunTranscript] = []
    reader = threading.Thread(target=lambda: got.append(follow_run(b.url, run["id"], timeout=60)))
    reader.start()  # B follows A's run: B's listener is connected, its pool too
    try:
        wait_until(
            lambda: LISTENER_NAME in _backends_of(b.proc.pid, postgres_url).values(),
            message="B never listened",
        )
        backends = _backends_of(b.proc.pid, postgres_url)
        assert len(backends) >= 2  # the listener and at least one pooled connection
        began = time.monotonic()
        b.proc.send_signal(signal.SIGTERM)
        code = b.proc.wait(timeout=30)
        took = time.monotonic() - began
    finally:
        reader.join(60)
    # No thread kept it alive (a generous bound: the machine is shared); a reader left waiting
    # on the store would make uvicorn wait out its grace and print a CancelledError traceback.
    assert code == 0 and took < 25, (code, took, b.output())
    assert "attune ops: stopped." in b.output() and "Traceback" not in b.output()
    wait_until(lambda: _gone(backends, postgres_url), message="B's backends outlived it")
    assert _run(a, run["id"])["status"] == "running"  # A and its run go on

"""Crash safety and upkeep: kill -9 mid-run, a full disk, a corrupt database, retention."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from attune.ops.config import Config
from attune.ops.store.database import Store
from attune.ops.store.retention import RetentionJob, apply_retention
from tests.helpers import astart_run, pid_alive, python_workflow, start_run, write_workflows

SURVIVOR = (
    "import os, sys, time\n"
    "for i in range(1, 51):\n    print(f'seen {i}', flush=True)\n"
    "open(sys.argv[1], 'w').write(str(os.getpid()))\n"
    "time.sleep(120)\n"
)


FLOOD = "import sys, time\nfor i in range(200000): print(i, 'x' * 200)\ntime.sleep(30)"


def test_kill_9_mid_run_then_restart(
    server_factory: Callable[..., Any], project: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    write_workflows(project, python_workflow("survivor", SURVIVOR, str(pid_file)))
    srv = server_factory(project)
    run_id = start_run(srv, "survivor")["id"]
    seen: list[str] = []
    with httpx.stream("GET", f"{srv.url}/api/runs/{run_id}/events", timeout=30) as events:
        for line in events.iter_lines():
            if line.startswith("data: "):
                seen.extend(json.loads(line[6:])["lines"])
            if len(seen) >= 50:
                break
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    child = int(pid_file.read_text())
    srv.kill()  # SIGKILL to the server's group: the workflow (its own session) survives
    assert pid_alive(child)
    try:
        again = server_factory(project)
        run = httpx.get(f"{again.url}/api/runs/{run_id}").json()
        assert run["status"] == "interrupted" and run["finished_at"]
        log = httpx.get(f"{again.url}/api/runs/{run_id}/log").text.splitlines()
        assert log[:50] == seen  # every line a client saw is on disk
        assert "interrupted" in log[50]
        assert "killed the run's leftover process group" in log[51]
        deadline = time.monotonic() + 5
        while pid_alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pid_alive(child)
    finally:
        if pid_alive(child):
            os.kill(child, 9)


async def test_full_disk_fails_the_run_clearly(
    make_app: Callable[[Config], Any], config: Config, project: Path
) -> None:
    write_workflows(project, python_workflow("flood", FLOOD))
    app = make_app(config)
    store = app.state.services.store
    with store.write() as conn:  # the database may not grow any more: SQLITE_FULL
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    transport = httpx.ASGITransport(app=app)
    headers = {"X-Attune-Token": app.state.services.token}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8765", headers=headers
    ) as client:
        run = await astart_run(client, "flood")
        with anyio.fail_after(20):
            while app.state.services.runner.current_run_id is not None:
                await anyio.sleep(0.05)
    done = store.get_run(run["id"])
    assert done.status == "failed"  # stopped (its process killed), not hung for 30 s
    assert "could not be stored" in done.error and "full" in done.error
    assert done.to_json()["error"] == done.error


async def test_a_read_only_store_refuses_to_start_a_run_clearly(
    make_app: Callable[[Config], Any], config: Config, project: Path
) -> None:
    write_workflows(project, python_workflow("one", "1"))
    app = make_app(config)
    with app.state.services.store.write() as conn:
        conn.execute("PRAGMA query_only = 1")  # from now on every write fails: SQLITE_READONLY
    transport = httpx.ASGITransport(app=app)
    headers = {"X-Attune-Token": app.state.services.token}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8765", headers=headers
    ) as client:
        r = await client.post("/api/runs", json={"workflow": "one"})
    assert r.status_code == 503
    error = r.json()["error"]
    assert error["code"] == "store_unavailable" and "not started" in error["message"]
    assert "readonly" in error["message"]
    assert app.state.services.runner.current_run_id is None  # the busy lock is free


def test_corrupt_database_is_moved_aside(tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    db.write_bytes(b"this is not a database" * 100)
    store = Store(db)
    try:
        assert store.moved_aside is not None and store.moved_aside.exists()
        run = store.create_run("w", None, ["w"])
        assert store.get_run(run.id) is not None
    finally:
        store.close()


def _old_run(store: Store, days: int, lines: int = 2000) -> int:
    run = store.create_run("w", None, ["w"])
    store.append_lines(run.id, 1, [f"old line {i} " + "y" * 100 for i in range(lines)])
    store.finish_run(run.id, "succeeded", 0, 1.0)
    store.index_run(run.id)
    stamp = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    with store.write() as conn:
        conn.execute("UPDATE runs SET started_at = ? WHERE id = ?", (stamp, run.id))
    return run.id


def test_retention_vacuums_when_much_was_freed(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.db")
    try:
        old = [_old_run(store, 45) for _ in range(5)]
        keep = _old_run(store, 2, lines=10)
        with store.read() as conn:
            pages_before = conn.execute("PRAGMA page_count").fetchone()[0]
        assert apply_retention(store, 0) == 0
        assert apply_retention(store, 30) == 5
        assert all(store.get_run(i) is None for i in old) and store.get_run(keep) is not None
        with store.read() as conn:
            assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0  # vacuumed
            assert conn.execute("PRAGMA page_count").fetchone()[0] < pages_before / 2
    finally:
        store.close()


def test_retention_job_runs_in_the_background(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.db")
    job = RetentionJob(store, 30, interval_s=0.05)
    try:
        old = _old_run(store, 40, lines=5)
        job.start()
        deadline = time.monotonic() + 5
        while store.get_run(old) is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.get_run(old) is None
        later = _old_run(store, 40, lines=5)  # and again on the next round
        while store.get_run(later) is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.get_run(later) is None
    finally:
        job.stop()
        store.close()
    assert not any(t.name == "attune-retention" for t in threading.enumerate())


@pytest.mark.parametrize("days", [0])
def test_retention_zero_keeps_everything(tmp_path: Path, days: int) -> None:
    store = Store(tmp_path / "ops.db")
    try:
        old = _old_run(store, 4000, lines=1)
        RetentionJob(store, days).start()  # 0: no thread at all
        assert apply_retention(store, days) == 0 and store.get_run(old) is not None
    finally:
        store.close()

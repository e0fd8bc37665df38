"""Reader connections are pooled: a dashboard left running does not gain one open database
file per run (each run's pump thread reads, and then the thread is gone)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import httpx

from attune.ops.store.database import Store
from attune.ops.store.readers import MAX_IDLE_READERS
from attune.ops.web.services import services_of
from tests.helpers import astart_run, await_finished, python_workflow, write_workflows


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_threads_that_come_and_go_leave_no_connection_behind(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.db")
    try:
        run = store.create_run("demo", None, ["x"], "web")
        before = _open_fds()
        for _ in range(60):
            thread = threading.Thread(target=store.get_run, args=(run.id,))
            thread.start()
            thread.join()
        assert store._readers.open_count <= MAX_IDLE_READERS
        assert _open_fds() - before <= MAX_IDLE_READERS
    finally:
        store.close()


def test_a_nested_read_shares_its_snapshot(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.db")
    try:
        with store.read() as outer, store.read() as inner:
            assert outer is inner
        assert store._readers.open_count == 1
    finally:
        store.close()


async def test_fifty_runs_do_not_grow_the_open_files(
    client: httpx.AsyncClient, app: Any, project: Path
) -> None:
    write_workflows(project, python_workflow("quick", "print('ok')"))
    first = await astart_run(client, "quick")
    await await_finished(client, first["id"])
    before = _open_fds()
    for _ in range(50):
        run = await astart_run(client, "quick")
        assert (await await_finished(client, run["id"]))["status"] == "succeeded"
    assert services_of(app).store._readers.open_count <= MAX_IDLE_READERS
    assert _open_fds() - before <= MAX_IDLE_READERS  # was one more per run

"""A run live in another process (``attune runs start`` on its own, another dashboard on the same
home) streams from the store on this dashboard's run page: every line, then ``done`` with the
real ending — never ``done`` with ``status: running``, which froze the page."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attune.ops.store.database import Store
from tests.sse_client import RunTranscript, follow_run


def test_a_run_of_another_process_streams_until_it_ends(
    server_factory: Callable[..., Any], project: Path
) -> None:
    srv = server_factory(project)
    elsewhere = Store(srv.home / "ops" / "ops.db", integrity_budget_s=0)  # the other process
    try:
        run = elsewhere.create_run("demo", None, ["demo"], "cli")
        elsewhere.append_lines(run.id, 1, ["one", "two"])
        got: list[RunTranscript] = []
        reader = threading.Thread(
            target=lambda: got.append(follow_run(srv.url, run.id, timeout=60))
        )
        reader.start()
        time.sleep(1.5)  # the reader has the first lines and waits: the run is still running
        assert reader.is_alive()
        elsewhere.append_lines(run.id, 3, ["three"])
        time.sleep(1.0)
        elsewhere.finish_run(run.id, "succeeded", 0, 2.5, None)
        reader.join(30)
    finally:
        elsewhere.close()
    [transcript] = got
    assert transcript.lines == ["one", "two", "three"] and transcript.seqs == [1, 2, 3]
    assert transcript.done is not None and transcript.done["status"] == "succeeded"

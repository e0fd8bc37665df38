"""The team database going away: the run goes on, the dashboard answers 503 and recovers.

Real dashboards and real workflow processes on the test cluster (tests/postgres_cluster.py),
stopped and started again on the same port. Bounds under test (README "For a team"): a request
while the database is away answers ``store_unavailable`` at once (no pool wait; the probe
connects at most every 0.5 s), a run keeps up to 200,000 lines / 32 MiB in memory and, once
ended, waits ``STORE_WAIT_AT_END_S`` (30 s) for the database before it gives them up. The
figures are printed (``-s``); tests assert behaviour, with generous request timeouts so a hung
dashboard fails instead of waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from attune.ops.config import Config
from attune.ops.errors import StoreUnavailable
from attune.ops.runs.runner import Runner
from attune.ops.runs.unstored import Unstored
from attune.ops.store.postgres import PostgresStore
from tests.helpers import python_workflow, start_run, wait_finished, wait_until
from tests.postgres_cluster import PostgresCluster
from tests.sse_client import RunTranscript, follow_run

REQUEST_BOUND_S = 3.0  # a request while the database is away must answer within this
NUMBERED = (
    "import sys, time\n"
    "n, pause = int(sys.argv[1]), float(sys.argv[2])\n"
    "for i in range(1, n + 1):\n"
    "    print(f'line {i}', flush=True)\n"
    "    time.sleep(pause)\n"
)


def _stored_lines(url: str, run_id: int) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT first_seq, text FROM run_chunks WHERE run_id = %s ORDER BY first_seq",
            (run_id,),
        ).fetchall()
    return [(first + i, text) for first, chunk in rows for i, text in enumerate(chunk.split("\n"))]


def _poll_while_down(base: str, seconds: float) -> list[tuple[int, float, dict[str, Any]]]:
    """``(status, seconds, body)`` of ``GET /api/runs`` asked every 0.1 s for ``seconds``."""
    answers = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        r = httpx.get(f"{base}/api/runs", timeout=REQUEST_BOUND_S)
        answers.append((r.status_code, time.monotonic() - t0, r.json()))
        time.sleep(0.1)
    return answers


def _time_to_recover(base: str) -> float:
    t0 = time.monotonic()
    while httpx.get(f"{base}/api/runs", timeout=REQUEST_BOUND_S).status_code != 200:
        assert time.monotonic() - t0 < 20, "the dashboard did not recover by itself"
        time.sleep(0.02)
    return time.monotonic() - t0


def _assert_unavailable(answers: list[tuple[int, float, dict[str, Any]]], password: str) -> None:
    assert answers
    for status, _, body in answers:
        assert status == 503, body
        assert body["error"]["code"] == "store_unavailable"
        assert body["error"]["unreachable"] is True
        assert password not in body["error"]["message"]
    took = sorted(t for _, t, _ in answers)
    print(
        f"\n503 while down: {len(answers)} answers, median {took[len(took) // 2] * 1000:.1f} ms, "
        f"slowest {took[-1] * 1000:.1f} ms"
    )


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_run_outlives_a_database_restart_with_every_line_stored_once(
    mode: str,
    server_factory: Callable[..., Any],
    postgres_cluster: PostgresCluster,
    postgres_url: str,
    project: Path,
) -> None:
    # The test cluster acknowledges a commit before its WAL is written (synchronous_commit=off,
    # for speed), so a crash-like `immediate` stop could lose commits a real server keeps:
    # this database writes them through, as PostgreSQL does by default.
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = on')
    (project / "attune.toml").write_text(python_workflow("count", NUMBERED, "100", "0.1"))
    srv = server_factory(project, env={"ATTUNE_DATABASE_URL": postgres_url})
    run_id = int(start_run(srv, "count")["id"])
    live = RunTranscript()

    def view() -> None:
        live.__dict__.update(vars(follow_run(srv.url, run_id)))

    viewer = threading.Thread(target=view)
    viewer.start()
    wait_until(lambda: httpx.get(f"{srv.url}/api/runs/{run_id}").json()["line_count"] >= 20)

    postgres_cluster.stop(mode)
    answers = _poll_while_down(srv.url, 3.0)
    postgres_cluster.start()
    recovered = _time_to_recover(srv.url)
    print(f"recovered {recovered * 1000:.0f} ms after the server accepted connections again")

    _assert_unavailable(answers, postgres_cluster.password)
    run = wait_finished(srv, run_id, timeout=60)
    assert run["status"] == "succeeded", run
    assert run.get("error") is None
    expected = [f"line {i}" for i in range(1, 101)]
    assert _stored_lines(postgres_url, run_id) == list(enumerate(expected, start=1))
    log = httpx.get(f"{srv.url}/api/runs/{run_id}/log?ansi=0", timeout=10).text
    assert log.splitlines() == expected
    viewer.join(timeout=30)
    assert live.lines == expected  # the live viewer got every line, from memory while down
    assert live.seqs == list(range(1, 101))
    assert live.done is not None and live.done["status"] == "succeeded"


def test_a_database_away_past_the_bound_ends_the_run_with_a_clear_error(
    server_factory: Callable[..., Any],
    postgres_cluster: PostgresCluster,
    postgres_url: str,
    make_config: Callable[..., Config],
    project: Path,
    tmp_path: Path,
) -> None:
    # Lines 1-10, a pause (the database stops), lines 11-20 while it is away, then the end.
    script = NUMBERED.replace(
        "    time.sleep(pause)\n", "    time.sleep(pause if i == 10 else 0)\n"
    )
    (project / "attune.toml").write_text(python_workflow("pause", script, "20", "2"))
    srv = server_factory(project, env={"ATTUNE_DATABASE_URL": postgres_url}, home=tmp_path / "b")
    store = PostgresStore(postgres_url)
    runner = Runner(make_config(database_url=postgres_url), store)
    runner.store_wait_s = 2.0  # the run's own bound, short for the test (30 s by default)
    try:
        run_id = runner.start("pause", None).id
        wait_until(lambda: store.get_run(run_id).line_count >= 10)  # type: ignore[union-attr]
        postgres_cluster.stop()
        process = runner._current
        assert process is not None and process.join(timeout=30), "the run hung on the store"
        assert not runner.busy  # the machine's runner is free again
        ended = process.result
        assert ended is not None and ended.status == "succeeded"
        assert ended.error is not None
        assert "10 line(s) of output (seq 11–20) could not be stored" in ended.error
        assert "still away 2 s after the run ended" in ended.error
        assert postgres_cluster.password not in ended.error
        _assert_unavailable(_poll_while_down(srv.url, 1.0), postgres_cluster.password)
        with pytest.raises(StoreUnavailable):
            store.get_run(run_id)
        postgres_cluster.start()
        print(f"recovered {_time_to_recover(srv.url) * 1000:.0f} ms after the restart")

        def written() -> bool:
            return httpx.get(f"{srv.url}/api/runs/{run_id}").json()["status"] != "running"

        wait_until(written, timeout=30, message="the end kept in memory was never written")
        shown = httpx.get(f"{srv.url}/api/runs/{run_id}").json()
        assert shown["status"] == "succeeded"
        assert shown["error"] == ended.error
        lines = _stored_lines(postgres_url, run_id)
        assert lines[:10] == [(i, f"line {i}") for i in range(1, 11)]
        assert [seq for seq, _ in lines] == [*range(1, 11), 21]  # the gap is visible
        assert lines[-1][1] == f"[attune] {ended.error}"  # the last line names what was lost
    finally:
        runner.stop()
        store.close()


def test_the_dashboard_will_not_start_on_a_database_that_is_away(
    server_factory: Callable[..., Any],
    postgres_cluster: PostgresCluster,
    postgres_url: str,
    project: Path,
) -> None:
    postgres_cluster.stop()
    srv = server_factory(project, env={"ATTUNE_DATABASE_URL": postgres_url}, wait=False)
    assert srv.proc.wait(timeout=60) == 6
    out = srv.output()
    assert "Traceback" not in out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("attune ops: the team database postgresql://attune:***@127.0.0.1:")
    assert "unavailable" in lines[0]
    assert postgres_cluster.password not in out


def test_a_connection_killed_mid_transaction_is_a_503_and_the_next_call_recovers(
    postgres_url: str,
) -> None:
    store = PostgresStore(postgres_url)
    try:
        run = store.create_run("w", None, ["true"])
        with pytest.raises(StoreUnavailable) as caught, store.write() as conn:
            conn.execute("UPDATE runs SET line_count = 7 WHERE id = ?", (run.id,))
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                pid = conn.raw.info.backend_pid
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert caught.value.extra["unreachable"] is True
        again = store.get_run(run.id)  # the server is up: the probe lets this through
        assert again is not None and again.line_count == 0  # the cut transaction did not land
    finally:
        store.close()


def test_lines_kept_in_memory_are_stored_once_even_when_a_cut_commit_had_landed(
    postgres_url: str,
) -> None:
    store = PostgresStore(postgres_url)
    try:
        run = store.create_run("w", None, ["true"])
        store.append_lines(run.id, 1, [f"line {i}" for i in range(1, 11)])
        unstored = Unstored()
        # 6-10 were retried after a COMMIT that was cut off but had landed; 11-20 never went.
        unstored.add(6, [f"line {i}" for i in range(6, 16)])
        unstored.add(16, [f"line {i}" for i in range(16, 21)])
        assert unstored.store(store, run.id)
        assert not unstored
        stored = _stored_lines(postgres_url, run.id)
        assert stored == [(i, f"line {i}") for i in range(1, 21)]
    finally:
        store.close()


def test_lines_past_the_memory_bound_are_counted_and_named() -> None:
    unstored = Unstored(max_lines=5)
    unstored.add(1, ["a", "b", "c"])
    unstored.add(4, ["d", "e", "f"])  # does not fit: lost
    unstored.add(7, ["g"])
    unstored.later(0.0, "the team database is unavailable")
    unstored.lose_all("still away 30 s after the run ended")
    note = unstored.loss_note(lost_recs=1)
    assert note is not None
    assert note.startswith("7 line(s) of output (seq 1–7) and 1 recommendation(s) could not")
    assert "more than 5 lines" in note and "still away 30 s" in note
    assert note.endswith("the team database is unavailable")

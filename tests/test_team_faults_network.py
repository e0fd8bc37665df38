"""The team database misbehaving while it stays up: silent, read-only, refusing, cutting links.

A server whose processes are stopped (SIGSTOP: the kernel still acknowledges every packet, so
no TCP timeout fires) must not freeze the dashboard or the run: a round trip is cut on the
client after ``STATEMENT_TIMEOUT_S + CLIENT_GRACE_S`` (store/pg_pool.py) and the store is then
away (503 at once). Whatever the database says (read-only after a failover, a revoked
privilege, a statement the server rejects) is a 503 ``store_unavailable``, never a 500. A few
pooled connections killed by an admin, a proxy or a NAT are replaced: no request is refused.
Figures are printed (``-s``); bounds asserted are generous, for a loaded machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from attune.ops.errors import StoreUnavailable
from attune.ops.store.pg_pool import CLIENT_GRACE_S, STATEMENT_TIMEOUT_S
from attune.ops.store.postgres import PostgresStore
from tests.helpers import python_workflow, start_run, wait_finished, wait_until
from tests.postgres_cluster import PostgresCluster
from tests.test_team_faults import NUMBERED, _stored_lines, _time_to_recover

CUT_AFTER_S = STATEMENT_TIMEOUT_S + CLIENT_GRACE_S
ANSWER_BOUND_S = CUT_AFTER_S + 5  # the cut, a probe's connect timeout (2 s), a loaded machine


def _cluster_pids(cluster: PostgresCluster) -> list[int]:
    """The postmaster (from its pid file) and every process it forked, found in /proc."""
    postmaster = int((cluster.data_dir / "postmaster.pid").read_text().splitlines()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(entry.name))
    return pids


@contextlib.contextmanager
def _frozen(cluster: PostgresCluster) -> Iterator[None]:
    """Every process of the cluster stopped (SIGSTOP), continued at the end whatever happens."""
    pids = _cluster_pids(cluster)
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGCONT)


def test_a_silent_server_is_a_503_within_the_bound_and_the_run_is_not_blocked(
    server_factory: Callable[..., Any],
    postgres_cluster: PostgresCluster,
    postgres_url: str,
    project: Path,
) -> None:
    # 120 lines over ~12 s; the server is silent for 12 s from line 20 on.
    (project / "attune.toml").write_text(python_workflow("count", NUMBERED, "120", "0.1"))
    srv = server_factory(project, env={"ATTUNE_DATABASE_URL": postgres_url})
    run_id = int(start_run(srv, "count")["id"])
    wait_until(lambda: httpx.get(f"{srv.url}/api/runs/{run_id}").json()["line_count"] >= 20)
    answers: list[tuple[int, float, dict[str, Any]]] = []
    with _frozen(postgres_cluster):
        end = time.monotonic() + 12
        while time.monotonic() < end:
            t0 = time.monotonic()
            r = httpx.get(f"{srv.url}/api/runs", timeout=ANSWER_BOUND_S + 10)
            answers.append((r.status_code, time.monotonic() - t0, r.json()))
            time.sleep(0.1)
    recovered = _time_to_recover(srv.url)
    run = wait_finished(srv, run_id, timeout=60)

    took = sorted(t for _, t, _ in answers)
    print(
        f"\nsilent server: {len(answers)} answers, median {took[len(took) // 2] * 1000:.0f} ms, "
        f"slowest {took[-1] * 1000:.0f} ms; recovered {recovered * 1000:.0f} ms after SIGCONT; "
        f"the run took {run['duration_s']} s (12 s unhindered)"
    )
    for status, seconds, body in answers:
        assert status == 503, body
        assert body["error"]["code"] == "store_unavailable"
        assert postgres_cluster.password not in body["error"]["message"]
        assert seconds < ANSWER_BOUND_S
    assert sum(1 for _, s, _ in answers if s < 1) >= len(answers) // 2  # most at once
    assert run["status"] == "succeeded", run
    assert run.get("error") is None
    assert run["duration_s"] < 12 + CUT_AFTER_S + 5  # the pump kept reading the pipe
    expected = [f"line {i}" for i in range(1, 121)]
    assert _stored_lines(postgres_url, run_id) == list(enumerate(expected, start=1))


@pytest.fixture
def admin(postgres_cluster: PostgresCluster) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres_cluster.url("postgres"), autocommit=True) as conn:
        yield conn


def _terminate(admin: psycopg.Connection[Any], url: str) -> int:
    dbname = url.rsplit("/", 1)[1]
    row = admin.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
        (dbname,),
    ).fetchone()
    return int(row[0]) if row else 0


def test_a_read_only_database_is_a_503_and_frees_the_run_lock(
    server_factory: Callable[..., Any],
    postgres_url: str,
    admin: psycopg.Connection[Any],
    project: Path,
) -> None:
    (project / "attune.toml").write_text(python_workflow("count", NUMBERED, "3", "0"))
    srv = server_factory(project, env={"ATTUNE_DATABASE_URL": postgres_url})
    dbname = postgres_url.rsplit("/", 1)[1]
    admin.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
    _terminate(admin, postgres_url)  # as after a failover: new connections, to a standby
    r = httpx.post(
        f"{srv.url}/api/runs",
        json={"workflow": "count"},
        headers={"X-Attune-Token": srv.token},
        timeout=30,
    )
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["code"] == "store_unavailable"
    assert "read-only transaction" in error["message"]
    assert not error.get("unreachable")
    assert httpx.get(f"{srv.url}/api/runs", timeout=10).status_code == 200  # reads go on
    admin.execute(f'ALTER DATABASE "{dbname}" RESET default_transaction_read_only')
    _terminate(admin, postgres_url)
    run = wait_finished(srv, int(start_run(srv, "count")["id"]))  # the lock was released
    assert run["status"] == "succeeded"


def test_a_revoked_privilege_and_a_rejected_statement_are_503s_and_a_bug_is_logged(
    postgres_cluster: PostgresCluster,
    postgres_url: str,
    admin: psycopg.Connection[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    PostgresStore(postgres_url).close()  # the schema, as its owner
    role = f"member_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    member_url = postgres_url.replace("attune:", f"{role}:", 1).replace(
        postgres_cluster.password, "pw-" + role
    )
    with psycopg.connect(postgres_url, autocommit=True) as owner:
        owner.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-{role}'")
        owner.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        owner.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        owner.execute(f"REVOKE INSERT ON run_chunks FROM {role}")
    store = PostgresStore(member_url)
    try:
        run = store.create_run("w", None, ["true"])
        with pytest.raises(StoreUnavailable) as denied:
            store.append_lines(run.id, 1, ["a"])
        assert "permission denied for table run_chunks" in denied.value.message
        assert not denied.value.extra.get("unreachable")
        assert "pw-" not in denied.value.message
        with (
            caplog.at_level(logging.ERROR),
            pytest.raises(StoreUnavailable) as bug,
            store.read() as conn,
        ):
            conn.execute("SELECT no_such_column FROM runs")
        assert "SQLSTATE 42703" in bug.value.message
        assert "a bug in attune ops" in bug.value.message
        logged = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(logged) == 1 and "42703" in logged[0].getMessage()
        assert store.get_run(run.id) is not None  # the store answers on
    finally:
        store.close()
        with psycopg.connect(postgres_url, autocommit=True) as owner:
            owner.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE IF EXISTS {role}")


def test_killed_connections_are_replaced_without_refusing_anyone(
    postgres_url: str, admin: psycopg.Connection[Any]
) -> None:
    store = PostgresStore(postgres_url)
    run = store.create_run("w", None, ["true"])
    stop = threading.Event()
    good, refused, away = [0], [], []

    def reader() -> None:
        while not stop.is_set():
            try:
                store.get_run(run.id)
                good[0] += 1
            except StoreUnavailable as exc:
                refused.append(exc.message)
            if store._health.away_since is not None:
                away.append(True)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    try:
        for thread in readers:
            thread.start()
        time.sleep(0.5)
        killed = sum(_terminate(admin, postgres_url) for _ in range(3) if not time.sleep(0.3))
        store.append_lines(run.id, 1, ["after"])  # a write on a pool that had dead ones
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        store.close()
    print(f"\n{killed} backends killed: {good[0]} reads, {len(refused)} refused")
    assert killed >= 4
    assert refused == []
    assert away == []

"""Who and where (issue 16 item 3): every run records its host and user; history filters by them
on both backends; a run live on another machine is cancelled only there (409 naming the host)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.errors import RunElsewhere
from attune.ops.runs.runner import Runner
from attune.ops.store.database import Store
from attune.ops.store.run_origin import this_origin
from attune.ops.store.runs import RunFilter
from tests.conftest import ServerProcess
from tests.helpers import python_workflow, start_run, wait_finished, write_workflows


def _run_as(
    store: Store, monkeypatch: pytest.MonkeyPatch, host: str, user: str, status: str
) -> int:
    monkeypatch.setenv("ATTUNE_HOST", host)
    monkeypatch.setenv("ATTUNE_USER", user)
    run = store.create_run("tests", None, ["pytest"])
    if status != "running":
        store.finish_run(run.id, status, 0 if status == "succeeded" else 1, 1.0)
    return run.id


def test_runs_record_host_and_user_and_history_filters_by_them(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    a1 = _run_as(any_store, monkeypatch, "laptop-ana", "ana", "succeeded")
    b1 = _run_as(any_store, monkeypatch, "ci-box", "bob", "failed")
    a2 = _run_as(any_store, monkeypatch, "ci-box", "ana", "succeeded")
    run = any_store.require_run(a1)
    assert (run.host, run.user) == ("laptop-ana", "ana")
    assert run.to_json()["host"] == "laptop-ana" and run.to_json()["user"] == "ana"

    def ids(**kw: Any) -> list[int]:
        return [r.id for r in any_store.list_runs(**kw)[0]]

    assert ids(host="ci-box") == [a2, b1]
    assert ids(user="ana") == [a2, a1]
    assert ids(host="ci-box", user="ana") == [a2]
    assert ids(host="ci-box", statuses=["failed"]) == [b1]
    assert ids(host="nowhere") == []
    assert any_store.run_origins() == (["ci-box", "laptop-ana"], ["ana", "bob"])
    # What the filtered runs spent is summed over the same filter.
    assert any_store.usage_total(RunFilter(host="laptop-ana")).runs == 0


def test_this_origin_reads_the_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATTUNE_HOST", raising=False)
    monkeypatch.delenv("ATTUNE_USER", raising=False)
    found = this_origin()
    assert found.host and found.user
    monkeypatch.setenv("ATTUNE_HOST", "  build-7 ")
    monkeypatch.setenv("ATTUNE_USER", "ci")
    assert this_origin().member == "ci@build-7"


def test_a_run_live_on_another_host_is_cancelled_only_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from attune.ops.config import build_config

    store = Store(tmp_path / "ops.db")
    try:
        monkeypatch.setenv("ATTUNE_HOST", "ci-box")
        monkeypatch.setenv("ATTUNE_USER", "bob")
        elsewhere = store.create_run("tests", None, ["pytest"])
        monkeypatch.setenv("ATTUNE_HOST", "laptop-ana")
        config = build_config(tmp_path, attune_home=tmp_path / "home")
        runner = Runner(config, store)
        with pytest.raises(RunElsewhere) as caught:
            runner.cancel(elsewhere.id)
        assert "host ci-box" in caught.value.message and "bob" in caught.value.message
        assert caught.value.to_payload()["error"]["host"] == "ci-box"
        assert store.require_run(elsewhere.id).status == "running"  # nothing was touched
    finally:
        store.close()


def test_the_dashboard_shows_who_and_where_and_refuses_a_cancel_from_elsewhere(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    write_workflows(project, python_workflow("hello", "print('hi')"))
    srv = server_factory(project, env={"ATTUNE_HOST": "laptop-ana", "ATTUNE_USER": "ana"})
    mine = wait_finished(srv, start_run(srv, "hello")["id"])
    assert (mine["host"], mine["user"]) == ("laptop-ana", "ana")
    # Another machine's run in the same store (what a teammate's dashboard writes).
    other_env = {"ATTUNE_HOST": "ci-box", "ATTUNE_USER": "bob", "ATTUNE_HOME": str(srv.home)}
    code = (
        "from attune.ops.config import build_config; from attune.ops.store.open import open_store;"
        "c = build_config(); s = open_store(c.db_path, c.database_url, 0);"
        "print(s.create_run('tests', None, ['pytest']).id); s.close()"
    )
    made = subprocess.run(
        [sys.executable, "-c", code],
        env={**srv.env, **other_env},
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = int(made.stdout.strip())

    listed = httpx.get(f"{srv.url}/api/runs", params={"host": "ci-box"}, timeout=10).json()
    assert [r["id"] for r in listed["runs"]] == [theirs]
    assert [
        r["id"] for r in httpx.get(f"{srv.url}/api/runs?user=ana", timeout=10).json()["runs"]
    ] == [mine["id"]]
    page = httpx.get(f"{srv.url}/runs", timeout=10).text
    assert (
        'name="host"' in page and "ci-box" in page and "bob" in page
    )  # filters and the Who column
    assert "Started by" in httpx.get(f"{srv.url}/runs/{theirs}", timeout=10).text

    r = httpx.post(
        f"{srv.url}/api/runs/{theirs}/cancel", headers={"X-Attune-Token": srv.token}, timeout=10
    )
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "run_elsewhere" and error["host"] == "ci-box"
    assert "ci-box" in error["message"]

    # The terminal says the same, with the exit code of a conflict.
    cancel = subprocess.run(
        [sys.executable, "-m", "attune", "runs", "cancel", str(theirs)],
        env={**srv.env, "ATTUNE_HOST": "laptop-ana"},
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert cancel.returncode == 5, cancel.stderr
    assert "host ci-box" in cancel.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "attune", "runs", "list", "--host", "ci-box", "--json"],
        env=srv.env,
        capture_output=True,
        text=True,
        cwd=project,
        check=True,
    )
    assert [r["id"] for r in json.loads(listing.stdout)["runs"]] == [theirs]
    table = subprocess.run(
        [sys.executable, "-m", "attune", "runs", "list"],
        env=srv.env,
        capture_output=True,
        text=True,
        cwd=project,
        check=True,
    ).stdout
    assert "WHO" in table and "bob@ci-box" in table and "ana@laptop-ana" in table


def test_a_workflow_never_inherits_the_team_database_url(
    server_factory: Callable[..., ServerProcess], tmp_path: Path, postgres_url: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    names = ("ATTUNE_DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE")
    code = f"import os; print([os.environ.get(n) for n in {names!r}])"
    write_workflows(project, python_workflow("env", code))
    secrets = {"PGPASSWORD": "pg-pass-5150", "PGPASSFILE": "/x/pgpass", "PGSERVICEFILE": "/x/svc"}
    srv = server_factory(project, env={"ATTUNE_DATABASE_URL": postgres_url, **secrets})
    run = wait_finished(srv, start_run(srv, "env")["id"])
    assert run["status"] == "succeeded"
    log = httpx.get(f"{srv.url}/api/runs/{run['id']}/log", timeout=10).text
    assert "[None, None, None, None]" in log


def test_a_database_migrated_by_a_newer_attune_is_refused(postgres_url: str) -> None:
    from attune.ops.errors import StoreUnavailable
    from attune.ops.store.postgres import PostgresStore

    PostgresStore(postgres_url).close()
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'later')")
    with pytest.raises(StoreUnavailable, match="newer attune ops"):
        PostgresStore(postgres_url)


def test_a_host_name_alone_never_makes_another_machines_run_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from attune.ops.runs.recovery import recover_runs
    from attune.ops.store.run_origin import runs_here, this_machine

    monkeypatch.setenv("ATTUNE_HOST", "MacBook-Pro.local")  # two laptops, one name
    store = Store(tmp_path / "ops.db")
    try:
        theirs = store.create_run("tests", None, ["pytest"])
        mine = store.create_run("tests", None, ["pytest"])
        with store.write() as conn:  # written by the other laptop: its id, a pid unknown here
            conn.execute(
                "UPDATE runs SET machine = 'another-laptop', server_pid = 999999 WHERE id = ?",
                (theirs.id,),
            )
            conn.execute("UPDATE runs SET server_pid = 999999 WHERE id = ?", (mine.id,))
        assert store.require_run(mine.id).machine == this_machine()
        assert not runs_here(store.require_run(theirs.id)) and runs_here(store.require_run(mine.id))
        recover_runs(store)
        assert store.require_run(theirs.id).status == "running"  # never judged here
        assert store.require_run(mine.id).status == "interrupted"  # its server is gone
        assert "machine" not in store.require_run(theirs.id).to_json()
    finally:
        store.close()

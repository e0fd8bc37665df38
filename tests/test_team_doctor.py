"""``attune ops doctor`` on a team's PostgreSQL store: each finding with its fix line, read-only,
and never the URL's password (a real throwaway cluster, ``tests/postgres_cluster.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from attune.ops.cli.ops import cmd_ops
from attune.ops.doctor import CheckStatus, run_checks
from attune.ops.store import pg_probe
from attune.ops.store.pg_probe import probe_pg, schema_finding, version_finding
from attune.ops.store.pg_schema import PG_MIGRATIONS
from attune.ops.store.postgres import MIN_SERVER_VERSION, PostgresStore
from tests.postgres_cluster import PostgresCluster, free_port

CURRENT = len(PG_MIGRATIONS)


def doctor(
    project: Path, url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, dict[str, Any]], str]:
    """``attune ops doctor --json`` with ``$ATTUNE_DATABASE_URL``; the checks by name, and all
    it printed (stdout and stderr)."""
    monkeypatch.setenv("ATTUNE_DATABASE_URL", url)
    code = cmd_ops(["doctor", "--json", "--project", str(project), "--port", "0"])
    out = capsys.readouterr()
    body = json.loads(out.out)
    assert body["ok"] is (code == 0)
    return code, {c["name"]: c for c in body["checks"]}, out.out + out.err


def migrated(url: str) -> str:
    PostgresStore(url).close()
    return url


def schema_of(url: str) -> Any:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]  # type: ignore[index]


def test_a_migrated_database_passes_with_version_schema_and_runs(
    project: Path,
    postgres_url: str,
    postgres_cluster: PostgresCluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, checks, printed = doctor(project, migrated(postgres_url), monkeypatch, capsys)
    store = checks["store"]
    assert store["status"] == "pass", store
    assert store["summary"].startswith(
        f"postgresql://attune:***@127.0.0.1:{postgres_cluster.port}/"
    )
    assert "(PostgreSQL 1" in store["summary"]
    assert store["summary"].endswith(f", schema v{CURRENT}, 0 runs)")
    # opened on the team store (its usage tables), not skipped as "not ready"
    assert not checks["claude code usage"]["summary"].startswith("not read")
    assert postgres_cluster.password not in printed
    assert code == 0


def test_an_empty_database_will_be_migrated_and_the_doctor_leaves_it_alone(
    project: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, checks, _ = doctor(project, postgres_url, monkeypatch, capsys)
    assert checks["store"]["status"] == "warn"
    assert checks["store"]["summary"].endswith(
        f"no attune schema yet: it will be migrated to v{CURRENT} at start"
    )
    assert checks["store"]["fix"] == "start attune ops (the first dashboard migrates it)"
    assert checks["claude code usage"]["summary"].startswith("not read: the team database")
    assert schema_of(postgres_url) is None  # read-only: nothing was created


def test_a_newer_schema_says_a_newer_attune_migrated_it(
    project: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with psycopg.connect(migrated(postgres_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, 'later')",
            (CURRENT + 1,),
        )
    code, checks, _ = doctor(project, postgres_url, monkeypatch, capsys)
    assert code == 1
    assert checks["store"]["status"] == "fail"
    assert "this database was migrated by a newer attune ops" in checks["store"]["summary"]
    assert checks["store"]["fix"] == (
        "upgrade attune ops on this machine: pip install -U 'attune-ops[team]'"
    )


def test_a_closed_port_is_refused_with_a_fix_naming_host_and_port(
    project: Path,
    postgres_cluster: PostgresCluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    url = postgres_cluster.url("postgres").replace(f":{postgres_cluster.port}/", f":{port}/")
    code, checks, printed = doctor(project, url, monkeypatch, capsys)
    assert code == 1
    store = checks["store"]
    assert store["status"] == "fail"
    assert "cannot be reached" in store["summary"] and "Connection refused" in store["summary"]
    assert store["fix"] == (
        f"is the PostgreSQL server running and accepting TCP connections on 127.0.0.1:{port}? "
        "check the host and port in the URL"
    )
    assert checks["claude code usage"]["status"] == "warn"
    assert postgres_cluster.password not in printed


def test_a_wrong_password_says_check_user_and_password(
    project: Path,
    postgres_url: str,
    postgres_cluster: PostgresCluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "Wr0ngHorseBatteryStaple"
    url = postgres_url.replace(postgres_cluster.password, wrong)
    code, checks, printed = doctor(project, url, monkeypatch, capsys)
    assert code == 1
    store = checks["store"]
    assert "password authentication failed" in store["summary"]
    assert store["fix"].startswith("check the user and password in the URL")
    assert "ALTER ROLE attune PASSWORD" in store["fix"]
    assert wrong not in printed and postgres_cluster.password not in printed


def test_a_missing_database_says_createdb(
    project: Path,
    postgres_cluster: PostgresCluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, checks, printed = doctor(
        project, postgres_cluster.url("no_such_team_db"), monkeypatch, capsys
    )
    assert code == 1
    assert 'database "no_such_team_db" does not exist' in checks["store"]["summary"]
    assert checks["store"]["fix"] == (
        "create it: createdb no_such_team_db (or CREATE DATABASE no_such_team_db; as a superuser)"
    )
    assert postgres_cluster.password not in printed


def test_a_missing_driver_says_install_the_team_extra(
    project: Path,
    postgres_url: str,
    postgres_cluster: PostgresCluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    migrated(postgres_url)
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "psycopg", None)  # `import psycopg` raises ImportError
        code, checks, printed = doctor(project, postgres_url, monkeypatch, capsys)
    assert code == 1
    store = checks["store"]
    assert store["status"] == "fail"
    assert store["summary"].endswith("the PostgreSQL driver is not installed (psycopg)")
    assert store["fix"] == "pip install 'attune-ops[team]' (psycopg and psycopg-pool)"
    assert postgres_cluster.password not in printed


def test_a_user_that_may_not_create_pg_trgm_is_told_to_ask_a_superuser(
    postgres_url: str, postgres_cluster: PostgresCluster
) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS doctor_plain")
        conn.execute("CREATE ROLE doctor_plain LOGIN PASSWORD 'plain-Pw-123'")
    url = postgres_url.replace(f"attune:{postgres_cluster.password}", "doctor_plain:plain-Pw-123")
    try:
        found = probe_pg(url)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("REASSIGN OWNED BY doctor_plain TO attune")
            conn.execute("DROP OWNED BY doctor_plain")
            conn.execute("DROP ROLE doctor_plain")
    assert found.status == "fail"
    assert "pg_trgm" in found.summary and "may not create it" in found.summary
    assert found.fix == "as a superuser in this database: CREATE EXTENSION pg_trgm;"
    assert "plain-Pw-123" not in found.summary


def test_the_text_report_prints_the_fix_line(
    project: Path,
    postgres_cluster: PostgresCluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ATTUNE_DATABASE_URL", postgres_cluster.url("no_such_text_db"))
    code = cmd_ops(["doctor", "--project", str(project), "--port", "0"])
    out = capsys.readouterr()
    assert code == 1
    assert "FAIL  store            postgresql://attune:***@127.0.0.1:" in out.out
    assert "fix: create it: createdb no_such_text_db" in out.out
    assert postgres_cluster.password not in out.out + out.err


def test_run_checks_on_a_team_store_never_opens_the_sqlite_file(
    make_config: Any, postgres_url: str
) -> None:
    config = make_config(database_url=migrated(postgres_url))
    checks = {c.name: c for c in run_checks(config, refresh_cost=False)}
    assert checks["store"].status is CheckStatus.PASS
    assert not config.db_path.exists()


# -- the version checks, without a server of each version -------------------------------------


def test_a_server_older_than_13_is_too_old() -> None:
    found = version_finding(120005)
    assert found is not None and found.status == "fail"
    assert found.summary == "the server runs PostgreSQL 12.5; attune ops needs 13 or newer"
    assert found.fix is not None and found.fix.startswith("upgrade the PostgreSQL server to 13")
    old = version_finding(90624)
    assert old is not None and "PostgreSQL 9.6.24" in old.summary
    assert version_finding(130000) is None
    assert version_finding(170002) is None


def test_the_doctor_and_the_store_agree_on_the_oldest_server() -> None:
    assert pg_probe.MIN_SERVER_VERSION == MIN_SERVER_VERSION


def test_schema_versions_older_equal_and_newer() -> None:
    assert schema_finding(CURRENT) is None
    older = schema_finding(CURRENT - 1)
    assert older is not None and older.status == "warn"
    assert older.summary == f"schema v{CURRENT - 1}: it will be migrated to v{CURRENT} at start"
    newer = schema_finding(CURRENT + 3)
    assert newer is not None and newer.status == "fail"

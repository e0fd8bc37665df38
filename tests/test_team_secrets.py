"""The team database's password never shows: not in the banner, a log line, the doctor, a page,
an API answer, an SSE frame, an error, a server file or anything left in the home folder.

A role with a planted password (one that needs percent-encoding, so both of its spellings are
looked for) owns a database on the test cluster; a real ``attune ops`` serves it, runs a
workflow, then loses the database mid-way and is asked again; a second one starts with a wrong
password; the CLI commands meet the same failures.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.conftest import ServerProcess
from tests.helpers import start_run, wait_finished
from tests.postgres_cluster import PostgresCluster

PLANTED = f"Planted@Team/Secret-{uuid.uuid4().hex[:10]}"
ENCODED = PLANTED.replace("@", "%40").replace("/", "%2F")
WRONG = f"Wrong@Guess/Secret-{uuid.uuid4().hex[:10]}"
PAGES = ("/", "/runs", "/health", "/usage", "/specs", "/no/such/page")
APIS = ("/healthz", "/api/health", "/api/runs", "/api/runs/1", "/api/runs/1/log", "/api/usage")


def leaks(text: str) -> list[str]:
    """Which spellings of the planted (or wrong) passwords ``text`` holds."""
    spellings = (PLANTED, ENCODED, WRONG, WRONG.replace("@", "%40").replace("/", "%2F"))
    return [s for s in spellings if s in text]


@pytest.fixture
def team_url(postgres_url: str, postgres_cluster: PostgresCluster) -> Iterator[str]:
    """``postgres_url``'s database owned by a role whose password is :data:`PLANTED`."""
    role = f"team_{uuid.uuid4().hex[:8]}"
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(PLANTED)
            )
        )
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    yield f"postgresql://{role}:{ENCODED}@127.0.0.1:{postgres_cluster.port}/{name}"
    postgres_cluster.start()  # a no-op unless the test left it stopped
    with contextlib.suppress(psycopg.Error), psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO attune").format(sql.Identifier(name)))
        conn.execute(sql.SQL("REASSIGN OWNED BY {} TO attune").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def attune(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attune", *args],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, **env},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def everything_under(folder: Path) -> str:
    """Every file's bytes under ``folder`` (server files, caches, logs), as one text."""
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            parts.append(f"--- {path}\n" + path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def answers(srv: ServerProcess) -> dict[str, httpx.Response]:
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        return {path: client.get(path) for path in (*PAGES, *APIS)}


def test_the_password_never_shows_anywhere(
    team_url: str,
    postgres_cluster: PostgresCluster,
    server_factory: Callable[..., ServerProcess],
    project: Path,
    attune_home: Path,
    tmp_path: Path,
) -> None:
    (project / "attune.toml").write_text(
        f'[workflows.hello]\ncommand = [{json.dumps(sys.executable)}, "-c", "print(42)"]\n'
    )
    env = {"ATTUNE_DATABASE_URL": team_url, "ATTUNE_HOME": str(attune_home)}
    seen: list[str] = []

    srv = server_factory(project, env=env)
    assert "  store    postgresql://team_" in srv.output()
    assert ":***@127.0.0.1:" in srv.output()
    run = start_run(srv, "hello")
    wait_finished(srv, run["id"])
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        frames = client.get(f"/api/runs/{run['id']}/events").text
    assert "data:" in frames
    seen.append(frames)
    healthy = answers(srv)
    store = healthy["/api/health"].json()["store"]
    assert store["backend"] == "postgresql"
    assert store["where"].startswith("postgresql://team_") and ":***@127.0.0.1:" in store["where"]
    assert store["status"] == "pass"
    seen.extend(r.text for r in healthy.values())
    servers = attune_home / "ops" / "servers"
    seen.append(everything_under(attune_home / "ops"))
    assert (servers / f"{srv.proc.pid}.json").is_file()

    # The database goes away under a serving dashboard: every answer is masked.
    postgres_cluster.stop()
    gone = answers(srv)
    assert gone["/api/runs"].status_code == 503
    assert gone["/api/runs"].json()["error"]["code"] == "store_unavailable"
    assert ":***@" in gone["/api/runs"].json()["error"]["message"]
    health = gone["/api/health"].json()
    assert health["store"]["status"] == "fail"
    store_check = next(c for c in health["checks"] if c["name"] == "store")
    assert "is the PostgreSQL server running" in store_check["fix"]
    seen.extend(r.text for r in gone.values())
    for args in (("runs", "list"), ("runs", "show", "1"), ("usage",), ("ops", "doctor", "--json")):
        done = attune(*args, env=env, cwd=project)
        assert done.returncode != 0, args
        seen.append(done.stdout + done.stderr)
    doctor_text = attune("ops", "doctor", "--project", str(project), env=env, cwd=project)
    assert "fix: is the PostgreSQL server running" in doctor_text.stdout
    seen.append(doctor_text.stdout + doctor_text.stderr)

    # Back again, then a second dashboard with a wrong password cannot start.
    postgres_cluster.start()
    wrong = team_url.replace(ENCODED, WRONG.replace("@", "%40").replace("/", "%2F"))
    bad = server_factory(project, env={**env, "ATTUNE_DATABASE_URL": wrong}, wait=False)
    assert bad.proc.wait(timeout=60) != 0
    assert "password authentication failed" in bad.output()
    for args in (("runs", "list"), ("ops", "doctor")):
        done = attune(*args, env={**env, "ATTUNE_DATABASE_URL": wrong}, cwd=project)
        assert done.returncode != 0
        seen.append(done.stdout + done.stderr)
    also_flag = attune("ops", "doctor", "--database-url", wrong, env=env, cwd=project)
    assert "ALTER ROLE" in also_flag.stdout
    seen.append(also_flag.stdout + also_flag.stderr)

    srv.kill()
    seen.append(srv.output())
    seen.append(bad.output())
    seen.append(everything_under(tmp_path))  # the project, the config folder, the logs
    found = [(i, leaks(text)) for i, text in enumerate(seen) if leaks(text)]
    assert found == [], [seen[i][:2000] for i, _ in found]


def test_pg_errors_and_urls_are_scrubbed_in_every_spelling() -> None:
    from attune.ops.store.pg_url import describe_pg_error, masked_url, scrub_urls

    url = f"postgresql://bob:{ENCODED}@db.example:5432/team?sslmode=require"
    error = RuntimeError(f"could not use {url} (password {PLANTED!r} rejected, raw {ENCODED})")
    shown = describe_pg_error(error, url)
    assert leaks(shown) == [] and "***" in shown
    assert masked_url(url) == "postgresql://bob:***@db.example:5432/team?sslmode=require"
    assert scrub_urls(f"cmd --database-url {url}") == (
        "cmd --database-url postgresql://bob:***@db.example:5432/team?sslmode=require"
    )
    query = f"postgresql://bob@db.example/team?password={ENCODED}&application_name=x"
    assert leaks(describe_pg_error(RuntimeError(f"bad {PLANTED}"), query)) == []
    assert leaks(masked_url(query)) == []


def test_logged_records_and_tracebacks_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from attune.ops.cli import masking, ops

    url = f"postgresql://bob:{ENCODED}@127.0.0.1:1/team"
    ops._setup_logging(url)
    log = logging.getLogger("attune.test.secrets")
    try:
        raise ValueError(f"connecting to {url} with {PLANTED}")
    except ValueError:
        log.exception("store failed for %s", url)
    log.warning("pool: %s", PLANTED)
    err = caplog.text
    assert "store failed for postgresql://bob:***@127.0.0.1:1/team" in err
    assert "ValueError: connecting to postgresql://bob:***@" in err
    assert leaks(err) == []
    masking._urls.remove(url)


def test_every_command_masks_the_password_in_its_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from attune.ops.cli import masking
    from attune.ops.cli.main import run_command
    from attune.ops.errors import StoreUnavailable

    url = f"postgresql://bob:{ENCODED}@127.0.0.1:1/team"
    monkeypatch.setenv("ATTUNE_DATABASE_URL", url)

    def fails() -> int:
        raise StoreUnavailable(f"the store {url} said no to {PLANTED}")

    try:
        assert run_command("runs", fails) == StoreUnavailable.exit_code
    finally:
        masking._urls.remove(url)
    err = capsys.readouterr().err
    assert err.startswith("attune runs: the store postgresql://bob:***@127.0.0.1:1/team")
    assert leaks(err) == []

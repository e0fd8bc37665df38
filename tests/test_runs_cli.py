"""``attune runs …`` against a real server's store: list, show, log (--follow), cancel, export."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

PY = json.dumps(sys.executable)


def _toml(name: str, code: str) -> str:
    return f'[workflows.{name}]\ncommand = [{PY}, "-c", {json.dumps(code)}]\n\n'


@pytest.fixture
def cli_project(project: Path) -> Path:
    (project / "attune.toml").write_text(
        _toml("hello", "print('\\x1b[32mhello\\x1b[0m world')\nprint('second line')")
        + _toml("boom", "import sys\nprint('ERROR: disk quota exceeded')\nsys.exit(4)")
        + _toml(
            "drip",
            "import time\nfor i in range(1, 21):\n    print(f'drip {i}', flush=True)\n"
            "    time.sleep(0.05)",
        )
        + _toml("hold", "import time\nprint('holding', flush=True)\ntime.sleep(60)")
    )
    return project


def attune(
    project: Path, home: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ATTUNE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "attune", "runs", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(srv: Any, workflow: str) -> int:
    r = httpx.post(
        f"{srv.url}/api/runs", json={"workflow": workflow}, headers={"X-Attune-Token": srv.token}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def wait_finished(srv: Any, run_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = httpx.get(f"{srv.url}/api/runs/{run_id}").json()
        if run["status"] != "running":
            return dict(run)
        time.sleep(0.05)
    raise AssertionError("run did not finish")


@pytest.fixture
def served(server_factory: Callable[..., Any], cli_project: Path) -> Any:
    return server_factory(cli_project)


def test_list_show_log_export(served: Any, cli_project: Path) -> None:
    hello = start(served, "hello")
    wait_finished(served, hello)
    boom = start(served, "boom")
    wait_finished(served, boom)
    home = served.home

    listed = attune(cli_project, home, "list")
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()
    assert rows[0].split()[:3] == ["ID", "STATUS", "WORKFLOW"]
    assert rows[1].split()[:3] == [str(boom), "failed", "boom"]
    assert rows[2].split()[:3] == [str(hello), "succeeded", "hello"]

    data = json.loads(attune(cli_project, home, "list", "--status", "failed", "--json").stdout)
    assert [r["id"] for r in data["runs"]] == [boom] and data["next"] is None
    data = json.loads(attune(cli_project, home, "list", "--workflow", "hello", "--json").stdout)
    assert [r["id"] for r in data["runs"]] == [hello]
    data = json.loads(attune(cli_project, home, "list", "-q", "quota exceeded", "--json").stdout)
    assert [r["id"] for r in data["runs"]] == [boom]
    paged = attune(cli_project, home, "list", "--limit", "1")
    assert f"attune runs list --before {boom}" in paged.stdout

    shown = attune(cli_project, home, "show", str(boom))
    assert "status  failed" in shown.stdout and "exit code  4" in shown.stdout
    assert (
        json.loads(attune(cli_project, home, "show", str(boom), "--json").stdout)["exit_code"] == 4
    )

    raw = attune(cli_project, home, "log", str(hello))
    assert raw.stdout == "\x1b[32mhello\x1b[0m world\nsecond line\n"
    plain = attune(cli_project, home, "log", str(hello), "--plain")
    assert plain.stdout == "hello world\nsecond line\n"

    exported = json.loads(attune(cli_project, home, "export", str(hello), "--json").stdout)
    assert exported["run"]["id"] == hello and exported["run"]["status"] == "succeeded"
    assert exported["lines"] == ["\x1b[32mhello\x1b[0m world", "second line"]


def test_follow_a_live_run(served: Any, cli_project: Path) -> None:
    run_id = start(served, "drip")
    followed = attune(cli_project, served.home, "log", str(run_id), "--follow")
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.splitlines() == [f"drip {i}" for i in range(1, 21)]
    assert f"run {run_id} succeeded (exit 0)" in followed.stderr


def test_follow_ends_with_the_run_exit_status(served: Any, cli_project: Path) -> None:
    run_id = start(served, "boom")
    followed = attune(cli_project, served.home, "log", str(run_id), "-f")
    assert followed.returncode == 4
    assert "failed (exit 4)" in followed.stderr


def test_cancel_through_the_server(served: Any, cli_project: Path) -> None:
    run_id = start(served, "hold")
    info = served.home / "ops" / "server.json"
    assert stat.S_IMODE(info.stat().st_mode) == 0o600
    cancelled = attune(cli_project, served.home, "cancel", str(run_id))
    assert cancelled.returncode == 0, cancelled.stderr
    assert wait_finished(served, run_id)["status"] == "cancelled"
    again = attune(cli_project, served.home, "cancel", str(run_id))
    assert again.returncode == 5 and "already finished" in again.stderr
    served.kill(signal.SIGTERM)  # a clean stop removes the server file
    assert not info.exists()


def test_cancel_without_a_server(cli_project: Path, attune_home: Path) -> None:
    result = attune(cli_project, attune_home, "cancel", "1")
    assert result.returncode == 1
    assert result.stderr.startswith("attune runs: no attune ops server is running")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_run_and_status(cli_project: Path, attune_home: Path) -> None:
    missing = attune(cli_project, attune_home, "show", "404")
    assert missing.returncode == 3 and missing.stderr == "attune runs: no run with id 404\n"
    bad = attune(cli_project, attune_home, "list", "--status", "weird")
    assert bad.returncode == 1 and "unknown status 'weird'" in bad.stderr
    assert attune(cli_project, attune_home, "list").stdout == "no runs\n"

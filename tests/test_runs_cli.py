"""``attune runs …`` against a real server's store: list, show, log (--follow), cancel, export."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import python_workflow, start_run, wait_finished, write_workflows


@pytest.fixture
def cli_project(project: Path) -> Path:
    write_workflows(
        project,
        python_workflow("hello", "print('\\x1b[32mhello\\x1b[0m world')\nprint('second line')"),
        python_workflow("boom", "import sys\nprint('ERROR: disk quota exceeded')\nsys.exit(4)"),
        python_workflow(
            "drip",
            "import time\nfor i in range(1, 21):\n    print(f'drip {i}', flush=True)\n"
            "    time.sleep(0.05)",
        ),
        python_workflow("hold", "import time\nprint('holding', flush=True)\ntime.sleep(60)"),
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


@pytest.fixture
def served(server_factory: Callable[..., Any], cli_project: Path) -> Any:
    return server_factory(cli_project)


def test_list_show_log_export(served: Any, cli_project: Path) -> None:
    hello = start_run(served, "hello")["id"]
    wait_finished(served, hello)
    boom = start_run(served, "boom")["id"]
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

    raw = attune(cli_project, home, "log", str(hello), "--color", "always")
    assert raw.stdout == "\x1b[32mhello\x1b[0m world\nsecond line\n"
    plain = attune(cli_project, home, "log", str(hello), "--plain")
    assert plain.stdout == "hello world\nsecond line\n"

    exported = json.loads(attune(cli_project, home, "export", str(hello), "--json").stdout)
    assert exported["run"]["id"] == hello and exported["run"]["status"] == "succeeded"
    assert exported["lines"] == ["\x1b[32mhello\x1b[0m world", "second line"]


def test_follow_a_live_run(served: Any, cli_project: Path) -> None:
    run_id = start_run(served, "drip")["id"]
    followed = attune(cli_project, served.home, "log", str(run_id), "--follow")
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.splitlines() == [f"drip {i}" for i in range(1, 21)]
    assert f"run {run_id} succeeded (exit 0)" in followed.stderr


def test_follow_ends_with_the_run_exit_status(served: Any, cli_project: Path) -> None:
    run_id = start_run(served, "boom")["id"]
    followed = attune(cli_project, served.home, "log", str(run_id), "-f")
    assert followed.returncode == 4
    assert "failed (exit 4)" in followed.stderr


def test_cancel_through_the_server(served: Any, cli_project: Path) -> None:
    run_id = start_run(served, "hold")["id"]
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

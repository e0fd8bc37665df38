"""``attune ops doctor`` finds the dashboards of this home by their server files and asks each
one's ``/healthz``, apart from whether the configured host:port can be bound."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, free_port
from tests.test_doctor import doctor

TOKEN = "token-that-must-not-be-printed"


def register(home: Path, pid: int, port: int, *, newest: bool = False) -> None:
    """Write the server file a dashboard ``pid`` on ``port`` would write."""
    data = json.dumps({"pid": pid, "host": "127.0.0.1", "port": port, "token": TOKEN})
    servers = home / "ops" / "servers"
    servers.mkdir(parents=True, exist_ok=True)
    (servers / f"{pid}.json").write_text(data)
    if newest:
        (home / "ops" / "server.json").write_text(data)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that serves nothing (a hung dashboard, as far as its file tells)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return int(done.stdout)


def test_a_dashboard_serving_elsewhere_is_found_and_asked(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    srv = server_factory(project)
    configured = free_port()
    code, checks = doctor("--project", str(project), "--port", str(configured))
    assert code == 0
    dash = checks["dashboard"]
    assert dash["status"] == "pass"
    assert dash["summary"].startswith(
        f"a dashboard is running at {srv.url} (pid {srv.proc.pid}), answering /healthz"
    )
    assert dash["kind"] is None
    # The configured address is still checked on its own: free, though a dashboard runs.
    assert checks["listen"] == {
        "name": "listen",
        "status": "pass",
        "summary": f"127.0.0.1:{configured} can be bound",
        "fix": None,
        "kind": None,
    }
    assert srv.token not in json.dumps(checks)


def test_the_dashboard_on_the_configured_port(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    srv = server_factory(project)
    code, checks = doctor("--project", str(project), "--port", str(srv.port))
    assert checks["dashboard"]["status"] == "pass"
    assert checks["listen"]["status"] == "warn"
    assert f"in use by a running attune ops (pid {srv.proc.pid})" in checks["listen"]["summary"]
    assert code == 0


def test_several_dashboards_a_silent_one_and_a_stale_file(
    server_factory: Callable[..., ServerProcess],
    project: Path,
    attune_home: Path,
    sleeper: subprocess.Popen[bytes],
) -> None:
    srv = server_factory(project)
    silent_port = free_port()  # nothing listens there
    register(attune_home, sleeper.pid, silent_port)
    gone = dead_pid()
    register(attune_home, gone, free_port(), newest=True)  # the newest file names a dead pid
    code, checks = doctor("--project", str(project), "--port", str(free_port()))
    dash = checks["dashboard"]
    assert dash["status"] == "warn"
    summary = dash["summary"]
    assert f"a dashboard is running at {srv.url} (pid {srv.proc.pid})" in summary
    assert (
        f"a dashboard is registered at http://127.0.0.1:{silent_port} (pid {sleeper.pid}) "
        "but does not answer /healthz" in summary
    )
    assert f"pid {gone}" not in summary  # a stale file is no dashboard
    assert dash["fix"] == (
        f"if pid {sleeper.pid} is a hung attune ops, stop it (kill {sleeper.pid}) and start "
        "attune ops again"
    )
    assert code == 0  # a warning: the other dashboard serves
    assert TOKEN not in json.dumps(checks)


def test_no_dashboard_running(project: Path, attune_home: Path) -> None:
    register(attune_home, dead_pid(), free_port(), newest=True)
    _, checks = doctor("--project", str(project), "--port", "0")
    assert checks["dashboard"]["status"] == "pass"
    assert checks["dashboard"]["summary"] == f"none running for {attune_home}"

"""``attune runs start`` / ``attune runs cancel`` reach a dashboard bound to a wildcard address:
they send the ``Host`` its allowlist accepts (``0.0.0.0:PORT``), not the loopback they dial."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.server_file import ServerInfo
from tests.helpers import python_workflow, write_workflows


@pytest.mark.parametrize(
    ("host", "url", "header"),
    [
        ("0.0.0.0", "http://127.0.0.1:8765", "0.0.0.0:8765"),
        ("::", "http://127.0.0.1:8765", "[::]:8765"),
        ("127.0.0.1", "http://127.0.0.1:8765", "127.0.0.1:8765"),
        ("::1", "http://[::1]:8765", "[::1]:8765"),
        ("192.0.2.7", "http://192.0.2.7:8765", "192.0.2.7:8765"),
    ],
)
def test_the_host_header_is_the_bound_address(host: str, url: str, header: str) -> None:
    info = ServerInfo(1, host, 8765, "t")
    assert info.url == url and info.host_header == header
    assert info.headers["Host"] == header and info.headers["X-Attune-Token"] == "t"


def _attune(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attune", "runs", *args],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_runs_start_and_cancel_reach_a_dashboard_on_0_0_0_0(
    server_factory: Callable[..., Any], project: Path
) -> None:
    write_workflows(
        project,
        python_workflow("quick", "print('through the wildcard')"),
        python_workflow("hold", "import time\nprint('holding', flush=True)\ntime.sleep(60)"),
    )
    srv = server_factory(
        project, "--host", "0.0.0.0", "--trusted-host", "attune.example", wait=False
    )
    host = {"Host": f"0.0.0.0:{srv.port}"}
    deadline = time.monotonic() + 30
    while True:
        assert srv.proc.poll() is None, srv.output()
        assert time.monotonic() < deadline, srv.output()
        try:
            r = httpx.get(f"{srv.url}/api/session", headers=host, timeout=1)
            if r.status_code == 200:
                token = r.json()["token"]
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    # What the CLI used to send: the loopback it dials, refused by this bind's allowlist.
    assert httpx.get(f"{srv.url}/healthz", timeout=5).status_code == 400

    started = _attune(project, srv.env, "start", "quick", "--follow")
    assert started.returncode == 0, started.stderr
    assert "started on the dashboard" in started.stderr
    assert started.stdout.strip() == "through the wildcard"

    r = httpx.post(
        f"{srv.url}/api/runs",
        json={"workflow": "hold"},
        headers={**host, "X-Attune-Token": token},
        timeout=15,
    )
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    cancelled = _attune(project, srv.env, "cancel", str(run_id))
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith(f"run {run_id} ")
    deadline = time.monotonic() + 30
    while (
        status := httpx.get(f"{srv.url}/api/runs/{run_id}", headers=host, timeout=5).json()[
            "status"
        ]
    ) == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status == "cancelled"
    assert os.path.exists(srv.home / "ops" / "servers" / f"{srv.proc.pid}.json")

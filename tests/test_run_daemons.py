"""A daemon that double-forks out of its run's process group (and session) still ends with the
run: every process the run started carries the run's tag, and the run's end sweeps for it."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

# Forks, starts a new session, forks again, closes the run's pipe, writes its pid, sleeps.
DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        fd = os.open(os.devnull, os.O_RDWR)
        for n in (0, 1, 2):
            os.dup2(fd, n)
        with open(sys.argv[1], "w") as out:
            out.write(str(os.getpid()))
        time.sleep(120)
        os._exit(0)
    os._exit(0)
os.wait()
while not os.path.exists(sys.argv[1]) or not open(sys.argv[1]).read():
    time.sleep(0.02)
print("daemon started", flush=True)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0) until its new parent reaps it
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="the sweep reads /proc (Linux)")
def test_a_double_forked_daemon_ends_with_its_run(
    server_factory: Callable[..., Any], project: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "daemon.pid"
    command = [sys.executable, "-c", DAEMON, str(pid_file)]
    (project / "attune.toml").write_text(f"[workflows.daemon]\ncommand = {json.dumps(command)}\n")
    srv = server_factory(project)
    r = httpx.post(
        f"{srv.url}/api/runs", json={"workflow": "daemon"}, headers={"X-Attune-Token": srv.token}
    )
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    deadline = time.monotonic() + 30
    while (run := httpx.get(f"{srv.url}/api/runs/{run_id}").json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    daemon = int(pid_file.read_text())
    try:
        assert run["status"] == "succeeded"
        deadline = time.monotonic() + 10
        while _alive(daemon) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(daemon)
        lines = httpx.get(f"{srv.url}/api/runs/{run_id}/log").text.splitlines()
        assert lines[0] == "daemon started"
        assert lines[-1] == (
            f"[attune] ended 1 process(es) the run left outside its group: {daemon}"
        )
    finally:
        if _alive(daemon):
            os.kill(daemon, signal.SIGKILL)

"""The admin key in the server's environment is not readable by any workflow.

A process's initial environment stays readable through ``/proc/<pid>/environ`` by every
process of the same user; ``attune ops`` given the key in its environment starts again without
it (same pid), the key handed over through an inherited pipe.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic

PEEK = (
    "import os\n"
    "data = open(f'/proc/{os.getppid()}/environ', 'rb').read()\n"
    "print('parent environ:', 'LEAKED' if KEY in data else 'clean', flush=True)\n"
    "own = open('/proc/self/environ', 'rb').read()\n"
    "print('own environ:', 'LEAKED' if KEY in own else 'clean')\n"
)


@pytest.fixture
def fake_anthropic(fake_anthropic: FakeAnthropic) -> FakeAnthropic:
    from datetime import UTC, datetime

    fake_anthropic.add(datetime.now(UTC).date(), "250", model="claude-sonnet-4-5")
    return fake_anthropic


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_no_workflow_reads_the_key_from_the_dashboards_environment(
    server_factory: Callable[..., Any], project: Path, fake_anthropic: FakeAnthropic
) -> None:
    code = f"KEY = {ADMIN_KEY.encode()!r}\n" + PEEK
    (project / "attune.toml").write_text(
        f'[workflows.peek]\ncommand = [{json.dumps(sys.executable)}, "-c", {json.dumps(code)}]\n'
    )
    srv = server_factory(project, env={"ANTHROPIC_ADMIN_API_KEY": ADMIN_KEY})
    environ = Path(f"/proc/{srv.proc.pid}/environ").read_bytes()
    assert ADMIN_KEY.encode() not in environ
    assert b"ANTHROPIC_ADMIN_API_KEY" not in environ
    # The key still works: it lives in the server's memory.
    cost = httpx.get(f"{srv.url}/api/cost", timeout=30).json()
    assert cost["error"] is None and cost["summary"]["thirty_day_usd"] == "2.5"
    assert fake_anthropic.report_requests()
    r = httpx.post(
        f"{srv.url}/api/runs", json={"workflow": "peek"}, headers={"X-Attune-Token": srv.token}
    )
    assert r.status_code == 201
    run_id = r.json()["id"]
    deadline = time.monotonic() + 30
    while httpx.get(f"{srv.url}/api/runs/{run_id}").json()["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    log = httpx.get(f"{srv.url}/api/runs/{run_id}/log").text
    assert log.splitlines() == ["parent environ: clean", "own environ: clean"]
    health = httpx.get(f"{srv.url}/api/health", timeout=30).json()
    key_check = next(c for c in health["checks"] if c["name"] == "admin key")
    assert "$ANTHROPIC_ADMIN_API_KEY" in key_check["summary"]
    assert ADMIN_KEY not in json.dumps(health)

"""The runner through the HTTP API: status codes, process groups, timeouts, odd output."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attune.ops.config import Config
from attune.ops.runs.output import LineSplitter
from tests.helpers import (
    astart_run,
    await_finished,
    pid_alive,
    python_workflow,
    workflow_toml,
    write_workflows,
)

SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep(60)"


@pytest.fixture
def workflows(project: Path) -> Path:
    (project / "src").mkdir()
    write_workflows(
        project,
        python_workflow(
            "hello",
            "import os, sys\nprint('hello', os.getcwd())\nprint('oops', file=sys.stderr)\n"
            "print('run', os.environ['ATTUNE_RUN_ID'])",
        ),
        python_workflow("fail", "import sys; sys.exit(3)"),
        python_workflow("sleep", SLEEPER),
        python_workflow("scoped", "import sys; print('scope', sys.argv[1:])", accepts_path=True),
        python_workflow("slow", "import time; time.sleep(30)", timeout_s=0.5),
        python_workflow(
            "family",
            "import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "print('grandchild', child.pid, flush=True)\ntime.sleep(60)",
        ),
        python_workflow(
            "weird",
            "import sys\nw = sys.stdout.buffer.write\nw(b'ok\\n')\nw(b'bad \\xff\\xfe utf8\\n')\n"
            "w(b'crlf\\r\\n')\nw(b'X' * 10_000_000 + b'\\n')\nw(b'no newline at end')",
        ),
        python_workflow(
            "recs",
            "import json\n"
            "rec = lambda d: print('ATTUNE_REC ' + json.dumps(d))\n"
            "print('before')\n"
            "rec({'kind': 'next-workflow', 'workflow': 'hello', 'path': None, 'title': 3})\n"
            "rec({'kind': 'next-workflow', 'workflow': 'nope'})\n"
            "rec({'kind': 'next-workflow', 'workflow': 'scoped', 'path': '../etc'})\n"
            "rec({'kind': 'open-url', 'url': 'javascript:alert(1)'})\n"
            "print('ATTUNE_REC {not json')\n"
            "for i in range(60): rec({'kind': 'open-url', 'url': f'https://example.com/{i}', "
            "'label': 'Report', 'reason': 'r' * 900})\n"
            "print('after')",
        ),
        python_workflow("ansi", "print('\\x1b[31mred\\x1b[0m plain')"),
        python_workflow(
            "stubborn",
            "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ignoring SIGTERM', flush=True)\ntime.sleep(60)",
        ),
        python_workflow(
            "daemon",
            "import subprocess, sys\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
            "start_new_session=True)\n"
            "print('daemon', child.pid, flush=True)",
        ),
        workflow_toml("missing", ["definitely-not-a-command-xyz"]),
    )
    return project


async def log(client: httpx.AsyncClient, run_id: int, **params: Any) -> str:
    r = await client.get(f"/api/runs/{run_id}/log", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return r.text


async def test_run_succeeds_with_merged_output(client: httpx.AsyncClient, workflows: Path) -> None:
    run = await astart_run(client, "hello")
    assert run["status"] == "running" and run["workflow"] == "hello" and run["path"] is None
    assert run["command"][0] == sys.executable and run["trigger"] == "web"
    done = await await_finished(client, run["id"])
    assert done["status"] == "succeeded" and done["exit_code"] == 0
    assert done["line_count"] == 3 and done["duration_s"] >= 0 and done["finished_at"]
    text = await log(client, run["id"])
    assert f"hello {workflows.resolve()}\n" in text and "oops\n" in text
    assert f"run {run['id']}\n" in text


async def test_failure_keeps_the_exit_code(client: httpx.AsyncClient, workflows: Path) -> None:
    done = await await_finished(client, (await astart_run(client, "fail"))["id"])
    assert (done["status"], done["exit_code"]) == ("failed", 3)


async def test_missing_command_fails_with_a_message(
    client: httpx.AsyncClient, workflows: Path
) -> None:
    run = await astart_run(client, "missing")
    assert run["status"] == "failed"
    assert "command not found" in await log(client, run["id"])
    await astart_run(client, "hello")  # the busy lock was released


async def test_path_is_passed_and_checked(client: httpx.AsyncClient, workflows: Path) -> None:
    done = await await_finished(client, (await astart_run(client, "scoped", "src"))["id"])
    assert "scope ['src']" in await log(client, done["id"])
    assert done["path"] == "src"
    builtin = await await_finished(client, (await astart_run(client, "todo-scan", "src/"))["id"])
    assert builtin["command"][-1] == "src" and builtin["status"] == "succeeded"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"workflow": "nope"}, 404, "unknown_workflow"),
        ({"workflow": "scoped", "path": "../x"}, 400, "invalid_path"),
        ({"workflow": "scoped", "path": "/etc"}, 400, "invalid_path"),
        ({"workflow": "scoped", "path": "missing/dir"}, 404, "not_found"),
        ({"workflow": "hello", "path": "src"}, 400, "path_not_accepted"),
        ({"workflow": 3}, 400, "invalid_body"),
        ({"path": "src"}, 400, "invalid_body"),
        ({"workflow": "hello", "extra": 1}, 400, "invalid_body"),
    ],
)
async def test_start_errors(
    client: httpx.AsyncClient, workflows: Path, body: dict[str, Any], status: int, code: str
) -> None:
    r = await client.post("/api/runs", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


async def test_read_only_refuses_runs(
    make_app: Callable[[Config], Any], make_config: Callable[..., Config], workflows: Path
) -> None:
    app = make_app(make_config(allow_run=False))
    transport = httpx.ASGITransport(app=app)
    headers = {"X-Attune-Token": app.state.services.token}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8765", headers=headers
    ) as c:
        r = await c.post("/api/runs", json={"workflow": "hello"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "runs_disabled"


async def test_missing_token_is_refused(client: httpx.AsyncClient, workflows: Path) -> None:
    r = await client.post("/api/runs", json={"workflow": "hello"}, headers={"X-Attune-Token": "x"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_token"


async def test_busy_lock_and_cancel(client: httpx.AsyncClient, workflows: Path) -> None:
    run = await astart_run(client, "sleep")
    r = await client.post("/api/runs", json={"workflow": "hello"})
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "runner_busy" and error["current_run_id"] == run["id"]
    assert (await client.get("/api/runs/current")).json()["run"]["id"] == run["id"]
    r = await client.post(f"/api/runs/{run['id']}/cancel")
    assert r.status_code == 202
    done = await await_finished(client, run["id"])
    assert done["status"] == "cancelled"
    r = await client.post(f"/api/runs/{run['id']}/cancel")
    assert r.status_code == 409 and r.json()["error"]["code"] == "run_finished"
    assert (await client.get("/api/runs/current")).json() == {"run": None}


async def test_cancel_kills_the_grandchild(client: httpx.AsyncClient, workflows: Path) -> None:
    run = await astart_run(client, "family")
    with anyio.fail_after(10):
        while "grandchild" not in (text := await log(client, run["id"])):
            await anyio.sleep(0.02)
    pid = int(text.split("grandchild ")[1].split()[0])
    os.kill(pid, 0)  # alive while the run runs
    assert (await client.post(f"/api/runs/{run['id']}/cancel")).status_code == 202
    assert (await await_finished(client, run["id"]))["status"] == "cancelled"
    with anyio.fail_after(5):
        while pid_alive(pid):
            await anyio.sleep(0.02)


async def test_a_child_holding_the_output_does_not_hold_the_run(
    client: httpx.AsyncClient, workflows: Path
) -> None:
    run = await astart_run(client, "daemon")
    try:
        done = await await_finished(client, run["id"])
        assert done["status"] == "succeeded" and done["duration_s"] < 15
    finally:
        text = await log(client, run["id"])
        os.kill(int(text.split("daemon ")[1].split()[0]), 9)  # it left our process group


async def test_cancel_kills_what_ignores_sigterm(
    client: httpx.AsyncClient, workflows: Path, app: Any
) -> None:
    app.state.services.runner.grace_s = 0.3
    run = await astart_run(client, "stubborn")
    with anyio.fail_after(10):
        while "ignoring" not in await log(client, run["id"]):
            await anyio.sleep(0.02)
    assert (await client.post(f"/api/runs/{run['id']}/cancel")).status_code == 202
    done = await await_finished(client, run["id"])
    assert done["status"] == "cancelled" and done["exit_code"] == -9  # SIGKILL after the grace


async def test_cancel_unknown_run(client: httpx.AsyncClient, workflows: Path) -> None:
    r = await client.post("/api/runs/999/cancel")
    assert r.status_code == 404 and r.json()["error"]["code"] == "run_not_found"


async def test_timeout(client: httpx.AsyncClient, workflows: Path) -> None:
    done = await await_finished(client, (await astart_run(client, "slow"))["id"])
    assert done["status"] == "timed_out" and done["duration_s"] < 20


async def test_rerun(client: httpx.AsyncClient, workflows: Path) -> None:
    first = await await_finished(client, (await astart_run(client, "scoped", "src"))["id"])
    r = await client.post(f"/api/runs/{first['id']}/rerun")
    assert r.status_code == 201
    again = r.json()
    assert again["id"] != first["id"] and (again["workflow"], again["path"]) == ("scoped", "src")
    await await_finished(client, again["id"])
    assert (await client.post("/api/runs/4242/rerun")).status_code == 404


async def test_odd_output(client: httpx.AsyncClient, workflows: Path) -> None:
    done = await await_finished(client, (await astart_run(client, "weird"))["id"], timeout=60)
    assert done["status"] == "succeeded" and done["line_count"] == 5
    lines = (await log(client, done["id"])).split("\n")
    assert lines[0] == "ok"
    assert lines[1] == "bad \ufffd\ufffd utf8"
    assert lines[2] == "crlf"
    assert lines[3] == "X" * 10_000_000
    assert lines[4] == "no newline at end"


async def test_recommendations_are_validated(client: httpx.AsyncClient, workflows: Path) -> None:
    done = await await_finished(client, (await astart_run(client, "recs"))["id"])
    assert (await log(client, done["id"])) == "before\nafter\n"  # not log lines
    recs = (await client.get(f"/api/runs/{done['id']}/recommendations")).json()["recommendations"]
    assert recs[0] == {"kind": "next-workflow", "workflow": "hello", "path": None}
    assert all(r["kind"] == "open-url" and r["title"] == "Report" for r in recs[1:])
    assert len(recs[1]["reason"]) == 500
    assert len(recs) == 50 and recs[-1]["url"] == "https://example.com/48"


async def test_run_and_log_404(client: httpx.AsyncClient, workflows: Path) -> None:
    huge = "9" * 30  # beyond SQLite's integers: still a clean 404, never a 500
    for url in ("/api/runs/77", "/api/runs/77/log", "/api/runs/77/events", f"/api/runs/{huge}"):
        r = await client.get(url)
        assert r.status_code == 404 and r.json()["error"]["code"] == "run_not_found", url


async def test_log_plain_strips_ansi(client: httpx.AsyncClient, workflows: Path) -> None:
    done = await await_finished(client, (await astart_run(client, "ansi"))["id"])
    assert await log(client, done["id"]) == "\x1b[31mred\x1b[0m plain\n"
    assert await log(client, done["id"], ansi=0) == "red plain\n"
    r = await client.get(f"/api/runs/{done['id']}/log", params={"ansi": 0, "download": 1})
    assert "attachment" in r.headers["content-disposition"]


async def test_list_runs_api(client: httpx.AsyncClient, workflows: Path) -> None:
    ids = [
        (await await_finished(client, (await astart_run(client, w))["id"]))["id"]
        for w in ("hello", "fail", "hello")
    ]
    body = (await client.get("/api/runs", params={"limit": 2})).json()
    assert [r["id"] for r in body["runs"]] == ids[::-1][:2] and body["next"] == ids[1]
    body = (await client.get("/api/runs", params={"before": body["next"]})).json()
    assert [r["id"] for r in body["runs"]] == [ids[0]] and body["next"] is None
    body = (await client.get("/api/runs?status=failed&status=succeeded&workflow=hello")).json()
    assert [r["id"] for r in body["runs"]] == [ids[2], ids[0]]
    body = (await client.get("/api/runs", params={"q": "oops"})).json()
    assert {r["id"] for r in body["runs"]} == {ids[0], ids[2]}
    r = await client.get("/api/runs", params={"status": "bogus"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_filter"
    assert (await client.get("/api/runs", params={"limit": 0})).status_code == 400
    assert len((await client.get("/api/runs", params={"limit": 1000})).json()["runs"]) == 3
    assert len((await client.get("/api/runs", params={"before": "9" * 30})).json()["runs"]) == 3
    assert (await client.get("/api/runs", params={"since": "2999-01-01"})).json()["runs"] == []
    assert len((await client.get("/api/runs", params={"since": "2000-01-01"})).json()["runs"]) == 3


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=1, max_value=50), max_size=30))
def test_line_splitter_matches_a_plain_split(data: bytes, cuts: list[int]) -> None:
    """However the output is chunked, the lines are those of splitting the whole output."""
    splitter = LineSplitter()
    lines: list[str] = []
    pos = 0
    for size in [*cuts, len(data)]:
        lines += splitter.feed(data[pos : pos + size])
        pos += size
    lines += splitter.flush()
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    expected = text.split("\n")
    if expected[-1] == "":
        expected.pop()
    assert lines == expected


def test_line_splitter_chunks() -> None:
    splitter = LineSplitter(max_line_bytes=10)
    assert splitter.feed(b"ab") == [] and splitter.feed(b"c\nd") == ["abc"]
    assert splitter.feed(b"\xe2\x82") == [] and splitter.feed(b"\xac\n") == ["d€"]  # split char
    assert splitter.feed(b"0123456789abc") == ["0123456789abc"]  # runaway line broken
    assert splitter.flush() == []


def test_interrupted_runs_are_recovered_at_start(
    make_app: Callable[[Config], Any], config: Config
) -> None:
    from attune.ops.store.database import Store

    store = Store(config.db_path)
    run = store.create_run("sleep", None, ["x"])
    with store.write() as conn:  # as if a server (pid 999999, gone) died mid-run
        conn.execute("UPDATE runs SET server_pid = 999999 WHERE id = ?", (run.id,))
    store.close()
    app = make_app(config)
    recovered = app.state.services.store.get_run(run.id)
    assert recovered.status == "interrupted"
    assert "interrupted" in app.state.services.store.read_lines(run.id)[-1][1]

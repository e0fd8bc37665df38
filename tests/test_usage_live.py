"""A real ``attune ops`` process keeps copying what Claude Code writes: a session that grows
line by line (a half-written last line included), a transcript replaced under it, one deleted
by the 30-day clean-up — the API shows each response once, and keeps what was deleted."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ServerProcess
from tests.usage_lines import assistant, at, transcript, write


def until(server: ServerProcess, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The report once ``check`` holds (bounded wait; the server polls every second)."""
    deadline = time.monotonic() + 20
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = httpx.get(f"{server.url}/api/usage?since=2026-11-01", timeout=5).json()
        if check(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"not reached: {body.get('totals')}, {body.get('ingest')}")


def messages(n: int) -> Callable[[dict[str, Any]], bool]:
    return lambda body: bool(body["totals"]["messages"] == n)


def test_the_server_follows_transcripts_as_claude_code_writes_them(
    server_factory: Callable[..., ServerProcess], tmp_path: Path, project: Path
) -> None:
    root = tmp_path / "claude-config"
    cwd = str(project)
    path = transcript(root, cwd, "s1")
    write(path, [assistant("m1", ts=at(1), cwd=cwd, output_tokens=2)])
    server = server_factory(project)
    until(server, messages(1))
    # the rest of m1's lines, then m2 with its last line still being written
    second = assistant("m2", ts=at(2), cwd=cwd, request_id="r2", output_tokens=30)
    write(
        path,
        [assistant("m1", ts=at(1.1), cwd=cwd, output_tokens=80), second[:50]],
        append=True,
        newline=False,
    )
    body = until(server, lambda b: b["totals"]["output_tokens"] == 80)
    assert body["totals"]["messages"] == 1 and body["skipped_lines"] == 0
    with path.open("a") as handle:
        handle.write(second[50:] + "\n")
    body = until(server, messages(2))
    assert body["totals"]["output_tokens"] == 110
    # replaced by a rewritten copy (another inode), then deleted: nothing doubles, nothing goes
    copy = path.with_suffix(".tmp")
    write(
        copy,
        [
            assistant("m1", ts=at(1.1), cwd=cwd, output_tokens=80),
            second,
            assistant("m3", ts=at(3), cwd=cwd, request_id="r3"),
        ],
    )
    copy.replace(path)
    body = until(server, messages(3))
    assert body["totals"]["output_tokens"] == 210
    path.unlink()
    body = until(server, lambda b: b["ingest"]["transcripts_gone"] == 1)
    assert body["totals"]["messages"] == 3
    assert httpx.get(f"{server.url}/api/usage/sessions/s1", timeout=5).status_code == 200

"""Claude Code transcript lines for the usage tests: compact JSON in Claude Code's shapes.

``assistant(...)`` is one line of an API response (a response is several lines sharing
``message.id``), ``user(...)`` a prompt or a tool result, ``transcript(root, cwd, session)`` the
path Claude Code gives a session of ``cwd`` under a config root. No network, no real home.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SONNET = "claude-sonnet-4-5-20250929"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def at(minutes: float) -> str:
    """``T0`` plus ``minutes``, as a transcript's timestamp."""
    return stamp(T0 + timedelta(minutes=minutes))


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def assistant(
    message_id: str | None,
    *,
    ts: str,
    cwd: str,
    session: str = "s1",
    model: str = SONNET,
    input_tokens: Any = 3,
    output_tokens: Any = 100,
    creation: Any = 0,
    read: Any = 0,
    split: tuple[int, int] | None = None,
    request_id: str | None = "req_1",
    sidechain: bool = False,
    text: str = "Here is the patch.",
    uuid: str = "u-1",
    branch: str = "main",
    version: str = "2.0.31",
    speed: str | None = None,
    web_searches: int = 0,
) -> str:
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": read,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }
    if split is not None:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": split[0],
            "ephemeral_1h_input_tokens": split[1],
        }
    if web_searches:
        usage["server_tool_use"] = {"web_search_requests": web_searches}
    if speed:
        usage["speed"] = speed
    message: dict[str, Any] = {
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "usage": usage,
    }
    if message_id is not None:
        message = {"id": message_id, **message}
    line: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": version,
        "gitBranch": branch,
        "message": message,
        "type": "assistant",
        "uuid": uuid,
        "timestamp": ts,
    }
    if request_id is not None:
        line["requestId"] = request_id
    return dumps(line)


def user(text: str, *, ts: str, cwd: str, session: str = "s1") -> str:
    return dumps(
        {
            "isSidechain": False,
            "cwd": cwd,
            "sessionId": session,
            "type": "user",
            "message": {"role": "user", "content": text},
            "uuid": f"user-{ts}",
            "timestamp": ts,
        }
    )


def encode(cwd: str | Path) -> str:
    return re.sub(r"[^a-zA-Z0-9]", "-", str(cwd))


def transcript(
    root: Path, cwd: str | Path, session: str, *, project_dir: str | None = None
) -> Path:
    folder = root / "projects" / (project_dir or encode(cwd))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{session}.jsonl"


def write(path: Path, lines: list[str], *, append: bool = False, newline: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "\n".join(lines) + ("\n" if newline else "")
    with path.open("a" if append else "w", encoding="utf-8") as handle:
        handle.write(data)

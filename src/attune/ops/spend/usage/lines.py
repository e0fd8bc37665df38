"""One transcript line in, its usage out — and nothing of its content.

A line is looked at only if its bytes hold ``"usage"`` (a quoted key cannot appear unescaped
inside a JSON string, so content that mentions the word never matches); user lines, tool
results and snapshots are passed over without being parsed. An assistant line gives a
:class:`MessageRow`: its time, session, folder, branch, Claude Code version, sidechain flag,
ids, model and token counts. A ``<synthetic>`` model is dropped. A line that looks like usage
but cannot be used (not JSON, no id or time, a count that is negative, not a whole number or
over 10^9) is a *skip*, counted where the dashboard shows it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from attune.ops.store.usage_rows import MessageRow

__all__ = ["MAX_TOKENS", "NEEDLE", "Skip", "parse_line"]

NEEDLE = b'"usage"'
MAX_TOKENS = 10**9
SYNTHETIC = "<synthetic>"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
_SHORT = 200  # ids, branch, model: bounded, so a hostile line cannot bloat the store


class Skip(str):
    """Why a usage line could not be used (a ``str``: the reason)."""


def parse_line(raw: bytes, session_hint: str, last_cwd: str) -> MessageRow | Skip | None:
    """The usage of one line; ``None`` when the line carries none (or a synthetic model).

    ``session_hint`` (from the path) stands in for a missing ``sessionId``, ``last_cwd`` (the
    file's previous folder) for a missing ``cwd``.
    """
    if NEEDLE not in raw:
        return None
    try:
        obj = json.loads(raw)
    except UnicodeDecodeError:
        try:
            obj = json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            return Skip("not JSON")
    except (ValueError, RecursionError):
        return Skip("not JSON")
    if not isinstance(obj, dict):
        return None
    message = obj.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    return _row(obj, message, message["usage"], session_hint, last_cwd)


def _row(
    obj: dict[str, Any],
    message: dict[str, Any],
    usage: dict[str, Any],
    session_hint: str,
    last_cwd: str,
) -> MessageRow | Skip | None:
    model = message.get("model")
    if model == SYNTHETIC:
        return None
    if not isinstance(model, str) or not model.strip():
        return Skip("no model")
    key = _key(message.get("id"), obj.get("requestId"), obj.get("uuid"))
    if key is None:
        return Skip("no message id")
    ts = _millis(obj.get("timestamp"))
    if ts is None:
        return Skip("bad timestamp")
    counts = [_count(usage.get(name)) for name in _TOKEN_FIELDS]
    split = usage.get("cache_creation")
    five: int | None = 0
    one: int | None = 0
    if isinstance(split, dict):
        five = _count(split.get("ephemeral_5m_input_tokens"))
        one = _count(split.get("ephemeral_1h_input_tokens"))
    tools = usage.get("server_tool_use")
    searches = _count(tools.get("web_search_requests")) if isinstance(tools, dict) else 0
    if any(c is None for c in (*counts, five, one, searches)):
        return Skip("token count not a whole number in 0..10^9")
    cwd = obj.get("cwd")
    return MessageRow(
        key=key,
        request_id=_text(obj.get("requestId")),
        ts=ts,
        session_id=_text(obj.get("sessionId")) or session_hint,
        cwd=cwd[:4096] if isinstance(cwd, str) and cwd.startswith("/") else last_cwd,
        model=model.strip()[:_SHORT],
        git_branch=_text(obj.get("gitBranch")),
        version=_text(obj.get("version")),
        sidechain=obj.get("isSidechain") is True,
        speed=_text(usage.get("speed") or obj.get("speed")),
        input_tokens=counts[0] or 0,
        output_tokens=counts[1] or 0,
        cache_creation_tokens=counts[2] or 0,
        cache_5m_tokens=five if isinstance(split, dict) else None,
        cache_1h_tokens=one if isinstance(split, dict) else None,
        cache_read_tokens=counts[3] or 0,
        web_searches=searches or 0,
    )


def _count(value: object) -> int | None:
    """A token count: ``None``/absent is 0; a bool, float, string, negative or > 10^9 is bad."""
    if value is None:
        return 0
    if type(value) is not int or not 0 <= value <= MAX_TOKENS:
        return None
    return value


def _key(message_id: object, request_id: object, uuid: object) -> str | None:
    for prefix, value in (("", message_id), ("req:", request_id), ("uuid:", uuid)):
        if isinstance(value, str) and value.strip():
            return prefix + value.strip()[:_SHORT]
    return None


def _text(value: object) -> str | None:
    return value[:_SHORT] if isinstance(value, str) and value else None


def _millis(value: object) -> int | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return (moment - _EPOCH) // _MS

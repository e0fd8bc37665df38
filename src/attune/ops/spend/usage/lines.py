"""One transcript line in, its usage out — and nothing of its content.

A line is looked at only if its bytes hold ``"usage"`` (a quoted key cannot appear unescaped
inside a JSON string, so content that mentions the word never matches); user lines, tool
results and snapshots are passed over without being parsed. An assistant line gives a
:class:`MessageRow`: its time, session, folder, branch, Claude Code version, sidechain flag,
ids, model and token counts. A ``<synthetic>`` model is dropped. A line that looks like usage
but cannot be used (not JSON, no id or time, a count that is negative, not a whole number or
over 10^9) is a *skip*, counted where the dashboard shows it.

A line is first decoded by msgspec into the few fields read (:class:`_Line`): the content —
most of a line's bytes — is checked and passed over in C, never made into Python objects, and
the types and bounds of the counts are checked there too (2.5 times faster than decoding the
whole line with orjson, measured on the benchmark's corpus). A line that does not fit those
types exactly (a null, a float, a string where a count goes, invalid UTF-8, not JSON) is
decoded again whole and judged field by field (:func:`_row`): the same row or skip either way,
which ``tests/test_usage_lines.py`` checks line by line.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec

from attune.ops.store.usage_rows import MessageRow

__all__ = ["MAX_TOKENS", "NEEDLE", "Skip", "parse_line", "parse_usage_line"]

NEEDLE = b'"usage"'
MAX_TOKENS = 10**9
SYNTHETIC = "<synthetic>"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_SHORT = 200  # ids, branch, model: bounded, so a hostile line cannot bloat the store


_loads = msgspec.json.decode  # a whole line, when the fast decoding does not fit it


class Skip(str):
    """Why a usage line could not be used (a ``str``: the reason)."""


def parse_line(raw: bytes, session_hint: str, last_cwd: str) -> MessageRow | Skip | None:
    """The usage of one line; ``None`` when the line carries none (or a synthetic model).

    ``session_hint`` (from the path) stands in for a missing ``sessionId``, ``last_cwd`` (the
    file's previous folder) for a missing ``cwd``.
    """
    if NEEDLE not in raw:
        return None
    return parse_usage_line(raw, session_hint, last_cwd)


def parse_usage_line(raw: bytes, session_hint: str, last_cwd: str) -> MessageRow | Skip | None:
    """:func:`parse_line` of a line already known to hold :data:`NEEDLE` (the reader's)."""
    try:
        line = _decode_line(raw)
    except (msgspec.MsgspecError, RecursionError):  # not the usual shape (or nested ~1,000
        return _parse_whole(raw, session_hint, last_cwd)  # deep): each field judged on its own
    message = line.message
    if message is None or (usage := message.usage) is None:
        return None
    split = usage.cache_creation
    tools = usage.server_tool_use
    counts = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_creation_input_tokens,
        None if split is None else split.ephemeral_5m_input_tokens,
        None if split is None else split.ephemeral_1h_input_tokens,
        usage.cache_read_input_tokens,
        0 if tools is None else tools.web_search_requests,
    )  # their types and bounds checked by msgspec (_Count)
    return _finish(
        (message.model, message.id, line.uuid, line.timestamp),
        (line.requestId, line.sessionId, line.cwd, line.gitBranch, line.version),
        line.isSidechain,
        usage.speed or line.speed,
        counts,
        session_hint,
        last_cwd,
    )


def _parse_whole(raw: bytes, session_hint: str, last_cwd: str) -> MessageRow | Skip | None:
    """A line decoded whole, each field judged on its own (what the fast decoding did not fit)."""
    try:
        obj = _loads(raw)
    except (ValueError, msgspec.MsgspecError):  # not JSON, or bytes that are not UTF-8
        try:
            obj = json.loads(raw.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            return Skip("not JSON")
    except RecursionError:
        return Skip("not JSON")
    if type(obj) is not dict:
        return None
    message = obj.get("message")
    if type(message) is not dict:
        return None
    usage = message.get("usage")
    if type(usage) is not dict:
        return None
    return _row(obj, message, usage, session_hint, last_cwd)


# The fields a usage line is read for, as msgspec decodes them (every other key is passed
# over unread); a count outside 0..10^9, or of another type, sends the line to _parse_whole.
_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]


class _Split(msgspec.Struct, gc=False):
    ephemeral_5m_input_tokens: _Count = 0
    ephemeral_1h_input_tokens: _Count = 0


class _Tools(msgspec.Struct, gc=False):
    web_search_requests: _Count = 0


class _Usage(msgspec.Struct, gc=False):
    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cache_creation_input_tokens: _Count = 0
    cache_read_input_tokens: _Count = 0
    cache_creation: _Split | None = None
    server_tool_use: _Tools | None = None
    speed: str | None = None


class _Message(msgspec.Struct, gc=False):
    id: str | None = None
    model: str | None = None
    usage: _Usage | None = None


class _Line(msgspec.Struct, gc=False):
    message: _Message | None = None
    timestamp: str | None = None
    requestId: str | None = None  # the transcript's own keys, as written
    sessionId: str | None = None
    cwd: str | None = None
    gitBranch: str | None = None
    version: str | None = None
    isSidechain: bool | None = None
    uuid: str | None = None
    speed: str | None = None


_decode_line = msgspec.json.Decoder(_Line).decode


def _row(
    obj: dict[str, Any],
    message: dict[str, Any],
    usage: dict[str, Any],
    session_hint: str,
    last_cwd: str,
) -> MessageRow | Skip | None:
    return _finish(
        (message.get("model"), message.get("id"), obj.get("uuid"), obj.get("timestamp")),
        tuple(obj.get(k) for k in ("requestId", "sessionId", "cwd", "gitBranch", "version")),
        obj.get("isSidechain"),
        usage.get("speed") or obj.get("speed"),
        _counts(usage),
        session_hint,
        last_cwd,
    )


def _counts(usage: dict[str, Any]) -> tuple[int, int, int, int | None, int | None, int, int] | None:
    """A usage object's counts, each a whole number in 0..10^9 (a missing one is 0; the
    5-minute and 1-hour split ``None`` when absent); ``None`` when one is not."""
    get = usage.get
    uncached = get("input_tokens") or 0
    output = get("output_tokens") or 0
    writes = get("cache_creation_input_tokens") or 0
    reads = get("cache_read_input_tokens") or 0
    if not (
        type(uncached) is int
        and type(output) is int
        and type(writes) is int
        and type(reads) is int
        and 0 <= uncached <= MAX_TOKENS
        and 0 <= output <= MAX_TOKENS
        and 0 <= writes <= MAX_TOKENS
        and 0 <= reads <= MAX_TOKENS
    ):
        return None
    split = get("cache_creation")
    five: int | None = None
    one: int | None = None
    if type(split) is dict:
        five = split.get("ephemeral_5m_input_tokens") or 0
        one = split.get("ephemeral_1h_input_tokens") or 0
        if not (type(five) is int and type(one) is int and 0 <= five <= MAX_TOKENS >= one >= 0):
            return None
    tools = get("server_tool_use")
    searches = 0
    if type(tools) is dict:
        searches = tools.get("web_search_requests") or 0
        if type(searches) is not int or not 0 <= searches <= MAX_TOKENS:
            return None
    return uncached, output, writes, five, one, reads, searches


def _finish(
    ids: tuple[object, object, object, object],
    texts: tuple[object, ...],
    sidechain: object,
    speed: object,
    counts: tuple[int, int, int, int | None, int | None, int, int] | None,
    session_hint: str,
    last_cwd: str,
) -> MessageRow | Skip | None:
    """The row both decodings make, from the line's values as found (any JSON type):
    ``ids`` = model, message id, uuid, timestamp; ``texts`` = request id, session, folder,
    branch, Claude Code version; ``counts`` checked already (``None``: one was not valid)."""
    model, message_id, uuid, timestamp = ids
    if model == SYNTHETIC:
        return None
    if type(model) is not str or not (model := model.strip()):
        return Skip("no model")
    request_id, session, cwd, branch, version = texts
    key = _key(message_id, request_id, uuid)
    if key is None:
        return Skip("no message id")
    ts = _millis(timestamp)
    if ts is None:
        return Skip("bad timestamp")
    if counts is None:
        return _BAD_COUNT
    return _new_row(
        MessageRow,
        (
            key,
            request_id[:_SHORT] if type(request_id) is str and request_id else None,
            ts,
            session[:_SHORT] if type(session) is str and session else session_hint,
            cwd[:4096] if type(cwd) is str and cwd.startswith("/") else last_cwd,
            model[:_SHORT],
            branch[:_SHORT] if type(branch) is str and branch else None,
            version[:_SHORT] if type(version) is str and version else None,
            sidechain is True,
            speed[:_SHORT] if type(speed) is str and speed else None,
            *counts,
        ),
    )


_BAD_COUNT = Skip("token count not a whole number in 0..10^9")
_new_row = tuple.__new__  # a MessageRow from its fields' tuple, without a Python-level call


def _key(message_id: object, request_id: object, uuid: object) -> str | None:
    if type(message_id) is str and (found := message_id.strip()):
        return found[:_SHORT]  # the usual case, first
    for prefix, value in (("req:", request_id), ("uuid:", uuid)):
        if isinstance(value, str) and (found := value.strip()):
            return prefix + found[:_SHORT]
    return None


def _millis(value: object) -> int | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    offset = moment.utcoffset()
    if not moment.microsecond % 1000 and offset is not None and not offset.microseconds % 1000:
        return round(moment.timestamp() * 1000)  # whole milliseconds (Claude Code's): exact
    return (moment - _EPOCH) // _MS

"""One transcript line's usage, decoded two ways: msgspec's fast decoding of the few fields read
(the usual case) and the whole line judged field by field (whatever the fast one does not fit).
Both must give the same row or the same skip for every line, usual or hostile."""

from __future__ import annotations

import json
from typing import Any

import pytest

from attune.ops.spend.usage import lines
from attune.ops.spend.usage.lines import Skip, parse_usage_line
from attune.ops.store.usage_rows import MessageRow
from tests.usage_lines import assistant, at, user

CWD = "/home/dev/project"


def usual() -> list[str]:
    return [
        assistant("msg_1", ts=at(1), cwd=CWD),
        assistant("msg_2", ts=at(2), cwd=CWD, creation=500, read=9000, split=(400, 100)),
        assistant("msg_3", ts=at(3), cwd=CWD, web_searches=2, speed="fast", sidechain=True),
        assistant("msg_4", ts=at(4), cwd=CWD, request_id=None, branch="", version=""),
        assistant("msg_5", ts=at(5), cwd=CWD, model="<synthetic>"),
        assistant("  msg_6  ", ts=at(6), cwd=CWD),
        assistant(None, ts=at(7), cwd=CWD, request_id="req_9"),
        assistant(None, ts=at(8), cwd=CWD, request_id=None, uuid="u-9"),
        assistant("msg_7", ts=at(9), cwd="relative/path"),
        assistant("msg_8", ts=at(10), cwd=CWD, model="  claude-opus-4-1  "),
        assistant("msg_9", ts=at(11), cwd=CWD, text='he said "usage": {"input_tokens": 5}'),
        assistant("msg_10", ts=at(12), cwd=CWD, input_tokens=10**9, output_tokens=0),
        assistant("m" * 500, ts=at(13), cwd=CWD, branch="b" * 500, model="x" * 300),
        user('a "usage" word', ts=at(14), cwd=CWD),
    ]


def edited(base: str, change: Any) -> str:
    obj = json.loads(base)
    change(obj)
    return json.dumps(obj)


def hostile() -> list[str]:
    base = assistant("msg_h", ts=at(1), cwd=CWD, split=(1, 2), web_searches=1)

    def usage(field: str, value: object) -> Any:
        return lambda o: o["message"]["usage"].__setitem__(field, value)

    def top(field: str, value: object) -> Any:
        return lambda o: o.__setitem__(field, value)

    changes = [
        usage("input_tokens", None),
        usage("input_tokens", 1.5),
        usage("input_tokens", 2.0),
        usage("input_tokens", True),
        usage("input_tokens", False),
        usage("input_tokens", "12"),
        usage("input_tokens", ""),
        usage("input_tokens", -1),
        usage("input_tokens", 10**9 + 1),
        usage("input_tokens", 10**30),
        usage("output_tokens", [1]),
        usage("cache_creation", None),
        usage("cache_creation", {}),
        usage("cache_creation", 7),
        usage("cache_creation", {"ephemeral_5m_input_tokens": None}),
        usage("cache_creation", {"ephemeral_1h_input_tokens": -3}),
        usage("server_tool_use", {"web_search_requests": None}),
        usage("server_tool_use", "x"),
        usage("speed", 5),
        usage("speed", ""),
        top("speed", "fast"),
        top("timestamp", 12345),
        top("timestamp", "yesterday"),
        top("timestamp", "2026-11-20T10:00:00"),
        top("cwd", 5),
        top("sessionId", ""),
        top("sessionId", None),
        top("isSidechain", "yes"),
        top("isSidechain", None),
        top("requestId", 7),
        top("gitBranch", ["main"]),
        top("version", 2),
        top("message", "text"),
        top("message", None),
        lambda o: o["message"].__setitem__("usage", None),
        lambda o: o["message"].__setitem__("usage", [1, 2]),
        lambda o: o["message"].__setitem__("model", None),
        lambda o: o["message"].__setitem__("model", 4),
        lambda o: o["message"].__setitem__("model", "   "),
        lambda o: o["message"].__setitem__("id", 42),
        lambda o: o["message"].__setitem__("id", "   "),
        lambda o: o["message"].pop("id"),
    ]
    return [
        *(edited(base, c) for c in changes),
        '{"message":{"usage":{"input_tokens":1}',  # cut short
        "[1, 2, 3]",
        '"usage"',
        "null",
        '{"message":{"id":"a","model":"m","usage":{"input_tokens":1},"usage":{"input_tokens":2}},'
        '"timestamp":"2026-11-20T10:00:00Z"}',  # a key twice: the last one, as json does
        '{"message":{"id":"a","model":"m","usage":{"input_tokens":NaN}},'
        '"timestamp":"2026-11-20T10:00:00Z"}',
    ]


@pytest.mark.parametrize("line", usual() + hostile())
def test_the_fast_decoding_gives_what_the_whole_line_gives(line: str) -> None:
    raw = line.encode()
    assert parse_usage_line(raw, "hint", "/last") == lines._parse_whole(raw, "hint", "/last")


def test_invalid_utf8_in_the_content_still_counts_the_same_both_ways() -> None:
    raw = assistant("msg_u", ts=at(1), cwd=CWD, text="@@").encode().replace(b"@@", b"\xff\xfe")
    row = parse_usage_line(raw, "hint", "")
    assert isinstance(row, MessageRow) and row.key == "msg_u"
    assert row == lines._parse_whole(raw, "hint", "")


def test_the_usual_shapes_never_need_the_whole_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Claude Code's own lines all take the fast decoding (the benchmark's speed rests on it)."""

    def whole(*_: object) -> None:
        raise AssertionError("decoded whole")

    monkeypatch.setattr(lines, "_parse_whole", whole)
    results = [parse_usage_line(line.encode(), "hint", "") for line in usual()]
    assert sum(isinstance(r, MessageRow) for r in results) == 12
    assert results[4] is None and results[-1] is None  # the synthetic model, a user line


def test_hostile_counts_are_skips_with_their_reason() -> None:
    found = [parse_usage_line(line.encode(), "hint", "") for line in hostile()]
    reasons = {str(r) for r in found if isinstance(r, Skip)}
    assert reasons == {
        "token count not a whole number in 0..10^9",
        "bad timestamp",
        "no model",
        "not JSON",
    }


def test_whole_millisecond_times_are_exact_through_the_float_path() -> None:
    """``_millis`` takes a float shortcut for whole milliseconds: it must equal exact
    arithmetic for every such time, in UTC or with an offset, far into the future."""
    import random
    from datetime import UTC, datetime, timedelta, timezone

    epoch, ms = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)
    rng = random.Random(5)
    for _ in range(20_000):
        moment = epoch + ms * rng.randrange(0, 4_000_000_000_000)
        zone = timezone(timedelta(minutes=15 * rng.randrange(-48, 57)))
        for text in (
            moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            moment.astimezone(zone).isoformat(timespec="milliseconds"),
            moment.isoformat(timespec="microseconds"),
        ):
            assert lines._millis(text) == (datetime.fromisoformat(text) - epoch) // ms, text
    assert lines._millis("2026-11-20T10:00:00.000999Z") == lines._millis("2026-11-20T10:00:00Z")


def test_a_line_nested_too_deep_is_a_skip_both_ways() -> None:
    """msgspec gives up on ~1,000 levels with a RecursionError, not its own error: the line is
    then judged whole, like any other it cannot decode (it must never stop a pass)."""
    deep = "[" * 3000 + "]" * 3000
    line = assistant("msg_deep", ts=at(1), cwd=CWD).replace('"Here is the patch."', deep)
    raw = line.encode()
    assert parse_usage_line(raw, "h", "") == lines._parse_whole(raw, "h", "") == "not JSON"


def test_an_offset_with_microseconds_is_floored_like_the_arithmetic() -> None:
    from datetime import UTC, datetime, timedelta

    text = "2025-01-01T00:00:00.000+00:00:01.000500"
    exact = (datetime.fromisoformat(text) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        milliseconds=1
    )
    assert lines._millis(text) == exact == 1_735_689_598_999

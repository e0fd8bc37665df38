"""Reading the usage tables: the roll-ups for a report, minutes for the 5-hour blocks, the
turns of one session, and the counts the doctor shows.

Every function takes the :class:`Store` and a scope: ``cwd_ids`` (the folders of one project)
or ``None`` for every project. Sums are SQLite integers (tokens, pico-dollars): exact. On a team
store a folder is one member's (``cwd_members``), so a scope can be one member's folders, and
``members`` lists each member's project root.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from attune.ops.store.database import Store
from attune.ops.store.sql import Connection, Row
from attune.ops.store.usage import read_generation

__all__ = [
    "DailyRow",
    "MemberRow",
    "SessionRow",
    "TurnRow",
    "UsageStats",
    "cwd_members",
    "cwds",
    "daily",
    "generation",
    "last_message_ms",
    "members",
    "minute_buckets",
    "project_dirs",
    "session_turns",
    "sessions",
    "usage_stats",
]

_SUMS = (
    "sum(messages), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens), "
    "sum(cache_read_tokens), sum(cost_pusd), sum(unpriced)"
)


@dataclass(frozen=True)
class DailyRow:
    day: int  # days since 1970-01-01 (UTC)
    cwd_id: int
    model: str
    messages: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost_pusd: int
    unpriced: int
    fast: int
    saved_pusd: int


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    first_ts: int
    last_ts: int
    active_ms: int
    messages: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost_pusd: int
    unpriced: int
    git_branch: str | None
    version: str | None
    cwd: str


@dataclass(frozen=True)
class TurnRow:
    """One API response of a session (its usage only)."""

    key: str
    ts: int
    model: str
    sidechain: bool
    speed: str | None
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost_pusd: int | None
    git_branch: str | None
    version: str | None
    cwd: str


@dataclass(frozen=True)
class UsageStats:
    files: int
    gone_files: int
    messages: int
    skipped_lines: int
    last_skip: str | None


@dataclass(frozen=True)
class MemberRow:
    """A teammate whose dashboard writes to this store: its project root, its last pass."""

    member: str
    root: str
    seen_at: str


def _scope(cwd_ids: Sequence[int] | None, column: str = "cwd_id") -> tuple[str, list[object]]:
    if cwd_ids is None:
        return "1 = 1", []
    return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(list(cwd_ids))]  # noqa: S608


def cwds(store: Store) -> dict[int, str]:
    """Every folder a stored message was sent from, by id."""
    with store.read() as conn:
        return {int(r[0]): str(r[1]) for r in conn.execute("SELECT id, cwd FROM usage_cwds")}


def cwd_members(store: Store) -> dict[int, tuple[str, str]]:
    """Every folder by id, with the member it is of (``""`` on SQLite)."""
    with store.read() as conn:
        rows = conn.execute("SELECT id, member, cwd FROM usage_cwds").fetchall()
    return {int(r[0]): (str(r[1]), str(r[2])) for r in rows}


def members(store: Store) -> list[MemberRow]:
    """The team's members (a dashboard on a team store records itself), by name."""
    with store.read() as conn:
        rows = conn.execute(
            "SELECT member, root, seen_at FROM usage_members ORDER BY member"
        ).fetchall()
    return [MemberRow(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def last_message_ms(store: Store) -> dict[int, int]:
    """The time of the latest stored response, by folder id."""
    with store.read() as conn:
        rows = conn.execute(
            "SELECT cwd_id, max(last_ts) FROM usage_sessions GROUP BY cwd_id"
        ).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


def project_dirs(store: Store) -> set[str]:
    """The Claude Code project folder names transcripts were found in."""
    with store.read() as conn:
        return {str(r[0]) for r in conn.execute("SELECT DISTINCT project_dir FROM usage_files")}


def daily(
    store: Store, cwd_ids: Sequence[int] | None, since_day: int | None, until_day: int | None
) -> list[DailyRow]:
    """The day × folder × model roll-up rows in scope, days ``since_day..until_day``."""
    where, params = _scope(cwd_ids)
    with store.read() as conn:
        rows = conn.execute(
            "SELECT day, cwd_id, model, messages, input_tokens, output_tokens, "  # noqa: S608
            "cache_creation_tokens, cache_read_tokens, cost_pusd, unpriced, fast, saved_pusd "
            f"FROM usage_daily WHERE {where} AND day >= ? AND day <= ? ORDER BY day",
            [*params, since_day if since_day is not None else -(2**62), until_day or 2**62],
        ).fetchall()
    return [DailyRow(*r) for r in rows]


def sessions(
    store: Store,
    cwd_ids: Sequence[int] | None,
    since_ms: int | None,
    until_ms: int | None,
    *,
    limit: int,
    offset: int,
) -> tuple[list[SessionRow], int]:
    """Sessions active in the period, newest first, one page; and how many there are."""
    where, params = _scope(cwd_ids, "s.cwd_id")
    span = "s.last_ts >= ? AND s.first_ts < ?"
    bounds = [since_ms if since_ms is not None else -(2**62), until_ms or 2**62]
    with store.read() as conn:
        total = conn.execute(
            f"SELECT count(DISTINCT session_id) FROM usage_sessions s WHERE {where} AND {span}",  # noqa: S608
            [*params, *bounds],
        ).fetchone()[0]
        rows = conn.execute(
            "SELECT session_id, min(first_ts), max(last_ts), sum(max(active_ms, 0)), "  # noqa: S608
            f"{_SUMS} FROM usage_sessions s WHERE {where} AND {span} "
            "GROUP BY session_id ORDER BY max(last_ts) DESC, session_id LIMIT ? OFFSET ?",
            [*params, *bounds, limit, offset],
        ).fetchall()
        found = [_session(conn, r, cwd_ids) for r in rows]
    return found, int(total)


def _session(conn: Connection, r: Row, cwd_ids: Sequence[int] | None) -> SessionRow:
    where, params = _scope(cwd_ids, "s.cwd_id")
    latest = conn.execute(
        "SELECT s.git_branch, s.version, c.cwd FROM usage_sessions s "  # noqa: S608
        f"JOIN usage_cwds c ON c.id = s.cwd_id WHERE s.session_id = ? AND {where} "
        "ORDER BY s.last_ts DESC LIMIT 1",
        [r[0], *params],
    ).fetchone()
    n = [int(v or 0) for v in r[1:11]]
    return SessionRow(
        session_id=str(r[0]),
        first_ts=n[0],
        last_ts=n[1],
        active_ms=n[2],
        messages=n[3],
        input_tokens=n[4],
        output_tokens=n[5],
        cache_creation_tokens=n[6],
        cache_read_tokens=n[7],
        cost_pusd=n[8],
        unpriced=n[9],
        git_branch=latest[0],
        version=latest[1],
        cwd=str(latest[2]),
    )


def minute_buckets(
    store: Store, cwd_ids: Sequence[int] | None, since_ms: int, until_ms: int
) -> list[tuple[int, int, int, int, int]]:
    """``(minute start ms, messages, tokens, cost pico-dollars, unpriced)`` per active minute."""
    where, params = _scope(cwd_ids)
    with store.read() as conn:
        rows = conn.execute(
            "SELECT ts / 60000 * 60000, count(*), sum(input_tokens + output_tokens + "  # noqa: S608
            "cache_creation_tokens + cache_read_tokens), coalesce(sum(cost_pusd), 0), "
            "sum(CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END) "
            f"FROM usage_messages WHERE {where} AND ts >= ? AND ts < ? "
            "GROUP BY 1 ORDER BY 1",
            [*params, since_ms, until_ms],
        ).fetchall()
    return [(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]


def session_turns(store: Store, session_id: str, *, limit: int) -> list[TurnRow]:
    """A session's API responses, oldest first (at most ``limit``)."""
    with store.read() as conn:
        rows = conn.execute(
            "SELECT key, ts, model, sidechain, speed, input_tokens, output_tokens, "
            "cache_creation_tokens, cache_read_tokens, cost_pusd, git_branch, version, c.cwd "
            "FROM usage_messages JOIN usage_cwds c ON c.id = cwd_id WHERE session_id = ? "
            "ORDER BY ts, key LIMIT ?",
            (session_id, limit),
        ).fetchall()
    return [TurnRow(r[0], r[1], r[2], bool(r[3]), *r[4:]) for r in rows]


def usage_stats(store: Store, member: str | None = None) -> UsageStats:
    """Transcripts remembered (and gone), rows stored, lines skipped (of one member's files)."""
    mine, params = ("1 = 1", []) if member is None else ("member = ?", [member])
    with store.read() as conn:
        files = conn.execute(
            "SELECT count(*), coalesce(sum(gone), 0), coalesce(sum(skipped), 0) "  # noqa: S608
            f"FROM usage_files WHERE {mine}",
            params,
        ).fetchone()
        last = conn.execute(
            f"SELECT last_skip FROM usage_files WHERE {mine} AND last_skip IS NOT NULL "  # noqa: S608
            "ORDER BY updated_at DESC LIMIT 1",
            params,
        ).fetchone()
        messages = conn.execute("SELECT count(*) FROM usage_messages").fetchone()[0]
    return UsageStats(
        int(files[0]), int(files[1]), int(messages), int(files[2]), last[0] if last else None
    )


def generation(store: Store) -> int:
    """A number that changes whenever a usage row is written (for caching a report)."""
    with store.read() as conn:
        return read_generation(conn)

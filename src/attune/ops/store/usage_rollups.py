"""The usage roll-ups: per day × folder × model and per session × folder.

A write moves them by the difference it makes (:class:`Rollup`); what a difference cannot
express — a session's exact first and last time after a row moved, its active time, its latest
branch and version — is settled per touched session (``active_ms = -1`` marks one) at the end
of an ingest pass. :func:`rebuild_rollups` makes both from every row (after pricing again).
"""

from __future__ import annotations

from attune.ops.store.sql import Connection
from attune.ops.store.usage_rows import DAY_MS, MessageRow

__all__ = [
    "ACTIVE_GAP_MS",
    "Rollup",
    "rebuild_rollups",
    "settle_session",
]

ACTIVE_GAP_MS = 5 * 60_000  # a pause longer than this between two answers is idle time
_TOKENS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")
_DAILY = (
    "day, cwd_id, model, messages, input_tokens, output_tokens, cache_creation_tokens, "
    "cache_read_tokens, cost_pusd, unpriced, fast, saved_pusd"
)
_ADD_DAILY = (
    "ON CONFLICT (day, cwd_id, model) DO UPDATE SET "
    "messages = d.messages + excluded.messages, "
    "input_tokens = d.input_tokens + excluded.input_tokens, "
    "output_tokens = d.output_tokens + excluded.output_tokens, "
    "cache_creation_tokens = d.cache_creation_tokens + excluded.cache_creation_tokens, "
    "cache_read_tokens = d.cache_read_tokens + excluded.cache_read_tokens, "
    "cost_pusd = d.cost_pusd + excluded.cost_pusd, "
    "unpriced = d.unpriced + excluded.unpriced, fast = d.fast + excluded.fast, "
    "saved_pusd = d.saved_pusd + excluded.saved_pusd"
)
_SESSIONS = (
    "session_id, cwd_id, first_ts, last_ts, active_ms, messages, input_tokens, output_tokens, "
    "cache_creation_tokens, cache_read_tokens, cost_pusd, unpriced"
)
_ADD_SESSIONS = (
    "ON CONFLICT (session_id, cwd_id) DO UPDATE SET "
    "first_ts = min(s.first_ts, excluded.first_ts), "
    "last_ts = max(s.last_ts, excluded.last_ts), active_ms = -1, "
    "messages = s.messages + excluded.messages, "
    "input_tokens = s.input_tokens + excluded.input_tokens, "
    "output_tokens = s.output_tokens + excluded.output_tokens, "
    "cache_creation_tokens = s.cache_creation_tokens + excluded.cache_creation_tokens, "
    "cache_read_tokens = s.cache_read_tokens + excluded.cache_read_tokens, "
    "cost_pusd = s.cost_pusd + excluded.cost_pusd, "
    "unpriced = s.unpriced + excluded.unpriced"
)


class Rollup:
    """The difference a batch of writes makes to the roll-ups, applied in one go."""

    def __init__(self) -> None:
        self.daily: dict[tuple[int, int, str], list[int]] = {}
        self.sessions: dict[tuple[str, int], list[int]] = {}

    def add(self, row: MessageRow, cwd_id: int, cost: int | None, saved: int, sign: int) -> None:
        values = [
            sign,
            *(sign * getattr(row, name) for name in _TOKENS),
            sign * (cost or 0),
            sign * (cost is None),
        ]
        day = self.daily.setdefault((row.ts // DAY_MS, cwd_id, row.model), [0] * 9)
        for i, v in enumerate((*values, sign * (row.speed == "fast"), sign * saved)):
            day[i] += v
        session = self.sessions.setdefault((row.session_id, cwd_id), [2**62, -(2**62), *[0] * 7])
        if sign > 0:
            session[0] = min(session[0], row.ts)
            session[1] = max(session[1], row.ts)
        for i, v in enumerate(values):
            session[2 + i] += v

    def add_new(self, row: MessageRow, cwd_id: int, cost: int | None, saved: int) -> None:
        """:meth:`add` with ``sign = +1`` for a row stored for the first time (every row of
        a cold ingest), unrolled: three times faster than the general case."""
        _, _, ts, session_id, _, model, _, _, _, speed, i, o, cw, _, _, cr, _ = row
        priced = cost or 0
        unpriced = int(cost is None)
        key = (ts // DAY_MS, cwd_id, model)
        day = self.daily.get(key)
        if day is None:
            self.daily[key] = [1, i, o, cw, cr, priced, unpriced, int(speed == "fast"), saved]
        else:
            day[0] += 1
            day[1] += i
            day[2] += o
            day[3] += cw
            day[4] += cr
            day[5] += priced
            day[6] += unpriced
            day[7] += speed == "fast"
            day[8] += saved
        session = self.sessions.get((session_id, cwd_id))
        if session is None:
            self.sessions[(session_id, cwd_id)] = [ts, ts, 1, i, o, cw, cr, priced, unpriced]
            return
        if ts < session[0]:
            session[0] = ts
        if ts > session[1]:
            session[1] = ts
        session[2] += 1
        session[3] += i
        session[4] += o
        session[5] += cw
        session[6] += cr
        session[7] += priced
        session[8] += unpriced

    def apply(self, conn: Connection) -> None:
        if not self.daily and not self.sessions:
            return
        conn.executemany(
            f"INSERT INTO usage_daily AS d ({_DAILY}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "  # noqa: S608
            + _ADD_DAILY,
            [(*key, *values) for key, values in self.daily.items()],
        )
        conn.execute("DELETE FROM usage_daily WHERE messages <= 0")
        conn.executemany(
            f"INSERT INTO usage_sessions AS s ({_SESSIONS}) VALUES (?,?,?,?,-1,?,?,?,?,?,?,?) "  # noqa: S608
            + _ADD_SESSIONS,
            [(*key, *values) for key, values in self.sessions.items()],
        )


def settle_session(conn: Connection, session_id: str, cwd_id: int) -> None:
    """One session × folder from its rows: exact first/last time, active time, latest branch."""
    found = conn.execute(
        "SELECT count(*), min(ts), max(ts) FROM usage_messages WHERE session_id = ? AND cwd_id = ?",
        (session_id, cwd_id),
    ).fetchone()
    if not found[0]:
        conn.execute(
            "DELETE FROM usage_sessions WHERE session_id = ? AND cwd_id = ?", (session_id, cwd_id)
        )
        return
    active = conn.execute(
        "SELECT coalesce(sum(CASE WHEN gap <= ? THEN gap ELSE 0 END), 0) FROM ("
        "SELECT ts - lag(ts) OVER (ORDER BY ts) AS gap FROM usage_messages "
        "WHERE session_id = ? AND cwd_id = ?) AS gaps",
        (ACTIVE_GAP_MS, session_id, cwd_id),
    ).fetchone()[0]
    latest = conn.execute(
        "SELECT git_branch, version FROM usage_messages WHERE session_id = ? AND cwd_id = ? "
        "ORDER BY ts DESC LIMIT 1",
        (session_id, cwd_id),
    ).fetchone()
    conn.execute(
        "UPDATE usage_sessions SET first_ts = ?, last_ts = ?, active_ms = ?, git_branch = ?, "
        "version = ? WHERE session_id = ? AND cwd_id = ?",
        (found[1], found[2], int(active), latest[0], latest[1], session_id, cwd_id),
    )


def rebuild_rollups(conn: Connection) -> None:
    """Both roll-ups from every row (after pricing again); sessions are settled afterwards."""
    # Every row of a team's history at once: past the team store's bound for one statement
    # (store/pg_pool.py); SQLite's connection has no such bound, nor this method.
    allow_long = getattr(conn, "allow_long", None)
    if allow_long is not None:
        allow_long()
    conn.execute("DELETE FROM usage_daily")
    conn.execute(
        "INSERT INTO usage_daily SELECT ts / ?, cwd_id, model, count(*), sum(input_tokens), "
        "sum(output_tokens), sum(cache_creation_tokens), sum(cache_read_tokens), "
        "coalesce(sum(cost_pusd), 0), sum(CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END), "
        "sum(CASE WHEN speed = 'fast' THEN 1 ELSE 0 END), "
        "sum(saved_pusd) FROM usage_messages GROUP BY 1, 2, 3",
        (DAY_MS,),
    )
    conn.execute("DELETE FROM usage_sessions")
    conn.execute(
        "INSERT INTO usage_sessions SELECT session_id, cwd_id, min(ts), max(ts), -1, count(*), "
        "sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens), "
        "sum(cache_read_tokens), coalesce(sum(cost_pusd), 0), "
        "sum(CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END), NULL, "
        "NULL FROM usage_messages GROUP BY session_id, cwd_id"
    )

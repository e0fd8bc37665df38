"""The usage report of DESIGN §10: one object for ``GET /api/usage``, the page and the CLI.

Built from the roll-ups (a few thousand rows whatever the history), the per-minute sums of the
recent blocks and one page of sessions. Every amount is a decimal string in USD from exact
pico-dollar sums; every figure is an estimate (``"estimate": true``) priced with the named
genai-prices data. Days are UTC days, as the Admin API's cost buckets are.

On a team store (``member`` given: this dashboard's ``user@host``) "this project" is this
member's rows inside the project root, "all" the team's rows for the project (each member's
folders inside that member's root: each machine has its own path to it), the 5-hour blocks this
member's, and ``team`` adds the team's totals and each member's share.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from attune.ops.spend.usage.blocks import BLOCK_MS, build_blocks
from attune.ops.spend.usage.pricing import usd_text
from attune.ops.spend.usage.query import UsageQuery
from attune.ops.spend.usage.sources import encode_project_dir, is_inside
from attune.ops.store import usage_queries as q
from attune.ops.store.database import Store
from attune.ops.store.usage_rows import DAY_MS

__all__ = ["build_report", "project_of", "team_cwd_ids"]

BLOCK_DAYS = 7  # blocks of the last 7 days (or of the period asked for, up to 31 days)
_TOKENS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")
NOTES = (
    "Estimates from Claude Code's local transcripts: upstream under-reports input tokens and "
    "leaves out thinking tokens, so the bill can be higher.",
    "genai-prices does not model fast mode, batch or data residency: those responses are "
    "priced at standard rates.",
)


class _Sum:
    """Token and cost sums of a group of roll-up rows."""

    __slots__ = ("cost", "fast", "messages", "saved", "tokens", "unpriced")

    def __init__(self) -> None:
        self.messages = self.cost = self.unpriced = self.fast = self.saved = 0
        self.tokens = [0, 0, 0, 0]

    def add(self, row: q.DailyRow) -> None:
        self.messages += row.messages
        self.cost += row.cost_pusd
        self.unpriced += row.unpriced
        self.fast += row.fast
        self.saved += row.saved_pusd
        for i, name in enumerate(_TOKENS):
            self.tokens[i] += getattr(row, name)

    def to_json(self, *, priced: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"messages": self.messages}
        out.update(zip(_TOKENS, self.tokens, strict=True))
        out["total_tokens"] = sum(self.tokens)
        out["cost_usd"] = usd_text(self.cost) if priced else None
        if self.unpriced:
            out["unpriced_messages"] = self.unpriced
        return out


def project_of(cwd: str, roots: Iterable[str]) -> str:
    """The project a folder belongs to: the deepest root it is in, else the folder itself."""
    best = ""
    for root in roots:
        if len(root) > len(best) and is_inside(cwd, root):
            best = root
    return best or cwd


def team_cwd_ids(owners: dict[int, tuple[str, str]], members: Iterable[q.MemberRow]) -> list[int]:
    """The team's folders of the project: each member's folders inside that member's root."""
    roots = {m.member: m.root for m in members}
    return [i for i, (who, cwd) in owners.items() if who in roots and is_inside(cwd, roots[who])]


def _scope_ids(
    owners: dict[int, tuple[str, str]], query: UsageQuery, member: str | None
) -> list[int] | None:
    root = str(query.project_root)
    if member is None:  # SQLite: every project of this machine, or the folders of this one
        return (
            None if query.all_projects else [i for i, o in owners.items() if is_inside(o[1], root)]
        )
    if query.all_projects:
        return None  # filled in by build_report with the team's folders
    return [i for i, (who, cwd) in owners.items() if who == member and is_inside(cwd, root)]


def _day(value: int) -> date:
    return date(1970, 1, 1) + timedelta(days=value)


def _day_number(value: date) -> int:
    return (value - date(1970, 1, 1)).days


def build_report(
    store: Store,
    query: UsageQuery,
    *,
    now: datetime,
    price_source: str,
    member: str | None = None,
) -> dict[str, Any]:
    """The report for ``query`` (without ``reconciliation``, ingest state and skips);
    ``member``: this dashboard's on a team store, ``None`` on SQLite."""
    owners = q.cwd_members(store)
    cwds = {i: cwd for i, (_, cwd) in owners.items()}
    members = q.members(store) if member is not None else []
    root = str(query.project_root)
    ids = _scope_ids(owners, query, member)
    if member is not None and query.all_projects:
        ids = team_cwd_ids(owners, members)
    rows = q.daily(store, ids, None, None)
    today = now.astimezone(UTC).date()
    first = _day_number(query.since) if query.since else None
    last = _day_number(query.until) if query.until else _day_number(today)
    chosen = [r for r in rows if (first is None or r.day >= first) and r.day <= last]
    totals = _Sum()
    for row in chosen:
        totals.add(row)
    report: dict[str, Any] = {
        "scope": "all" if query.all_projects else "project",
        "project": None if query.all_projects else root,
        "estimate": True,
        "price_source": price_source,
        "since": query.since.isoformat() if query.since else None,
        "until": query.until.isoformat() if query.until else None,
        "generated_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "totals": totals.to_json(),
        "periods": _periods(rows, _day_number(today)),
        "cache": _cache(totals),
        "by_day": _by_day(chosen, first, last),
        "by_model": _by_model(chosen),
        "notes": list(NOTES[:1]) + ([NOTES[1]] if totals.fast else []),
        "fast_messages": totals.fast,
    }
    report.update(_sessions(store, ids, query, first, last))
    # every project, as limits count (on a team store, this member's: limits are per person)
    mine = None if member is None else [i for i, o in owners.items() if o[0] == member]
    report["blocks"] = _blocks(store, mine, now, first, last)
    if query.all_projects:
        report["projects"] = _projects(chosen, cwds, q.project_dirs(store), root, totals.cost)
    report["team"] = None
    if member is not None:
        team = (
            rows
            if query.all_projects
            else q.daily(store, team_cwd_ids(owners, members), None, None)
        )
        report["team"] = _team(store, team, owners, members, member, (first, last), today)
    return report


def _team(
    store: Store,
    rows: list[q.DailyRow],
    owners: dict[int, tuple[str, str]],
    members: list[q.MemberRow],
    member: str,
    span: tuple[int | None, int],
    today: date,
) -> dict[str, Any]:
    """The team's totals for the project and each member's part (the period asked for)."""
    first, last = span
    per: dict[str, list[q.DailyRow]] = {}
    for row in rows:
        per.setdefault(owners[row.cwd_id][0], []).append(row)
    total = _Sum()
    sums: dict[str, _Sum] = {}
    for who in [m.member for m in members]:
        sums[who] = _Sum()
        for row in per.get(who, []):
            if (first is None or row.day >= first) and row.day <= last:
                sums[who].add(row)
                total.add(row)
    latest = q.last_message_ms(store)
    used = {row.cwd_id for row in rows}
    out = []
    for m in members:
        part = sums[m.member]
        share = Decimal(part.cost) / total.cost if total.cost else Decimal(0)
        last_ms = max((latest.get(i, 0) for i in used if owners[i][0] == m.member), default=0)
        out.append(
            {
                "member": m.member,
                "you": m.member == member,
                "root": m.root,
                **part.to_json(),
                "share": str(share.quantize(Decimal("0.0001"))),
                "last_seen": m.seen_at,
                "last_message_at": _iso(last_ms) if last_ms else None,
                "periods": _periods(per.get(m.member, []), _day_number(today)),
            }
        )
    out.sort(key=lambda e: (-Decimal(e["cost_usd"]), e["member"]))
    return {
        "member": member,
        "members": out,
        "totals": total.to_json(),
        "periods": _periods(rows, _day_number(today)),
    }


def _periods(rows: list[q.DailyRow], today: int) -> dict[str, Any]:
    spans = {"today": 1, "7d": 7, "30d": 30, "all": None}
    out = {}
    for name, days in spans.items():
        total = _Sum()
        for row in rows:
            if days is None or today - days < row.day <= today:
                total.add(row)
        out[name] = total.to_json()
    return out


def _cache(totals: _Sum) -> dict[str, Any]:
    inputs = totals.tokens[0] + totals.tokens[2] + totals.tokens[3]
    share = Decimal(totals.tokens[3]) / inputs if inputs else Decimal(0)
    return {
        "read_tokens": totals.tokens[3],
        "read_share": str(share.quantize(Decimal("0.0001"))),
        "saved_usd": usd_text(totals.saved),
    }


def _by_day(rows: list[q.DailyRow], first: int | None, last: int) -> list[dict[str, Any]]:
    days: dict[int, _Sum] = {}
    models: dict[int, dict[str, int]] = {}
    for row in rows:
        days.setdefault(row.day, _Sum()).add(row)
        per = models.setdefault(row.day, {})
        per[row.model] = per.get(row.model, 0) + row.cost_pusd
    start = first if first is not None else (min(days) if days else last)
    out = []
    for day in range(start, last + 1):
        entry = {"date": _day(day).isoformat(), **days.get(day, _Sum()).to_json()}
        entry["models"] = [
            {"model": m, "cost_usd": usd_text(c)}
            for m, c in sorted(models.get(day, {}).items(), key=lambda kv: -kv[1])
        ]
        out.append(entry)
    return out


def _by_model(rows: list[q.DailyRow]) -> list[dict[str, Any]]:
    groups: dict[str, _Sum] = {}
    for row in rows:
        groups.setdefault(row.model, _Sum()).add(row)
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1].cost, -sum(kv[1].tokens), kv[0]))
    out = []
    for model, total in ordered:
        priced = total.unpriced < total.messages
        entry = {"model": model, **total.to_json(priced=priced), "priced": priced}
        if not priced:
            entry["price"] = "unknown"
        out.append(entry)
    return out


def _sessions(
    store: Store, ids: list[int] | None, query: UsageQuery, first: int | None, last: int
) -> dict[str, Any]:
    since_ms = first * DAY_MS if first is not None else None
    found, total = q.sessions(
        store,
        ids,
        since_ms,
        (last + 1) * DAY_MS,
        limit=max(1, min(query.limit, 500)),
        offset=max(0, query.offset),
    )
    sessions = [_session(s) for s in found]
    following = query.offset + len(sessions)
    return {
        "sessions": sessions,
        "sessions_total": total,
        "sessions_next_offset": following if following < total else None,
    }


def _session(s: q.SessionRow) -> dict[str, Any]:
    return {
        "id": s.session_id,
        "project": s.cwd,
        "started_at": _iso(s.first_ts),
        "ended_at": _iso(s.last_ts),
        "active_s": s.active_ms // 1000,
        "messages": s.messages,
        **{name: getattr(s, name) for name in _TOKENS},
        "total_tokens": sum(getattr(s, name) for name in _TOKENS),
        "cost_usd": usd_text(s.cost_pusd),
        "unpriced_messages": s.unpriced,
        "git_branch": s.git_branch,
        "version": s.version,
    }


def _blocks(
    store: Store, ids: list[int] | None, now: datetime, first: int | None, last: int
) -> list[dict[str, Any]]:
    now_ms = int(now.timestamp() * 1000)
    until_ms = min((last + 1) * DAY_MS, now_ms + 1)
    start = until_ms - BLOCK_DAYS * DAY_MS
    if first is not None:
        start = max(first * DAY_MS, until_ms - 31 * DAY_MS)
    start -= BLOCK_MS  # a block that began before the window still counts whole
    blocks = build_blocks(q.minute_buckets(store, ids, start, until_ms))
    return [b.to_json(now_ms) for b in reversed(blocks) if b.end > start + BLOCK_MS]


def _projects(
    rows: list[q.DailyRow],
    cwds: dict[int, str],
    dirs: set[str],
    current: str,
    total_cost: int,
) -> list[dict[str, Any]]:
    roots = {c for c in cwds.values() if encode_project_dir(c) in dirs} | {current}
    owner = {i: project_of(c, roots) for i, c in cwds.items()}
    groups: dict[str, _Sum] = {}
    for row in rows:
        groups.setdefault(owner.get(row.cwd_id, ""), _Sum()).add(row)
    out = []
    for name, total in sorted(groups.items(), key=lambda kv: (-kv[1].cost, kv[0])):
        share = Decimal(total.cost) / total_cost if total_cost else Decimal(0)
        out.append(
            {
                "project": name,
                "current": name == current,
                **total.to_json(),
                "share": str(share.quantize(Decimal("0.0001"))),
            }
        )
    return out


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")

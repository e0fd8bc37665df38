"""``attune usage``: Claude Code usage from the terminal, the same object as ``/api/usage``.

It copies in what the transcripts added since the last pass (the dashboard may be doing the
same: each chunk is taken by one of them only), then reads the store. With an admin key the
billed "Claude Code" spend is set beside the estimate (from its cache, or one request).
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from typing import Any, TextIO

from attune.ops.cli.main import run_command
from attune.ops.config import build_config
from attune.ops.spend.usage.query import parse_query
from attune.ops.spend.usage.service import UsageService
from attune.ops.store.open import open_store

__all__ = ["cmd_usage"]


def cmd_usage(args: argparse.Namespace) -> int:
    """``attune usage [--project DIR | --all] [--since D] [--until D] [--by …] [--json]``.

    Example: ``attune usage --by session --since 2026-11-01``.
    """
    return run_command("usage", lambda: _usage(args))


def _usage(args: argparse.Namespace) -> int:
    config = build_config(args.project)
    query = parse_query(
        config.project_root,
        project="all" if args.all else "this",
        since=args.since,
        until=args.until,
        limit=max(1, min(args.limit, 500)),
    )
    # integrity_budget_s=0: the dashboard checks the store at its start
    store = open_store(config.db_path, config.database_url, integrity_budget_s=0)
    try:
        usage = UsageService(config, store)
        usage.ingest_now()
        report = usage.report(query, billing="wait")
    finally:
        store.close()
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_report(report, args.by, sys.stdout)
    return 0


def _usd(value: str | None) -> str:
    if value is None:
        return "price unknown"
    amount = Decimal(value)
    if 0 < amount < Decimal("0.01"):
        return "<$0.01"
    return f"${amount:,.2f}"


def _tokens(n: int) -> str:
    for size, unit in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if n >= size:
            return f"{n / size:.2f}".rstrip("0").rstrip(".") + unit
    return str(n)


def _table(out: TextIO, header: list[str], rows: list[list[str]]) -> None:
    """Columns padded to their widest cell: figures to the right, words to the left."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    numeric = [bool(rows) and all(_figure(r[i]) for r in rows) for i in range(len(header))]
    for line in [header, *rows]:
        cells = [
            c.rjust(w) if right else c.ljust(w)
            for c, w, right in zip(line, widths, numeric, strict=True)
        ]
        print("  ".join(cells).rstrip(), file=out)


def _figure(cell: str) -> bool:
    is_date = len(cell) >= 10 and cell[4:5] == "-"
    return (cell[:1] in "$<0123456789" and not is_date) or cell == "price unknown"


def print_report(report: dict[str, Any], by: str, out: TextIO) -> None:
    """The report as text: scope, periods, the chosen table, the bill, skipped lines."""
    where = "every project on this machine" if report["scope"] == "all" else report["project"]
    if report.get("team"):
        mine = f"{report['project']} ({report['team']['member']})"
        where = "the team's rows for this project" if report["scope"] == "all" else mine
    print(f"Claude Code usage: {where}  (estimate, {report['price_source']})", file=out)
    periods = report["periods"]
    print(
        "  ".join(
            f"{label} {_usd(periods[key]['cost_usd'])}"
            for key, label in (
                ("today", "today"),
                ("7d", "7 days"),
                ("30d", "30 days"),
                ("all", "all time"),
            )
        ),
        file=out,
    )
    totals = report["totals"]
    unpriced = totals.get("unpriced_messages")
    print(
        f"period: {totals['messages']} responses, {_tokens(totals['total_tokens'])} tokens, "
        f"{_usd(totals['cost_usd'])}"
        + (f" + {unpriced} unpriced (price unknown)" if unpriced else ""),
        file=out,
    )
    print(file=out)
    _TABLES[by](report, out)
    bill = report.get("reconciliation")
    if bill:
        print(f"\nbill: {bill['message']}", file=out)
    skipped = report["skipped_lines"]
    if skipped:
        print(f"\n{skipped} transcript lines skipped (attune ops doctor says why)", file=out)


def _by_day(report: dict[str, Any], out: TextIO) -> None:
    days = report["by_day"][-30:]
    rows = [
        [d["date"], str(d["messages"]), _tokens(d["total_tokens"]), _usd(d["cost_usd"])]
        for d in days
        if d["messages"]
    ]
    _table(out, ["day (UTC)", "responses", "tokens", "cost"], rows)


def _by_session(report: dict[str, Any], out: TextIO) -> None:
    rows = [
        [
            s["started_at"][:16].replace("T", " "),
            s["ended_at"][11:16],
            f"{s['active_s'] // 60} min",
            str(s["messages"]),
            _tokens(s["total_tokens"]),
            _usd(s["cost_usd"]),
            s["git_branch"] or "-",
            s["id"],
        ]
        for s in report["sessions"]
    ]
    _table(
        out,
        ["started (UTC)", "ended", "active", "responses", "tokens", "cost", "branch", "session"],
        rows,
    )
    if report["sessions_next_offset"]:
        print(f"… {report['sessions_total']} sessions in all (--limit N)", file=out)


def _by_model(report: dict[str, Any], out: TextIO) -> None:
    rows = [
        [
            m["model"],
            str(m["messages"]),
            _tokens(m["input_tokens"]),
            _tokens(m["output_tokens"]),
            _tokens(m["cache_creation_tokens"]),
            _tokens(m["cache_read_tokens"]),
            _usd(m["cost_usd"]),
        ]
        for m in report["by_model"]
    ]
    _table(
        out, ["model", "responses", "input", "output", "cache write", "cache read", "cost"], rows
    )


def _by_block(report: dict[str, Any], out: TextIO) -> None:
    rows = [
        [
            b["start"][:16].replace("T", " ") + (" (active)" if b["active"] else ""),
            str(b["messages"]),
            _tokens(b["tokens"]),
            _usd(b["cost_usd"]),
            _usd(b["cost_per_hour_usd"]) + "/h",
            _usd(b["projected_cost_usd"]),
        ]
        for b in report["blocks"]
    ]
    if not rows:
        print("no 5-hour block in the last 7 days (--since D shows older ones)", file=out)
        return
    _table(out, ["5-hour block (UTC)", "responses", "tokens", "cost", "burn", "projected"], rows)


def _by_project(report: dict[str, Any], out: TextIO) -> None:
    projects = report.get("projects")
    if projects is None:
        print("(--by project lists every project: add --all)", file=out)
        return
    rows = [
        [
            p["project"],
            str(p["messages"]),
            _tokens(p["total_tokens"]),
            _usd(p["cost_usd"]),
            f"{Decimal(p['share']) * 100:.1f} %",
        ]
        for p in projects
    ]
    _table(out, ["project", "responses", "tokens", "cost", "share"], rows)


def _by_member(report: dict[str, Any], out: TextIO) -> None:
    team = report.get("team")
    if team is None:
        print("(--by member needs a team store: --database-url or $ATTUNE_DATABASE_URL)", file=out)
        return
    periods = team["periods"]
    print(
        "team: "
        + "  ".join(
            f"{label} {_usd(periods[key]['cost_usd'])}"
            for key, label in (("today", "today"), ("7d", "7 days"), ("30d", "30 days"))
        )
        + f"  period {_usd(team['totals']['cost_usd'])} (estimate)",
        file=out,
    )
    rows = [
        [
            m["member"] + (" (you)" if m["you"] else ""),
            str(m["messages"]),
            _tokens(m["total_tokens"]),
            _usd(m["cost_usd"]),
            f"{Decimal(m['share']) * 100:.1f} %",
            (m["last_seen"] or "-")[:16].replace("T", " "),
        ]
        for m in team["members"]
    ]
    _table(out, ["member", "responses", "tokens", "cost", "share", "last seen (UTC)"], rows)


_TABLES = {
    "day": _by_day,
    "session": _by_session,
    "model": _by_model,
    "block": _by_block,
    "project": _by_project,
    "member": _by_member,
}

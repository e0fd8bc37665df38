"""Claude Code usage: ``/usage`` and its JSON twin ``GET /api/usage``, one session's turns
(``/usage/sessions/{id}``, ``GET /api/usage/sessions/{id}``), and the home page's tile.

Every answer is built off the event loop (SQLite reads in a thread) from the same report
object (DESIGN §10); the page and the JSON never differ.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from attune.ops.errors import NotFound
from attune.ops.spend.usage.query import parse_query
from attune.ops.spend.usage.service import UsageService
from attune.ops.web.pages import render_page
from attune.ops.web.run_costs import total_texts
from attune.ops.web.services import UsageDep
from attune.ops.web.usage_view import duration_text, local_time, page_context, tokens_text, usd

router = APIRouter(tags=["usage"])

_FILTERS = {"usd": usd, "tokens": tokens_text, "duration": duration_text, "utc": local_time}


async def _report(
    usage: UsageService,
    project: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    offset: int | None,
) -> dict[str, Any]:
    query = parse_query(
        usage.config.project_root,
        project=project,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    report = await asyncio.to_thread(usage.report, query)
    # Beside Claude Code's: what the dashboard's workflow runs reported (ATTUNE_USAGE), same days.
    total = await asyncio.to_thread(usage.store.usage_total_between, query.since, query.until)
    return {**report, "workflows": total.to_json()}


@router.get("/api/usage")
async def get_usage_report(
    usage: UsageDep,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> dict[str, Any]:
    """The usage report (DESIGN §10): ``?project=this|all&since=YYYY-MM-DD&until=YYYY-MM-DD``."""
    return await _report(usage, project, since, until, limit, offset)


@router.get("/api/usage/sessions/{session_id}")
async def get_usage_session(usage: UsageDep, session_id: str) -> dict[str, Any]:
    """One session's API responses (usage only, oldest first); 404 ``not_found``."""
    found = await asyncio.to_thread(usage.session, session_id[:200])
    if not found["turns"]:
        raise NotFound(f"no Claude Code session {session_id[:80]!r} is stored")
    return found


@router.get("/usage", response_class=HTMLResponse, include_in_schema=False)
async def show_usage(
    request: Request,
    usage: UsageDep,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
    offset: int | None = None,
) -> HTMLResponse:
    """The usage page: this project (or ``?project=all``), sessions, blocks, the bill."""
    report = await _report(usage, project, since, until, None, offset)
    view = page_context(report)
    view["chart"] = Markup(view["chart"])  # noqa: S704 - built by usage_view, every text escaped
    view["workflows"] = total_texts(report["workflows"])
    context = {"active": "usage", "title": "Claude Code usage", "u": report, "view": view}
    return render_page(request, "usage.html", {**context, **_FILTERS})


@router.get("/usage/sessions/{session_id}", response_class=HTMLResponse, include_in_schema=False)
async def show_usage_session(request: Request, usage: UsageDep, session_id: str) -> HTMLResponse:
    """One session's per-turn timeline."""
    found = await asyncio.to_thread(usage.session, session_id[:200])
    if not found["turns"]:
        raise NotFound(f"no Claude Code session {session_id[:80]!r} is stored")
    context = {"active": "usage", "title": "Session", "s": found, **_FILTERS}
    return render_page(request, "usage_session.html", context)


async def home_tile(usage: UsageService) -> dict[str, Any]:
    """The home page's tile: this project's estimate today, 7 and 30 days, the active block.

    It never asks the Admin API itself (the spend panel beside it does): the reconciliation
    line shows once the usage page has fetched the billed side.
    """
    query = parse_query(usage.config.project_root, limit=1)
    report = await asyncio.to_thread(usage.report, query, billing="cached")
    active = next((b for b in report["blocks"] if b["active"]), None)
    return {
        "periods": report["periods"],
        "price_source": report["price_source"],
        "active_block": active,
        "skipped_lines": report["skipped_lines"],
        "reconciliation": report["reconciliation"],
        **_FILTERS,
    }

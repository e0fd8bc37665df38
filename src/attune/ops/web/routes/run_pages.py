"""Pages of workflows and runs: ``/workflows``, ``/runs``, ``/runs/{id}`` and the home panel.

The pages are server-rendered from the same store and registry as their JSON twins
(``/api/workflows``, ``/api/runs``, ``/api/runs/{id}``); the page scripts then talk to those
APIs and to the run's SSE stream.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from attune.ops.errors import RunNotFound
from attune.ops.store.database import Store
from attune.ops.store.runs import Run, RunFilter, RunStatus
from attune.ops.web.pages import render_page
from attune.ops.web.run_costs import format_cost, total_texts, usage_texts
from attune.ops.web.services import RegistryDep, ServicesDep, StoreDep
from attune.ops.web.workflow_list import WorkflowGroup, WorkflowListCache

__all__ = ["format_duration", "home_panel", "router"]

router = APIRouter(tags=["pages"])

PAGE_SIZE = 50
HOME_RECENT = 5
STATUSES: tuple[str, ...] = tuple(s.value for s in RunStatus)
DATE_PRESETS: dict[str, tuple[str, timedelta | None]] = {
    "24h": ("Last 24 h", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "all": ("All time", None),
}
CHART_WIDTH, CHART_HEIGHT, CHART_BARS = 120, 28, 10


def format_duration(seconds: float | None) -> str:
    """A duration as people read it; the same rules as ``attune.formatDuration`` in app.js."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = int(seconds // 60), int(seconds % 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _run_row(run: Run, q: str = "") -> dict[str, Any]:
    href = f"/runs/{run.id}" + (f"?{urlencode({'q': q})}" if q else "")
    return {
        "id": run.id,
        "workflow": run.workflow,
        "path": run.path,
        "status": run.status,
        "status_label": run.status.replace("_", " "),
        "started_at": run.started_at,
        "duration": format_duration(run.duration_s),
        "duration_s": run.duration_s,
        "exit_code": run.exit_code,
        "href": href,
        "cost": format_cost(run.usage.cost_usd) if run.usage and run.usage.calls else "–",
        "host": run.host,
        "user": run.user,
    }


# -- pages ---------------------------------------------------------------------------------------


@router.get("/workflows", response_class=HTMLResponse, include_in_schema=False)
async def show_workflows(
    request: Request,
    registry: RegistryDep,
    services: ServicesDep,
    workflow: str = "",
    path: str | None = None,
) -> HTMLResponse:
    """Every workflow grouped by source, most recently used first, with its last status,
    duration and success rate; a filter box, the files' errors and the scope picker.

    ``?workflow=NAME`` preselects a workflow; ``?path=REL`` picks that scope (the script reads
    it) and, without ``workflow``, preselects the first workflow that takes a path.
    """
    current = await asyncio.to_thread(registry.load)
    cache = services.page_cache.setdefault("workflow_list", WorkflowListCache())
    assert isinstance(cache, WorkflowListCache)
    records, history_error = await asyncio.to_thread(cache.records, services.store)

    def selected(groups: list[WorkflowGroup]) -> str:
        shown = [item for group in groups for item in group.items]
        names = [item["name"] for item in shown]
        scoped = [item["name"] for item in shown if item["accepts_path"]]
        fallback = scoped[0] if path and scoped else (names[0] if names else "")
        return workflow if workflow in names else fallback

    def render(groups: list[WorkflowGroup], chosen: str) -> str:
        for item in (item for group in groups for item in group.items):
            item["duration_text"] = format_duration((item["last_run"] or {}).get("duration_s"))
        fragment = services.templates.get_template("_workflow_list.html")
        return fragment.render(
            groups=groups,
            workflows=current.workflows,
            history_error=history_error,
            selected=chosen,
        )

    _, chosen, html = await asyncio.to_thread(cache.page, current, records, selected, render)
    context = {
        "active": "workflows",
        "title": "Workflows",
        "workflow_list": Markup(html),  # noqa: S704 - rendered by our autoescaping template
        "workflows": current.workflows,
        "errors": current.shown_errors(),
        "error_count": len(current.errors),
        "selected": chosen,
    }
    return render_page(request, "workflows.html", context)


@router.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
async def show_run(request: Request, run_id: str, store: StoreDep) -> HTMLResponse:
    """One run: status, timings, the live log, search, cancel, re-run and recommendations."""
    known = run_id.isascii() and run_id.isdigit() and len(run_id) <= 19  # an id SQLite can hold
    run = await asyncio.to_thread(store.get_run, int(run_id)) if known else None
    if run is None:
        raise RunNotFound(f"There is no run #{run_id}; it may have been removed by retention.")
    context = {
        "active": "runs",
        "title": f"Run #{run.id} · {run.workflow}",
        "run": run,
        "run_json": run.to_json(),
        "duration_text": format_duration(run.duration_s),
        "command_text": shlex.join(run.command),
        "usage_text": usage_texts(run.to_json()["usage"]),
    }
    return render_page(request, "run.html", context)


def _split_statuses(raw: Sequence[str]) -> list[str]:
    wanted = {part.strip() for value in raw for part in value.split(",")}
    return [s for s in STATUSES if s in wanted]


def _since(preset: str) -> str | None:
    delta = DATE_PRESETS.get(preset, ("", None))[1]
    if delta is None:
        return None
    return (datetime.now(UTC) - delta).isoformat(timespec="milliseconds")


def _bar_chart(recent: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rectangles of a small bar chart of durations (oldest left), scaled to the longest."""
    longest = max((r["duration_s"] or 0 for r in recent), default=0) or 1
    step = CHART_WIDTH / CHART_BARS
    shown = recent[-CHART_BARS:]
    empty_slots = CHART_BARS - len(shown)  # the newest bar is always on the right
    bars = []
    for i, r in enumerate(shown):
        height = max(2.0, (r["duration_s"] or 0) / longest * (CHART_HEIGHT - 2))
        bars.append(
            {
                "x": round((empty_slots + i) * step + 1, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "w": round(step - 2, 1),
                "h": round(height, 1),
                "status": r["status"],
                "label": f"#{r['id']} {r['status']} in {format_duration(r['duration_s'])}",
            }
        )
    return bars


def _raw_stats(store: Store, names: Sequence[str]) -> list[dict[str, Any]]:
    """``store.workflow_stats`` of every workflow in ``names`` that has finished runs."""
    found = (store.workflow_stats(name, CHART_BARS) for name in names)
    return [data for data in found if data["recent"]]


def _workflow_stats(store: Store, names: Sequence[str]) -> list[dict[str, Any]]:
    stats = []
    for data in _raw_stats(store, names):
        name, rate = data["workflow"], data["success_rate"]
        stats.append(
            {
                "workflow": name,
                "bars": _bar_chart(data["recent"]),
                "success_rate": None if rate is None else round(rate * 100),
                "count": len(data["recent"]),
                "last": data["recent"][-1],
            }
        )
    return stats


@dataclass(frozen=True)
class HistoryQuery:
    """The history page's filters, cleaned: unknown statuses and presets are ignored."""

    statuses: list[str]
    workflow: str
    since: str
    q: str
    before: int | None
    host: str = ""
    user: str = ""

    def url_params(self) -> list[tuple[str, str]]:
        """The filters as query parameters (empty ones left out), for the pager's links."""
        params = [("status", s) for s in self.statuses]
        texts = (("workflow", self.workflow), ("q", self.q), ("host", self.host))
        params += [(k, v) for k, v in (*texts, ("user", self.user)) if v]
        return params + ([("since", self.since)] if self.since != "all" else [])


def _history(store: Store, known: Sequence[str], query: HistoryQuery) -> dict[str, Any]:
    """The history page's data (blocking: runs in a worker thread)."""
    runs, next_cursor = store.list_runs(
        workflow=query.workflow or None,
        statuses=query.statuses,
        q=query.q or None,
        limit=PAGE_SIZE,
        before=query.before,
        since=_since(query.since),
        host=query.host or None,
        user=query.user or None,
    )
    hosts, users = store.run_origins()
    extra = {r.workflow for r in runs} | ({query.workflow} if query.workflow else set())
    names = sorted(set(known) | extra)
    base = query.url_params()
    since = _since(query.since)
    total = store.usage_total(
        RunFilter(
            query.workflow or None,
            query.statuses,
            query.q or None,
            since,
            query.host or None,
            query.user or None,
        )
    )
    return {
        "hosts": hosts,
        "users": users,
        # who and where: shown once runs come from more than one machine or person (a team)
        "show_origin": len(hosts) > 1 or len(users) > 1 or bool(query.host or query.user),
        "rows": [_run_row(r, query.q) for r in runs],
        "total": total_texts(total.to_json()),
        "workflow_names": names,
        "older_url": f"/runs?{urlencode([*base, ('before', next_cursor)])}"
        if next_cursor
        else None,
        "newest_url": f"/runs?{urlencode(base)}" if query.before is not None else None,
        "stats": _workflow_stats(store, names) if query.before is None else [],
    }


@router.get("/runs", response_class=HTMLResponse, include_in_schema=False)
async def show_runs(
    request: Request,
    store: StoreDep,
    registry: RegistryDep,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    workflow: str = "",
    since: str = "all",
    q: str = "",
    before: int | None = None,
    host: str = "",
    user: str = "",
) -> HTMLResponse:
    """Run history: filters (status, workflow, date, log text; host and user once a team
    shares the store), cursor pages, per-workflow stats."""
    query = HistoryQuery(
        statuses=_split_statuses(status),
        workflow=workflow,
        since=since if since in DATE_PRESETS else "all",
        q=q.strip(),
        before=before,
        host=host.strip(),
        user=user.strip(),
    )
    known = [w.name for w in (await asyncio.to_thread(registry.load)).workflows]
    data = await asyncio.to_thread(_history, store, known, query)
    context = {
        "active": "runs",
        "title": "Runs",
        "filters": {
            "status": query.statuses,
            "workflow": workflow,
            "since": query.since,
            "q": query.q,
            "host": query.host,
            "user": query.user,
        },
        "filtered": bool(query.url_params()),
        "statuses": STATUSES,
        "presets": {k: label for k, (label, _) in DATE_PRESETS.items()},
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT},
        **data,
    }
    return render_page(request, "runs.html", context)


@router.get("/api/workflows/stats")
async def list_workflow_stats(store: StoreDep, registry: RegistryDep) -> dict[str, Any]:
    """The JSON twin of the history page's charts: per known workflow with finished runs, the
    last 10 (``id``, ``status``, ``duration_s``, oldest first) and ``success_rate`` (0..1 or
    null; succeeded out of succeeded + failed)."""
    names = sorted(w.name for w in (await asyncio.to_thread(registry.load)).workflows)
    return {"workflows": await asyncio.to_thread(_raw_stats, store, names)}


async def home_panel(store: Store) -> dict[str, Any] | None:
    """The home page's runs panel: the run in progress (if any) and the last few runs."""
    return await asyncio.to_thread(_home_panel, store)


def _home_panel(store: Store) -> dict[str, Any] | None:
    running, _ = store.list_runs(statuses=[RunStatus.RUNNING.value], limit=1)
    recent, _ = store.list_runs(limit=HOME_RECENT + 1)
    current = running[0] if running else None
    recent = [r for r in recent if current is None or r.id != current.id][:HOME_RECENT]
    return {
        "current": _run_row(current) if current else None,
        "recent": [_run_row(r) for r in recent],
    }

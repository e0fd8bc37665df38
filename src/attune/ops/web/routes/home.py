"""The home page: spend, the current run and recent runs, specs in progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from attune.ops.web.pages import render_page
from attune.ops.web.routes import cost, run_pages, specs, usage
from attune.ops.web.services import CostDep, StoreDep, UsageDep

router = APIRouter(tags=["pages"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def show_home(
    request: Request,
    store: StoreDep,
    cost_service: CostDep,
    usage_service: UsageDep,
    refresh: str = "",
) -> HTMLResponse:
    """The dashboard's front page; each panel is built by its resource's module."""
    context: dict[str, Any] = {
        "active": "home",
        "title": "Home",
        "spend": await cost.home_panel(cost_service, refresh=refresh in ("1", "true")),
        "usage": await usage.home_tile(usage_service),
        "runs": await run_pages.home_panel(store),
        "specs": await specs.home_panel(request),
    }
    return render_page(request, "home.html", context)

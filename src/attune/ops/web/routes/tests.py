"""Test results (DESIGN §12): a run's tests, a test's history, a workflow's flaky and failing
tests — each page with its JSON twin, all read off the event loop (runs/results.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from attune.ops.errors import InvalidFilter, TestNotFound
from attune.ops.runs.results import history_of, run_tests, workflow_board
from attune.ops.store.database import Store
from attune.ops.store.tests import FAILING
from attune.ops.web.pages import render_page
from attune.ops.web.routes.run_pages import format_duration
from attune.ops.web.services import StoreDep

__all__ = ["router"]

router = APIRouter(tags=["tests"])

STATUSES = ("passed", "failed", "error", "skipped")
MAX_LIMIT = 50_000


def _statuses(values: list[str]) -> list[str]:
    wanted = [s.strip() for value in values for s in value.split(",") if s.strip()]
    bad = [s for s in wanted if s not in STATUSES]
    if bad:
        raise InvalidFilter(
            f"unknown test status {bad[0]!r} (one of: {', '.join(STATUSES)})", status=bad[0]
        )
    return wanted


@router.get("/api/runs/{run_id}/tests")
async def list_run_tests(
    run_id: int,
    store: StoreDep,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The run's test results: ``summary`` (``null`` without a report), ``cases`` (failed,
    errored, then slowest; ``?status=failed,error``, ``limit``, ``offset``), ``slowest``,
    ``notes`` and the comparison with the previous run of the same workflow and scope."""
    wanted = _statuses(status)
    return await asyncio.to_thread(
        run_tests, store, run_id, statuses=wanted, limit=limit, offset=offset
    )


@router.get("/api/tests/{test_id}")
async def show_test(test_id: int, store: StoreDep) -> dict[str, Any]:
    """One test's last 50 results and ``flaky``; 404 ``test_not_found``."""
    return await asyncio.to_thread(history_of, store, test_id)


@router.get("/api/tests")
async def list_test_boards(store: StoreDep, workflow: str | None = None) -> dict[str, Any]:
    """The flakiest and most-failing tests of ``workflow`` (default: every workflow that has
    test results), over the last 14 days."""
    return {"workflows": await asyncio.to_thread(_boards, store, workflow)}


def _boards(store: Store, workflow: str | None) -> list[dict[str, Any]]:
    names = [workflow] if workflow else store.reported_workflows()
    return [workflow_board(store, name) for name in names]


@router.get("/tests/{test_id}", response_class=HTMLResponse, include_in_schema=False)
async def show_test_page(request: Request, test_id: str, store: StoreDep) -> HTMLResponse:
    """A test's history: its last 50 results with run links and durations, whether it is
    flaky, and the flakiest and most-failing tests of its workflow."""
    known = test_id.isascii() and test_id.isdigit() and len(test_id) <= 18
    if not known:
        raise TestNotFound(f"There is no test #{test_id}.", test_id=test_id)
    history = await asyncio.to_thread(history_of, store, int(test_id))
    board = await asyncio.to_thread(workflow_board, store, history["test"]["workflow"])
    for result in history["results"]:
        result["duration_text"] = format_duration(result["time_s"])
        result["failing"] = result["status"] in FAILING
    context = {
        "active": "runs",
        "title": f"Test {history['test']['name']}",
        "history": history,
        "boards": [board],
    }
    return render_page(request, "test.html", context)


@router.get("/tests", response_class=HTMLResponse, include_in_schema=False)
async def show_test_boards(
    request: Request, store: StoreDep, workflow: str | None = None
) -> HTMLResponse:
    """The flakiest and most-failing tests of each workflow (or of ``?workflow=``)."""
    boards = await asyncio.to_thread(_boards, store, workflow)
    context = {"active": "runs", "title": "Flaky and failing tests", "boards": boards}
    return render_page(request, "tests.html", context)

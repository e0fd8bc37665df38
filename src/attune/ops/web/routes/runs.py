"""The runs API: start, list, show, log, live events, cancel and re-run (DESIGN §5)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.types import Message, Receive, Scope, Send

from attune.ops.errors import InvalidFilter, InvalidLastEventId, StoreUnavailable
from attune.ops.runs.ansi import strip_ansi
from attune.ops.runs.stream import event_stream
from attune.ops.store.database import Store
from attune.ops.store.runs import MAX_LIMIT, RunFilter, RunStatus
from attune.ops.web.connections import abort_connection
from attune.ops.web.services import HubDep, RunnerDep, StoreDep

router = APIRouter(tags=["runs"])
logger = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
# A reader that accepts nothing for this long (a frozen tab, a stopped `curl`) is disconnected;
# a live one resumes by id. Its queue is already bounded; this frees its connection too.
SEND_TIMEOUT_S = 30.0
CANCEL_WAIT_S = 1.0


class StartRun(BaseModel):
    """The body of ``POST /api/runs``."""

    model_config = ConfigDict(extra="forbid")
    workflow: str
    path: str | None = None


class BoundedStreamResponse(StreamingResponse):
    """A streamed body whose reader is let go once it accepts nothing for a while.

    uvicorn's ``send`` returns as soon as the bytes are in its transport's buffer; it waits only
    while that buffer is over its high-water mark (64 KiB), for the reader to drain it. So a
    reader that reads nothing is noticed once the kernel's buffers and then the transport's
    are full, when a ``send`` waits ``SEND_TIMEOUT_S``. Returning early is not enough then:
    uvicorn's ``close()`` first flushes the transport's buffer, which never happens, so the
    connection is reset (:func:`abort_connection`) and its buffers freed.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._scope = scope
        await super().__call__(scope, receive, send)

    async def stream_response(self, send: Send) -> None:
        async def send_or_give_up(message: Message) -> None:
            with anyio.fail_after(SEND_TIMEOUT_S):
                await send(message)

        try:
            await super().stream_response(send_or_give_up)
        except TimeoutError:
            reset = abort_connection(self._scope)
            logger.info(
                "a reader of a streamed answer accepted nothing for %.0f s; %s",
                SEND_TIMEOUT_S,
                "disconnected" if reset else "its connection could not be reset",
            )


class EventStreamResponse(BoundedStreamResponse):
    """The SSE stream of a run (``text/event-stream``), bounded like every streamed answer."""


def _statuses(values: list[str]) -> list[str]:
    statuses = [s.strip() for value in values for s in value.split(",") if s.strip()]
    known = {s.value for s in RunStatus}
    bad = [s for s in statuses if s not in known]
    if bad:
        raise InvalidFilter(
            f"unknown status {bad[0]!r} (one of: {', '.join(sorted(known))})", status=bad[0]
        )
    return statuses


@router.post("/api/runs", status_code=201)
async def create_run(
    body: StartRun, runner: RunnerDep, x_attune_client: Annotated[str | None, Header()] = None
) -> JSONResponse:
    """Start a workflow run: ``{"workflow": "todo-scan", "path": "src"}``. Its ``trigger`` is
    ``cli`` when ``attune runs start`` asked (``X-Attune-Client: cli``), else ``web``."""
    trigger = "cli" if x_attune_client == "cli" else "web"
    # Off the event loop: recording the run may wait on a database another process locks.
    loop = asyncio.get_running_loop()
    run = await asyncio.to_thread(runner.start, body.workflow, body.path, trigger, loop)
    return JSONResponse(run.to_json(), status_code=201)


@router.get("/api/runs")
async def list_runs(
    store: StoreDep,
    workflow: str | None = None,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    q: str | None = None,
    limit: int = 50,
    before: int | None = None,
    since: str | None = None,
    host: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """Runs newest first, filtered; ``next`` is the cursor of the next page (``before=``);
    ``total`` is what every run of the filter (all pages) spent: ``{"runs", …tokens,
    "cost_usd"}``, ``runs`` counting those that reported usage. ``host`` and ``user`` pick
    the runs of one machine or one teammate (a team store)."""
    statuses = _statuses(status)
    if limit < 1:
        raise InvalidFilter(f"limit must be between 1 and {MAX_LIMIT}", limit=limit)
    runs, next_cursor = await asyncio.to_thread(
        store.list_runs,
        workflow=workflow or None,
        statuses=statuses,
        q=(q or "").strip() or None,
        limit=min(limit, MAX_LIMIT),
        before=before,
        since=since or None,
        host=host or None,
        user=user or None,
    )
    text = (q or "").strip() or None
    total = await asyncio.to_thread(
        store.usage_total,
        RunFilter(workflow or None, statuses, text, since or None, host or None, user or None),
    )
    return {"runs": [r.to_json() for r in runs], "next": next_cursor, "total": total.to_json()}


@router.get("/api/runs/current")
async def show_current_run(runner: RunnerDep, store: StoreDep) -> dict[str, Any]:
    """The run in progress on this server, or ``{"run": null}``."""
    run_id = runner.current_run_id
    run = await asyncio.to_thread(store.get_run, run_id) if run_id is not None else None
    return {"run": run.to_json() if run else None}


@router.get("/api/runs/{run_id}")
async def show_run(run_id: int, store: StoreDep) -> dict[str, Any]:
    """One run object; 404 ``run_not_found``."""
    return (await asyncio.to_thread(store.require_run, run_id)).to_json()


@router.get("/api/runs/{run_id}/recommendations")
async def list_recommendations(run_id: int, store: StoreDep) -> dict[str, Any]:
    """The recommendations a run emitted (``ATTUNE_REC`` lines), in order."""
    await asyncio.to_thread(store.require_run, run_id)
    recs = await asyncio.to_thread(store.recommendations, run_id)
    return {"recommendations": [payload for _, payload in recs]}


async def _log_body(
    store: Store, run_id: int, ansi: bool, batch: tuple[int, str] | None
) -> AsyncIterator[bytes]:
    """The log from ``batch`` (already read) on; damage found midway ends it with a note."""
    while batch is not None:
        after, text = batch
        yield (text if ansi else strip_ansi(text)).encode()
        try:
            batch = await asyncio.to_thread(_log_batch, store, run_id, after)
        except StoreUnavailable as exc:
            # The status line is sent: say so in the body rather than cutting the connection.
            logger.warning("run %d: log cut after line %d: %s", run_id, after, exc.message)
            note = f"[attune] the rest of this log (after line {after}) could not be read"
            yield f"{note}: {exc.message}\n".encode()
            return


def _log_batch(store: Store, run_id: int, after: int) -> tuple[int, str] | None:
    parts: list[str] = []
    last = after
    for first, lines in store.iter_chunks(run_id, after):
        parts.append("".join(line + "\n" for line in lines))
        last = first + len(lines) - 1
        if sum(map(len, parts)) > 1_000_000:
            break
    return (last, "".join(parts)) if parts else None


@router.get("/api/runs/{run_id}/log")
async def show_run_log(
    run_id: int, store: StoreDep, ansi: int = 1, download: int = 0
) -> StreamingResponse:
    """The full log as text; ``?ansi=0`` strips ANSI escapes, ``?download=1`` saves a file."""
    store.require_run(run_id)
    # Read the start before answering, so a damaged log is a 503 error, not a cut stream.
    first = await asyncio.to_thread(_log_batch, store, run_id, 0)
    headers = {"Cache-Control": "no-store"}
    if download:
        suffix = "" if ansi else "-plain"
        headers["Content-Disposition"] = f'attachment; filename="run-{run_id}{suffix}.log"'
    return BoundedStreamResponse(  # a download nobody reads must not hold its connection
        _log_body(store, run_id, bool(ansi), first),
        media_type="text/plain; charset=utf-8",
        headers=headers,
    )


@router.get("/api/runs/{run_id}/events")
async def stream_run_events(
    run_id: int,
    request: Request,
    store: StoreDep,
    hub: HubDep,
    after: Annotated[int | None, Query(ge=0)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """SSE of a run: ``lines`` frames, ``recommendation``s, then ``done`` (DESIGN §5).

    ``Last-Event-ID`` is an id this server sent: 1 to 19 ASCII digits, else 400
    ``invalid_last_event_id``. Starting from 0 instead would replay, unasked, every line the
    reader already has; browsers only ever send back what they were sent. Empty means none.
    """
    start = after or 0
    sent_id = (last_event_id or "").strip(" \t")
    if sent_id:
        if not (sent_id.isascii() and sent_id.isdigit() and len(sent_id) <= 19):
            raise InvalidLastEventId(
                "Last-Event-ID must be the id of an event of this stream (1 to 19 digits)."
            )
        start = max(start, int(sent_id))
    await asyncio.to_thread(store.require_run, run_id)
    return EventStreamResponse(
        event_stream(store, hub, run_id, start),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


@router.post("/api/runs/{run_id}/cancel", status_code=202)
async def cancel_run(
    run_id: int, runner: RunnerDep, x_attune_client: Annotated[str | None, Header()] = None
) -> JSONResponse:
    """Cancel a live run: 202 with the run (``cancelled`` once its group is gone)."""
    by = (
        "`attune runs cancel` in a terminal"
        if x_attune_client == "cli"
        else "a user in the dashboard"
    )
    run = await asyncio.to_thread(runner.cancel, run_id, by)
    run = await runner.wait(run_id, CANCEL_WAIT_S) or run
    return JSONResponse(run.to_json(), status_code=202)


@router.post("/api/runs/{run_id}/rerun", status_code=201)
async def rerun_run(run_id: int, runner: RunnerDep) -> JSONResponse:
    """Start a new run with the same workflow and path: 201 with the new run."""
    run = await asyncio.to_thread(runner.rerun, run_id, "web", asyncio.get_running_loop())
    return JSONResponse(run.to_json(), status_code=201)

"""Specs: the listing, completion candidates, dismissals, "Mark complete", and their pages.

Scanning touches the disk, so every handler that lists specs runs it in a worker thread; the
app's :class:`SpecIndex` (created on first use, one per app) keeps warm listings to a few stats.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from attune.ops.config import Config
from attune.ops.errors import InvalidBody, SpecsReadOnly
from attune.ops.specs.candidates import candidates_off_reason, detect_candidates
from attune.ops.specs.edit import FileEdit, plan_spec_status, set_spec_status
from attune.ops.specs.index import SpecIndex
from attune.ops.specs.listing import SpecListing
from attune.ops.specs.paths import resolve_spec_path
from attune.ops.specs.status import SpecStatus
from attune.ops.specs.undo import UndoLog
from attune.ops.specs.views import (
    STATUS_LABELS,
    filter_specs,
    load_detail,
    spec_json,
    spec_url,
    workflow_url,
)
from attune.ops.store.database import Store
from attune.ops.web.markdown import render_markdown
from attune.ops.web.pages import render_page
from attune.ops.web.services import AppServices, ConfigDep, ServicesDep, StoreDep, services_of

router = APIRouter(tags=["specs"])

_HASH_RE = re.compile(r"^[0-9a-f]{8,64}$")


class DismissBody(BaseModel):
    path: str
    snapshot_hash: str


class StatusBody(BaseModel):
    path: str
    status: str
    preview: str | None = None  # the digest a preview returned: write only that very change


class UndoBody(BaseModel):
    token: str


def spec_index(services: AppServices) -> SpecIndex:
    """This app's spec index (built with the app; its stat cache lives as long as the app)."""
    return services.specs


def undo_log(services: AppServices) -> UndoLog:
    """This app's recent status changes that can be undone."""
    return services.spec_undo


async def _listing(services: AppServices) -> SpecListing:
    """The listing, read in a worker thread: it stats files and may run git."""
    return await run_in_threadpool(spec_index(services).listing)


def _listing_body(services: AppServices, listing: SpecListing) -> bytes:
    """The unfiltered ``GET /api/specs`` body, encoded once per listing generation."""
    cached: tuple[int, int, bytes] | None = services.page_cache.get("spec_body")
    if cached is not None and cached[:2] == (id(listing), listing.generation):
        return cached[2]
    body = json.dumps(_listing_json(listing, listing.specs), ensure_ascii=False).encode()
    services.page_cache["spec_body"] = (id(listing), listing.generation, body)
    return body


def _listing_json(listing: SpecListing, specs: Any) -> dict[str, Any]:
    return {
        "roots": [root.path for root in listing.roots],
        "root_details": [
            {"path": r.path, "exists": r.exists, "spec_count": r.spec_count, "problem": r.problem}
            for r in listing.roots
        ],
        "specs": [spec_json(spec, listing) for spec in specs],
    }


@router.get("/api/specs")
async def list_specs(
    services: ServicesDep, status: str | None = None, q: str | None = None
) -> Response:
    """Every spec under the roots; ``status`` (normalised, or ``problem``) and ``q`` filter."""
    listing = await _listing(services)
    if not status and not q:
        return Response(_listing_body(services, listing), media_type="application/json")
    chosen = filter_specs(listing.specs, status, q)
    return JSONResponse(_listing_json(listing, chosen))


def _candidates_json(config: Config, index: SpecIndex, store: Store) -> dict[str, Any]:
    reason = candidates_off_reason(config)
    found = [] if reason else detect_candidates(config, index=index, store=store)
    return {
        "enabled": reason is None,
        "reason": reason,
        "candidates": [c.to_json() for c in found],
    }


@router.get("/api/specs/candidates")
async def list_candidates(services: ServicesDep) -> dict[str, Any]:
    """Specs that look finished but are not closed; ``reason`` says why when detection is off."""
    return await run_in_threadpool(
        _candidates_json, services.config, spec_index(services), services.store
    )


@router.post("/api/specs/candidates/dismiss")
async def dismiss_candidate(body: DismissBody, config: ConfigDep, store: StoreDep) -> Any:
    """Hide a candidate until its evidence (tasks, status, file times) changes."""
    digest = body.snapshot_hash.strip().lower()
    if not _HASH_RE.match(digest):
        raise InvalidBody("snapshot_hash must be the hex hash a candidate carries.")
    _, path = resolve_spec_path(config, body.path)
    await run_in_threadpool(store.dismiss_spec, path, digest)
    return {"dismissed": True, "path": path, "snapshot_hash": digest}


def _writable(config: Config) -> None:
    if not config.allow_run:
        raise SpecsReadOnly(
            "The dashboard runs read-only (--read-only): spec files are not changed."
        )


def _changes_json(edits: tuple[FileEdit, ...]) -> list[dict[str, Any]]:
    return [
        {"file": e.filename, "line": c.line, "old_line": c.old, "new_line": c.new}
        for e in edits
        for c in e.lines
    ]


@router.post("/api/specs/status/preview")
async def preview_spec_status(body: StatusBody, config: ConfigDep) -> Any:
    """What "Mark complete" would change, written nowhere: file, line, old and new line."""
    _writable(config)
    plan = await run_in_threadpool(plan_spec_status, config, body.path, body.status)
    changes = _changes_json(plan.edits)
    return {
        "path": plan.path,
        **changes[0],
        "previous": plan.previous,
        "status": plan.status,
        "normalised": plan.normalised.value,
        "inserted": plan.inserted,
        "changes": changes,
        "preview": plan.digest,
    }


@router.post("/api/specs/status")
async def change_spec_status(services: ServicesDep, body: StatusBody, config: ConfigDep) -> Any:
    """Rewrite a spec's status in place: ``{"path": "docs/specs/auth", "status": "complete"}``
    (with ``"preview": digest``, only if it is still the previewed change); undoable a minute."""
    _writable(config)
    log = undo_log(services)
    change = await run_in_threadpool(
        functools.partial(set_spec_status, config, body.path, body.status, expect=body.preview)
    )
    token = log.record(change)
    listing = await _listing(services)
    spec = next((s for s in listing.specs if s.path == change.path), None)
    return {
        "path": change.path,
        "file": change.file,
        "previous": change.previous,
        "status": change.status,
        "normalised": change.normalised.value,
        "inserted": change.inserted,
        "changes": _changes_json(change.edits),
        "undo": {"token": token, "expires_in": int(log.seconds)},
        "spec": None if spec is None else spec_json(spec, listing),
    }


@router.post("/api/specs/status/undo")
async def undo_spec_status(services: ServicesDep, body: UndoBody, config: ConfigDep) -> Any:
    """Put back the bytes a status change replaced, within a minute and if nothing edited the
    file since (else 409 ``undo_expired`` / ``undo_file_changed``)."""
    _writable(config)
    if not body.token or len(body.token) > 200:
        raise InvalidBody("token must be the undo token a status change returned.")
    undone = await run_in_threadpool(undo_log(services).undo, body.token)
    listing = await _listing(services)
    spec = next((s for s in listing.specs if s.path == undone.path), None)
    return {
        "undone": True,
        "path": undone.path,
        "files": list(undone.files),
        "spec": None if spec is None else spec_json(spec, listing),
    }


@router.get("/api/specs/{name:path}")
async def show_spec_json(services: ServicesDep, name: str, path: str | None = None) -> Any:
    """The detail of one spec: files' text, tasks, problems (the JSON twin of its page)."""
    listing = await _listing(services)
    spec = listing.find(name, path)
    detail = await run_in_threadpool(load_detail, spec, listing)
    return detail.to_json(listing)


def _status_options(listing: SpecListing) -> list[tuple[str, str, int]]:
    counts: dict[str, int] = {}
    for spec in listing.specs:
        counts[spec.status.value] = counts.get(spec.status.value, 0) + 1
    return [(s.value, STATUS_LABELS[s], counts[s.value]) for s in SpecStatus if s.value in counts]


def _candidate_urls(listing: SpecListing, candidates: dict[str, Any]) -> dict[str, str]:
    paths = {c["path"] for c in candidates["candidates"]}
    return {s.path: spec_url(s, listing) for s in listing.specs if s.path in paths}


def _rows_html(services: AppServices, listing: SpecListing) -> Markup:
    """The table rows, most recently changed first, rendered once per listing generation.

    Rows depend only on the listing (relative times are filled in by the browser), so a large
    repository pays for rendering them only when something changed.
    """
    cached: tuple[int, int, Markup] | None = services.page_cache.get("spec_rows_html")
    if cached is not None and cached[:2] == (id(listing), listing.generation):
        return cached[2]
    rows = sorted(listing.specs, key=lambda s: (s.archived, -(listing.last_change(s).ns or 0)))
    template = services.templates.env.get_template("_spec_rows.html")
    # The app's environment autoescapes: the rendered rows are already safe HTML.
    html = Markup(template.render(rows=[spec_json(s, listing) for s in rows]))  # noqa: S704
    services.page_cache["spec_rows_html"] = (id(listing), listing.generation, html)
    return html


@router.get("/specs", response_class=HTMLResponse, include_in_schema=False)
async def show_specs(
    request: Request,
    services: ServicesDep,
    status: str = Query(""),
    q: str = Query(""),
) -> HTMLResponse:
    """The specs page: "Ready to close?" cards, then a filterable table of every spec."""
    listing = await _listing(services)
    candidates = await run_in_threadpool(
        _candidates_json, services.config, spec_index(services), services.store
    )
    context = {
        "active": "specs",
        "title": "Specs",
        "listing": listing,
        "spec_count": len(listing.specs),
        "rows_html": await run_in_threadpool(_rows_html, services, listing),
        "candidates": candidates,
        "candidate_urls": _candidate_urls(listing, candidates),
        "status_options": _status_options(listing),
        "status_filter": status,
        "query": q,
    }
    return render_page(request, "specs.html", context)


@router.get("/specs/{name:path}", response_class=HTMLResponse, include_in_schema=False)
async def show_spec(
    request: Request, services: ServicesDep, name: str, path: str | None = None
) -> HTMLResponse:
    """One spec: its phase files rendered, its tasks read-only, its problems."""
    listing = await _listing(services)
    spec = listing.find(name, path)
    detail = await run_in_threadpool(load_detail, spec, listing)
    rendered = await run_in_threadpool(
        lambda: {f.filename: render_markdown(f.text) for f in detail.files if f.text is not None}
    )
    context = {
        "active": "specs",
        "title": spec.name,
        "spec": spec_json(spec, listing),
        "detail": detail,
        "rendered": rendered,
        "workflow_url": workflow_url(spec),
        "status_labels": STATUS_LABELS,
        "namesakes": [
            (other.path, spec_url(other, listing))
            for other in listing.by_name.get(spec.name, [])
            if other is not spec
        ],
    }
    return render_page(request, "spec_detail.html", context)


async def home_panel(request: Request) -> dict[str, Any] | None:
    """The home page's "specs in progress" panel: counts, active specs, candidates."""
    services = services_of(request.app)
    listing = await _listing(services)
    candidates = await run_in_threadpool(
        _candidates_json, services.config, spec_index(services), services.store
    )
    active = [
        s
        for s in listing.specs
        if s.status in {SpecStatus.IN_PROGRESS, SpecStatus.IN_REVIEW, SpecStatus.BLOCKED}
    ]
    active.sort(key=lambda s: -(listing.last_change(s).ns or 0))
    counts: dict[str, int] = {}
    for spec in listing.specs:
        counts[spec.status.value] = counts.get(spec.status.value, 0) + 1
    return {
        "total": len(listing.specs),
        "roots": [r.path for r in listing.roots if r.exists],
        "active_count": len(active),
        "active": [spec_json(s, listing) for s in active[:5]],
        "complete": counts.get(SpecStatus.COMPLETE.value, 0),
        "candidates": len(candidates["candidates"]),
        "candidates_reason": candidates["reason"],
        "urls": {s.path: spec_url(s, listing) for s in active[:5]},
    }

"""Liveness and the session token."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from attune.ops.doctor import Check, CheckStatus, run_checks
from attune.ops.web.pages import render_page
from attune.ops.web.services import AppServices, ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def get_health(services: ServicesDep) -> dict[str, Any]:
    """``{"status": "ok", "version": …}`` while the server answers."""
    return {"status": "ok", "version": services.version}


@router.get("/api/session")
async def get_session(services: ServicesDep) -> dict[str, str]:
    """The per-process token that state-changing requests send as ``X-Attune-Token``."""
    return {"token": services.token}


async def _checks(services: AppServices, refresh: bool) -> list[Check]:
    return await anyio.to_thread.run_sync(
        lambda: run_checks(
            services.config, serving=True, refresh_cost=refresh, store=services.store
        )
    )


@router.get("/api/health")
async def get_health_checks(services: ServicesDep, refresh: bool = False) -> dict[str, Any]:
    """The checks of ``attune ops doctor``; ``refresh=1`` asks Anthropic instead of the cache.

    ``integrity`` is the store's start-up ``PRAGMA quick_check``: ``"ok"``, ``"unchecked"``
    (too big to check in time) or the first problem found. ``store`` says which backend
    serves (``"sqlite"`` or ``"postgresql"``) and where (a team database's URL is masked).
    """
    checks = await _checks(services, refresh)
    store_check = next((c for c in checks if c.name == "store"), None)
    return {
        "ok": not any(c.status is CheckStatus.FAIL for c in checks),
        "checks": [c.to_json() for c in checks],
        "integrity": services.store.integrity,
        "store": {
            "backend": services.store.backend,
            "where": services.config.store_label,
            "status": str(store_check.status) if store_check else None,
        },
    }


@router.get("/health", response_class=HTMLResponse, include_in_schema=False)
async def show_health(request: Request, services: ServicesDep, refresh: bool = False) -> Response:
    """The Health page: the same checks as ``attune ops doctor``."""
    checks = await _checks(services, refresh)
    counts = {s: sum(c.status is s for c in checks) for s in CheckStatus}
    return render_page(
        request,
        "health.html",
        {"active": "health", "title": "Health", "checks": checks, "counts": counts},
    )

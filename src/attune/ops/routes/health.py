"""Liveness and the session token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from attune.ops.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def get_health(services: ServicesDep) -> dict[str, Any]:
    """``{"status": "ok", "version": …}`` while the server answers."""
    return {"status": "ok", "version": services.version}


@router.get("/api/session")
async def get_session(services: ServicesDep) -> dict[str, str]:
    """The per-process token that state-changing requests send as ``X-Attune-Token``."""
    return {"token": services.token}

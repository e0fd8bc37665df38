"""The workflows API: built-ins plus the project's own, with the errors of a broken file."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from attune.ops.web.services import RegistryDep

router = APIRouter(tags=["workflows"])


@router.get("/api/workflows")
async def list_workflows(registry: RegistryDep) -> dict[str, Any]:
    """``{"workflows": [...], "errors": [{"file", "line", "key", "message"}]}``."""
    return registry.load().to_json()

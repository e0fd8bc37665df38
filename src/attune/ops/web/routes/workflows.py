"""The workflows API: built-ins plus the project's own, with the errors of a broken file."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from attune.ops.web.services import RegistryDep

router = APIRouter(tags=["workflows"])


@router.get("/api/workflows")
async def list_workflows(registry: RegistryDep) -> dict[str, Any]:
    """``{"workflows": [...], "errors": [{"file", "line", "key", "message"}]}``.

    The file is read and parsed in a thread (a big or slow file never stalls the event loop);
    after 200 errors one ``… and N more`` entry per file ends the list.
    """
    found = await asyncio.to_thread(registry.load)
    return found.to_json()

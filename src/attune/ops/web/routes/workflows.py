"""The workflows API: built-ins, the project's own and the tasks its tools declare, each with
its last run, and the errors of a broken file."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from attune.ops.web.services import RegistryDep, ServicesDep
from attune.ops.web.workflow_list import WorkflowListCache, api_payload

router = APIRouter(tags=["workflows"])


@router.get("/api/workflows")
async def list_workflows(registry: RegistryDep, services: ServicesDep) -> JSONResponse:
    """``{"workflows": [{"name", "description", "accepts_path", "source", "origin", "command",
    "last_run", "success_rate"}], "errors": [{"file", "line", "key", "message"}]}``.

    The files are read and parsed in a thread (a big or slow file never stalls the event loop),
    and re-read only when one of them changed; after 200 errors one ``… and N more`` entry per
    file ends the list. ``history_error`` says why ``last_run`` is missing when the database
    cannot be read.
    """
    found = await asyncio.to_thread(registry.load)
    cache = services.page_cache.setdefault("workflow_list", WorkflowListCache())
    assert isinstance(cache, WorkflowListCache)
    records, history_error = await asyncio.to_thread(cache.records, services.store)
    # Straight to JSON: FastAPI's encoder walks every value, slow for 500 workflows.
    return JSONResponse(api_payload(found, records, history_error))

"""The scope API: one level of the project tree for the scope picker."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from attune.ops.runs.scope import MAX_ENTRIES, list_scope, normalize_rel
from attune.ops.web.services import ConfigDep

router = APIRouter(tags=["scope"])


@router.get("/api/scope")
async def show_scope(config: ConfigDep, path: str = "", hidden: int = 0) -> dict[str, Any]:
    """``{"path", "entries": [{"name", "path", "kind"}]}``; ``?hidden=1`` adds hidden entries
    (``.git``, ``node_modules``, ``.gitignore`` matches …) flagged ``"hidden": true``."""
    rel = normalize_rel(path)
    entries = await asyncio.to_thread(
        list_scope, config.project_root, rel, include_hidden=bool(hidden)
    )
    body: dict[str, Any] = {
        "path": rel,
        "entries": [e.to_json(with_hidden=bool(hidden)) for e in entries],
    }
    if len(entries) >= MAX_ENTRIES:
        body["truncated"] = True  # an addition to the DESIGN shape, only when it applies
    return body

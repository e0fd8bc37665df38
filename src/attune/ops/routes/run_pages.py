"""Pages of workflows and runs (arrives with the runs issue)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["pages"])


async def home_panel(request: Request) -> dict[str, Any] | None:
    """The data of the home page's runs panel; ``None`` until the feature lands."""
    return None

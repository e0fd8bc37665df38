"""Routes for cost (arrives with its own issue)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["cost"])


async def home_panel(request: Request) -> dict[str, Any] | None:
    """The data of the home page's cost panel; None until the feature lands."""
    return None

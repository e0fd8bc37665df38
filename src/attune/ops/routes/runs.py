"""Routes for runs (arrives with its own issue)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["runs"])


async def home_panel(request: Request) -> dict[str, Any] | None:
    """The data of the home page's runs panel; None until the feature lands."""
    return None

"""Routes for workflows (arrives with its own issue)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["workflows"])

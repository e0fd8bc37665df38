"""Jinja2 templates and static files: one place that knows how a page is put together.

Every page gets the per-process token (``<meta name="attune-token">``), the project name, the
navigation, and static URLs that carry a content hash so a new release is never served stale.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from attune.ops.config import Config

__all__ = ["NAV", "STATIC_DIR", "TEMPLATES_DIR", "make_templates", "mount_static", "render_page"]

PACKAGE_DIR = Path(__file__).parent.parent  # templates/ and static/ sit in attune/ops/
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"

NAV: tuple[tuple[str, str], ...] = (
    ("home", "Home"),
    ("workflows", "Workflows"),
    ("runs", "Runs"),
    ("specs", "Specs"),
    ("usage", "Usage"),
)
NAV_URLS = {
    "home": "/",
    "workflows": "/workflows",
    "runs": "/runs",
    "specs": "/specs",
    "usage": "/usage",
}


@cache
def _static_digest(name: str) -> str:
    from attune._version import __version__

    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR.resolve()) or not path.is_file():
        return __version__
    return f"{__version__}-{hashlib.sha256(path.read_bytes()).hexdigest()[:10]}"


def static_url(name: str) -> str:
    """``/static/<name>?v=<version>-<content hash>``: cache-busting by version and content."""
    return f"/static/{name}?v={_static_digest(name)}"


def make_templates(config: Config, *, token: str) -> Jinja2Templates:
    """The app's Jinja2 environment (autoescape on) with the globals every page uses."""
    from attune._version import __version__

    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.globals.update(
        static_url=static_url,
        attune_token=token,
        project_name=config.project_root.name or str(config.project_root),
        project_root=str(config.project_root),
        version=__version__,
        allow_run=config.allow_run,
        nav=[(key, label, NAV_URLS[key]) for key, label in NAV],
    )
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


class _CachedStatic(StaticFiles):
    """Static files with a long cache: URLs change whenever the content does."""

    async def get_response(self, path: str, scope: Any) -> Any:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


def mount_static(app: FastAPI) -> None:
    app.mount("/static", _CachedStatic(directory=str(STATIC_DIR)), name="static")


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` with ``context`` plus the page globals."""
    from attune.ops.web.services import services_of

    templates = services_of(request.app).templates
    response: HTMLResponse = templates.TemplateResponse(
        request, template, context, status_code=status_code, headers=headers
    )
    response.headers.setdefault("cache-control", "no-store")
    return response

"""The app factory: ``create_app(config)`` builds the whole dashboard and owns its resources.

FastAPI is imported here, lazily from ``attune.ops``, so the core package stays light. Nothing is
created at import time: two apps built from two configs share nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from attune.ops.config import Config

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["WebStackMissing", "create_app"]

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'attune-ops[ops]'"


class WebStackMissing(ImportError):
    """The web server's dependencies (the ``ops`` extra) are not installed."""


def _import_fastapi() -> Any:
    try:
        import fastapi
        import jinja2  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise WebStackMissing(
            f"the attune ops dashboard needs its web extra ({exc.name} is missing): "
            f"run {INSTALL_HINT}"
        ) from exc
    return fastapi


def create_app(config: Config) -> FastAPI:
    """Build the dashboard for ``config``: store, runner, templates, routes, guards.

    Example: ``app = create_app(build_config("."))`` then serve it with uvicorn. Raises
    :class:`WebStackMissing` (an ``ImportError``) naming the extra when FastAPI is missing.
    """
    fastapi = _import_fastapi()

    from attune._version import __version__
    from attune.ops.web.errors import install_error_handlers
    from attune.ops.web.pages import make_templates, mount_static
    from attune.ops.web.routes import (
        cost,
        health,
        home,
        run_pages,
        runs,
        scope,
        specs,
        tests,
        usage,
        workflows,
    )
    from attune.ops.web.security import SecurityMiddleware, new_token
    from attune.ops.web.services import build_services, install_services

    token = new_token()
    services = build_services(config, token=token, templates=make_templates(config, token=token))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    app: FastAPI = fastapi.FastAPI(
        title="attune ops",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_services(app, services)
    install_error_handlers(app)
    mount_static(app)
    for module in (health, home, workflows, scope, runs, run_pages, tests, cost, specs, usage):
        app.include_router(module.router)
    app.add_middleware(SecurityMiddleware, config=config, token=token)
    return app

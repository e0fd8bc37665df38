"""What every route can ask for, as ``Annotated`` dependency aliases.

``AppServices`` is built once by ``create_app`` and hung on ``app.state``; routes take the piece
they need (``StoreDep``, ``ConfigDep`` …) and stay thin.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from attune.ops.config import Config
from attune.ops.runs.runner import Runner
from attune.ops.spend.service import CostService
from attune.ops.store.database import Store

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

__all__ = ["AppServices", "ConfigDep", "ServicesDep", "StoreDep", "get_services"]


@dataclass
class AppServices:
    """Everything one app owns; ``start``/``stop`` run in the app's lifespan."""

    config: Config
    store: Store
    token: str
    version: str
    templates: Jinja2Templates
    cost: CostService | None = None
    runner: Runner | None = None

    async def start(self) -> None:
        """Start background work (called once the event loop runs)."""
        if self.runner is not None:
            self.runner.start_background(self.token)

    async def stop(self) -> None:
        """Stop background work and close the store; safe to call twice."""
        if self.runner is not None:
            await asyncio.to_thread(self.runner.stop)
        self.store.close()


def get_services(request: Request) -> AppServices:
    services: AppServices = request.app.state.services
    return services


def get_config(request: Request) -> Config:
    return get_services(request).config


def get_store(request: Request) -> Store:
    return get_services(request).store


ServicesDep = Annotated[AppServices, Depends(get_services)]
ConfigDep = Annotated[Config, Depends(get_config)]
StoreDep = Annotated[Store, Depends(get_store)]


def get_cost(request: Request) -> CostService:
    cost = get_services(request).cost
    assert cost is not None, "create_app builds the cost service"
    return cost


CostDep = Annotated[CostService, Depends(get_cost)]


def get_runner(request: Request) -> Runner:
    runner = get_services(request).runner
    assert runner is not None, "create_app builds the runner"
    return runner


RunnerDep = Annotated[Runner, Depends(get_runner)]

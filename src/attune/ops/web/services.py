"""The composition root: everything one app owns, and what every route can ask for.

:func:`build_services` builds :class:`AppServices` whole — store, hub, runner, cost, background
jobs, templates — and ``create_app`` hangs it on ``app.state`` (the only other module that
touches ``app.state``). Its lifespan ``start``/``stop`` own the background work: the retention
job, the search indexer and the server file that ``attune runs cancel`` reads. Routes take the
piece they need through the ``Annotated`` aliases below (``StoreDep``, ``RunnerDep`` …).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request

from attune._version import __version__
from attune.ops.config import Config
from attune.ops.runs.live import StreamHub
from attune.ops.runs.runner import Runner
from attune.ops.runs.workflows import WorkflowRegistry
from attune.ops.server_file import remove_server_file, write_server_file
from attune.ops.specs.index import SpecIndex
from attune.ops.specs.undo import UndoLog
from attune.ops.spend.service import CostService
from attune.ops.spend.usage.pricing import PriceBook
from attune.ops.spend.usage.service import UsageService
from attune.ops.spend.workflow_prices import WorkflowPricer
from attune.ops.store.database import Store
from attune.ops.store.indexer import SearchIndexer
from attune.ops.store.open import open_store
from attune.ops.store.retention import RetentionJob

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

__all__ = [
    "AppServices",
    "ConfigDep",
    "CostDep",
    "HubDep",
    "RegistryDep",
    "RunnerDep",
    "ServicesDep",
    "StoreDep",
    "UsageDep",
    "build_services",
    "services_of",
]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class AppServices:
    """Everything one app owns, complete at construction; ``start``/``stop`` run in its lifespan."""

    config: Config
    store: Store
    token: str
    version: str
    templates: Jinja2Templates
    hub: StreamHub
    runner: Runner
    cost: CostService
    indexer: SearchIndexer
    retention: RetentionJob
    specs: SpecIndex
    spec_undo: UndoLog
    usage: UsageService
    # Page fragments cached by their routes (keyed by what they were built from).
    page_cache: dict[str, Any] = field(default_factory=dict)
    _started: bool = False

    @property
    def registry(self) -> WorkflowRegistry:
        return self.runner.registry

    async def start(self) -> None:
        """Start background work (called once the event loop runs)."""
        if self._started:
            return
        self._started = True
        self.usage.start()
        self.retention.start()
        self.indexer.start()
        try:
            write_server_file(self.config, self.token)
        except OSError as exc:
            logger.warning("could not write the server file for `attune runs cancel`: %s", exc)

    def begin_shutdown(self) -> None:
        """The server was asked to stop (Ctrl-C, SIGTERM): end the live run and every live
        stream now, so the shutdown does not wait on an open run page. On the event loop."""
        self.runner.interrupt()
        self.hub.disconnect_all()

    async def stop(self) -> None:
        """End the live run (``interrupted``), stop background work, close the store.

        Safe to call twice.
        """
        await asyncio.to_thread(self.runner.stop)
        self.retention.stop()
        self.indexer.stop()
        self.hub.replay_cache.executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self.usage.stop)
        remove_server_file(self.config)
        self.store.close()


def build_services(config: Config, *, token: str, templates: Jinja2Templates) -> AppServices:
    """Build every service of one app for ``config``; recovers runs a dead server left."""
    store = open_store(config.db_path, config.database_url)
    hub = StreamHub()
    # The indexer pauses while a run is live; the runner wakes it when one ends (the lambda
    # reads ``runner`` when called, after it exists).
    prices = PriceBook()  # one price book for Claude Code's usage and workflows' ATTUNE_USAGE
    indexer = SearchIndexer(store, lambda: runner.busy)
    runner = Runner(
        config,
        store,
        hub=hub,
        on_run_end=lambda _run: indexer.notify(),
        price=WorkflowPricer(prices),  # ATTUNE_USAGE priced like Claude Code's (runs/ ⟂ spend/)
    )
    runner.recover()
    return AppServices(
        config=config,
        store=store,
        token=token,
        version=__version__,
        templates=templates,
        hub=hub,
        runner=runner,
        cost=CostService(config, store),
        indexer=indexer,
        retention=RetentionJob(store, config.runs_retention_days),
        specs=SpecIndex(config),
        spec_undo=UndoLog(),
        usage=UsageService(config, store, prices=prices),
    )


def install_services(app: FastAPI, services: AppServices) -> None:
    """Hang ``services`` on ``app`` (called by the app factory only)."""
    app.state.services = services


def services_of(app: FastAPI) -> AppServices:
    """The services of a built app (for the CLI banner, tests and benchmarks)."""
    services: AppServices = app.state.services
    return services


# Providers are ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool, and a
# thread hop per dependency cost the home page ~0.5 ms (measured) for an attribute read.
async def get_services(request: Request) -> AppServices:
    return services_of(request.app)


async def get_config(request: Request) -> Config:
    return services_of(request.app).config


async def get_store(request: Request) -> Store:
    return services_of(request.app).store


async def get_cost(request: Request) -> CostService:
    return services_of(request.app).cost


async def get_runner(request: Request) -> Runner:
    return services_of(request.app).runner


async def get_hub(request: Request) -> StreamHub:
    return services_of(request.app).hub


async def get_registry(request: Request) -> WorkflowRegistry:
    return services_of(request.app).registry


async def get_usage(request: Request) -> UsageService:
    return services_of(request.app).usage


ServicesDep = Annotated[AppServices, Depends(get_services)]
ConfigDep = Annotated[Config, Depends(get_config)]
StoreDep = Annotated[Store, Depends(get_store)]
CostDep = Annotated[CostService, Depends(get_cost)]
RunnerDep = Annotated[Runner, Depends(get_runner)]
HubDep = Annotated[StreamHub, Depends(get_hub)]
RegistryDep = Annotated[WorkflowRegistry, Depends(get_registry)]
UsageDep = Annotated[UsageService, Depends(get_usage)]

"""The dashboard's view of spend: ``fetch_summary`` in a worker thread, one fetch at a time.

Pages and ``/api/cost`` ask :meth:`CostService.current`; concurrent callers share the fetch in
flight (a refresh waits for a non-refresh fetch to end, then starts its own), so the event loop
never blocks and Anthropic sees at most one request at a time from this process. After a
transient failure (rate limited, network, …) page loads reuse that answer for a minute instead
of asking again; the Refresh button always asks.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from attune.ops.config import Config
from attune.ops.spend.budget import BudgetStatus, assess_budget, resolve_budget
from attune.ops.spend.cache import cache_path, read_cache
from attune.ops.spend.client import (
    CostFetchError,
    CostFetchErrorKind,
    fetch_summary,
    key_file_problem,
)
from attune.ops.spend.report import CostSummary
from attune.ops.store.database import Store

__all__ = ["RETRY_AFTER_FAILURE_S", "CostResult", "CostService"]

RETRY_AFTER_FAILURE_S = 60.0
TRANSIENT = frozenset(
    {
        CostFetchErrorKind.RATE_LIMITED,
        CostFetchErrorKind.NETWORK,
        CostFetchErrorKind.HTTP_ERROR,
        CostFetchErrorKind.BAD_RESPONSE,
        CostFetchErrorKind.CACHE_INVALID,
    }
)


@dataclass(frozen=True)
class CostResult:
    """One answer: the summary (live, cached or stale), the error, the budget status."""

    summary: CostSummary | None
    error: CostFetchError | None
    budget: BudgetStatus | None
    pending: bool = False  # a fetch is still under way; these are the cached figures

    def to_json(self) -> dict[str, Any]:
        """The body of ``GET /api/cost`` (DESIGN §5)."""
        return {
            "summary": self.summary.to_json() if self.summary is not None else None,
            "error": self.error.to_json() if self.error is not None else None,
            "budget": self.budget.to_json() if self.budget is not None else None,
        }


class CostService:
    """Spend for one app; safe to use before ``start()`` (nothing runs in the background)."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.budget_usd: Decimal | None = resolve_budget(store, config.monthly_budget_usd)
        self._task: asyncio.Future[CostResult] | None = None
        self._task_refresh = False
        self._last_failure: tuple[float, CostResult] | None = None

    def key_file_warning(self) -> str | None:
        """The key file's permission problem, if any (shown on the page)."""
        return key_file_problem(self.config.attune_home)

    async def current(self, *, refresh: bool = False, wait_s: float | None = None) -> CostResult:
        """The spend now; shares the fetch in flight with every concurrent caller.

        With ``wait_s``, a fetch that takes longer answers with the cached figures marked
        ``pending`` instead (the fetch goes on; the next call gets its result).
        """
        recent = self._recent_failure()
        if not refresh and recent is not None:
            return recent
        task = await self._shared_fetch(refresh)
        if wait_s is None:
            return await asyncio.shield(task)
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait_s)
        except TimeoutError:
            return await asyncio.to_thread(self._peek)

    async def _shared_fetch(self, refresh: bool) -> asyncio.Future[CostResult]:
        while True:
            task = self._task
            if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
                task = asyncio.ensure_future(asyncio.to_thread(self._fetch, refresh))
                self._task, self._task_refresh = task, refresh
                return task
            if self._task_refresh or not refresh:
                return task
            # A refresh must not be answered by a cache read already under way.
            await asyncio.wait([task])

    def _recent_failure(self) -> CostResult | None:
        """A transient failure less than a minute old: asking again now would fail the same
        way and Anthropic asks for at most one poll a minute (Refresh still asks)."""
        if self._last_failure is None:
            return None
        at, result = self._last_failure
        return result if time.monotonic() - at < RETRY_AFTER_FAILURE_S else None

    def _fetch(self, refresh: bool) -> CostResult:
        summary, error = fetch_summary(refresh=refresh, attune_home=self.config.attune_home)
        result = CostResult(summary=summary, error=error, budget=self._budget(summary))
        transient = error is not None and error.kind in TRANSIENT
        self._last_failure = (time.monotonic(), result) if transient else None
        return result

    def _peek(self) -> CostResult:
        summary = read_cache(cache_path(self.config.attune_home)).summary
        return CostResult(summary=summary, error=None, budget=self._budget(summary), pending=True)

    def _budget(self, summary: CostSummary | None) -> BudgetStatus | None:
        if summary is None or self.budget_usd is None:
            return None
        return assess_budget(summary, self.budget_usd)

    def close(self) -> None:
        """Forget the fetch in flight (its thread ends by itself within the timeout)."""
        self._task = None

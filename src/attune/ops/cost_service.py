"""The dashboard's view of spend: ``fetch_summary`` in a worker thread, one fetch at a time.

Pages and ``/api/cost`` ask :meth:`CostService.current`; concurrent callers share the fetch in
flight (a refresh waits for a non-refresh fetch to end, then starts its own), so the event loop
never blocks and Anthropic sees at most one request at a time from this process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from attune.ops.anthropic_cost import CostFetchError, fetch_summary, key_file_problem
from attune.ops.budget import BudgetStatus, assess_budget, resolve_budget
from attune.ops.config import Config
from attune.ops.cost_report import CostSummary
from attune.ops.store import Store

__all__ = ["CostResult", "CostService"]


@dataclass(frozen=True)
class CostResult:
    """One answer: the summary (live, cached or stale), the error, the budget status."""

    summary: CostSummary | None
    error: CostFetchError | None
    budget: BudgetStatus | None

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

    def key_file_warning(self) -> str | None:
        """The key file's permission problem, if any (shown on the page)."""
        return key_file_problem(self.config.attune_home)

    async def current(self, *, refresh: bool = False) -> CostResult:
        """The spend now; shares the fetch in flight with every concurrent caller."""
        while True:
            task = self._task
            if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
                task = asyncio.ensure_future(asyncio.to_thread(self._fetch, refresh))
                self._task, self._task_refresh = task, refresh
                return await asyncio.shield(task)
            if self._task_refresh or not refresh:
                return await asyncio.shield(task)
            # A refresh must not be answered by a cache read already under way.
            await asyncio.wait([task])

    def _fetch(self, refresh: bool) -> CostResult:
        summary, error = fetch_summary(refresh=refresh, attune_home=self.config.attune_home)
        budget = None
        if summary is not None and self.budget_usd is not None:
            budget = assess_budget(summary, self.budget_usd)
        return CostResult(summary=summary, error=error, budget=budget)

    def close(self) -> None:
        """Forget the fetch in flight (its thread ends by itself within the timeout)."""
        self._task = None

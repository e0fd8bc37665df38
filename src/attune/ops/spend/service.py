"""The dashboard's view of spend: ``fetch_summary`` in a worker thread, one fetch at a time.

Pages and ``/api/cost`` ask :meth:`CostService.current`; concurrent callers share the fetch in
flight (a refresh waits for a non-refresh fetch to end, then starts its own), so the event loop
never blocks and Anthropic sees at most one request at a time from this process. After a
transient failure (rate limited, network, …) page loads reuse that answer for a minute instead
of asking again; the Refresh button always asks.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
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
from attune.ops.spend.report import CostSource, CostSummary
from attune.ops.store.database import Store

__all__ = ["RETRY_AFTER_FAILURE_S", "CostResult", "CostService"]

RETRY_AFTER_FAILURE_S = 60.0
# Anthropic asks for at most one cost report poll a minute: whatever asks (the page, Refresh, an
# <img> on another site hitting ?refresh=1), the dashboard asks live at most this often, and
# never while a 429's Retry-After runs.
LIVE_INTERVAL_S = 60.0
LIVE_INTERVAL_ENV = "ATTUNE_COST_MIN_REFRESH_S"  # lowers it for tests; never below 0


def live_interval() -> float:
    """``$ATTUNE_COST_MIN_REFRESH_S`` when it is a number of seconds, else one minute."""
    try:
        return max(0.0, float(os.environ.get(LIVE_INTERVAL_ENV, LIVE_INTERVAL_S)))
    except ValueError:
        return LIVE_INTERVAL_S


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
    next_refresh_at: datetime | None = None  # before then, ?refresh=1 answers from the cache

    def to_json(self) -> dict[str, Any]:
        """The body of ``GET /api/cost`` (DESIGN §5), with when a refresh is next allowed."""
        return {
            "summary": self.summary.to_json() if self.summary is not None else None,
            "error": self.error.to_json() if self.error is not None else None,
            "budget": self.budget.to_json() if self.budget is not None else None,
            "next_refresh_at": (
                self.next_refresh_at.isoformat(timespec="seconds")
                if self.next_refresh_at is not None
                else None
            ),
        }


class CostService:
    """Spend for one app; safe to use before ``start()`` (nothing runs in the background)."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.budget_usd: Decimal | None = resolve_budget(store, config.monthly_budget_usd)
        self._task: asyncio.Future[CostResult] | None = None
        self._task_refresh = False
        self._last_failure: tuple[float, CostResult] | None = None
        self._next_live_at = 0.0  # monotonic: no live request before then
        self.live_interval_s = live_interval()

    def key_file_warning(self) -> str | None:
        """The key file's permission problem, if any (shown on the page)."""
        return key_file_problem(self.config.attune_home)

    async def current(self, *, refresh: bool = False, wait_s: float | None = None) -> CostResult:
        """The spend now; shares the fetch in flight with every concurrent caller.

        With ``wait_s``, a fetch that takes longer answers with the cached figures marked
        ``pending`` instead (the fetch goes on; the next call gets its result).
        """
        recent = self._recent_failure()
        if recent is not None and (not refresh or not self._live_allowed()):
            return replace(recent, next_refresh_at=self._next_refresh_at())
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

    def _live_allowed(self) -> bool:
        return time.monotonic() >= self._next_live_at

    def _next_refresh_at(self) -> datetime | None:
        wait = self._next_live_at - time.monotonic()
        return datetime.now(UTC) + timedelta(seconds=wait) if wait > 0 else None

    def _fetch(self, refresh: bool) -> CostResult:
        started = time.monotonic()
        allowed = self._live_allowed()
        summary, error = fetch_summary(
            refresh=refresh and allowed, allow_live=allowed, attune_home=self.config.attune_home
        )
        if allowed and _asked_live(summary, error):
            pause = max(self.live_interval_s, (error.retry_after_s or 0.0) if error else 0.0)
            self._next_live_at = started + pause
        result = CostResult(
            summary=summary,
            error=error,
            budget=self._budget(summary),
            next_refresh_at=self._next_refresh_at(),
        )
        transient = allowed and error is not None and error.kind in TRANSIENT
        if transient:
            self._last_failure = (time.monotonic(), result)
        elif allowed:
            self._last_failure = None
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


def _asked_live(summary: CostSummary | None, error: CostFetchError | None) -> bool:
    """Whether ``fetch_summary`` made a request (a fresh cache or a missing key make none)."""
    if error is not None:
        return error.kind is not CostFetchErrorKind.NO_KEY
    return summary is not None and summary.source is CostSource.LIVE

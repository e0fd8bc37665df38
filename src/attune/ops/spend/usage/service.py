"""Claude Code usage for the dashboard and ``attune usage``: ingest, report, reconciliation.

:class:`UsageService` owns one ingester. In the dashboard, ``start()`` runs ingest passes in a
background thread every second (a pass over unchanged transcripts is one ``stat`` each, so a
line Claude Code appends shows within about 2 s); the CLI calls :meth:`ingest_now` once. Reports
are built in the caller's thread (routes use ``asyncio.to_thread``) and reused while no row
changed. The billed side of the reconciliation is fetched in its own thread when its cache is
older than the cost report's TTL; until it arrives the report says ``"pending"``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from attune.ops.config import Config
from attune.ops.spend.admin_key import load_admin_key
from attune.ops.spend.usage.ingest import Ingester, IngestResult
from attune.ops.spend.usage.pricing import PriceBook, usd_text
from attune.ops.spend.usage.query import UsageQuery
from attune.ops.spend.usage.reconcile import Billing, fetch_billing, reconcile
from attune.ops.spend.usage.report import build_report, team_cwd_ids
from attune.ops.spend.usage.sources import config_roots
from attune.ops.store import usage_queries as q
from attune.ops.store.database import Store
from attune.ops.store.usage import UsageStore

__all__ = ["POLL_S", "UsageService"]

logger = logging.getLogger(__name__)

POLL_S = 1.0
FULL_PASS_S = 20.0  # between two full passes, quick ones over the transcripts written lately
REPORT_REUSE_S = 2.0  # a report is reused this long while no row changed (blocks tick)
TURNS_LIMIT = 2000


class UsageService:
    """Usage of one attune home; ``roots`` overrides Claude Code's config roots (tests)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        roots: Callable[[], list[Path]] = config_roots,
        poll_s: float = POLL_S,
        prices: PriceBook | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.usage = UsageStore(store, project_root=str(config.project_root))
        #: this dashboard's ``user@host`` on a team store (its rows, its share), else ``None``
        self.member = self.usage.member if self.usage.team else None
        self.prices = prices or PriceBook()
        self.ingester = Ingester(self.usage, self.prices, config.project_root, roots=roots)
        self.poll_s = poll_s
        self.last: IngestResult | None = None
        self.last_error: str | None = None
        self._pass_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reports: dict[UsageQuery, tuple[int, float, dict[str, Any]]] = {}
        self._billing: tuple[Billing | None, dict[str, str] | None] | None = None
        self._billing_at = 0.0
        self._billing_thread: threading.Thread | None = None

    # -- ingest --------------------------------------------------------------------------------

    def start(self) -> None:
        """Ingest in the background until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="usage-ingest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10)

    def _loop(self) -> None:
        last_full = 0.0
        while not self._stop.is_set():
            full = time.monotonic() - last_full >= FULL_PASS_S
            if full:
                last_full = time.monotonic()
            self.ingest_now(full=full)
            self._stop.wait(self.poll_s)

    def ingest_now(self, *, full: bool = True) -> IngestResult | None:
        """One ingest pass now (waits for one already running); ``None`` if it failed.

        ``full=False`` is a quick pass over the transcripts written lately (the dashboard's
        every second; a full one every 20 s)."""
        with self._pass_lock:
            try:
                if full:  # a team store learns this member's project root (and that it reads)
                    self.usage.note_member()
                result = self.ingester.run_once() if full else self.ingester.run_hot()
                if full or self.last is None:
                    self.last = result
                else:  # a quick pass keeps what the last full one found unreadable
                    self.last = replace(result, unreadable=self.last.unreadable)
                self.last_error = None
            except Exception as exc:  # a locked or full store: say so, try again next pass
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("usage ingest failed: %s", self.last_error)
                return None
            return self.last

    # -- reports -------------------------------------------------------------------------------

    def report(
        self, query: UsageQuery, *, now: datetime | None = None, billing: str = "background"
    ) -> dict[str, Any]:
        """The DESIGN §10 object for ``query`` (blocking: SQLite).

        ``billing``: ``"background"`` fetches a stale billed side in a thread (``pending``
        meanwhile), ``"wait"`` waits for it (the CLI), ``"cached"`` never asks (the home tile:
        the spend panel beside it already polls the Admin API).
        """
        moment = now or datetime.now(UTC)
        generation = q.generation(self.store)
        cached = self._reports.get(query)
        if (
            now is None
            and cached is not None
            and cached[0] == generation
            and time.monotonic() - cached[1] < REPORT_REUSE_S
        ):
            report = dict(cached[2])
        else:
            report = build_report(
                self.store, query, now=moment, price_source=self.prices.source, member=self.member
            )
            if now is None:
                self._reports[query] = (generation, time.monotonic(), report)
                report = dict(report)
        report["reconciliation"] = self.reconciliation(
            moment.astimezone(UTC).date(), billing=billing
        )
        report.update(self.ingest_state())
        return report

    def ingest_state(self) -> dict[str, Any]:
        """Skipped lines and what the last pass found (shown on the page and by the CLI)."""
        stats = q.usage_stats(self.store, self.member)
        last = self.last
        return {
            "skipped_lines": stats.skipped_lines,
            "ingest": {
                "transcripts": stats.files - stats.gone_files,
                "transcripts_gone": stats.gone_files,
                "rows": stats.messages,
                "last_skip": stats.last_skip,
                "roots": last.roots if last else [],
                "unreadable": [
                    {"path": p, "reason": r} for p, r in (last.unreadable if last else {}).items()
                ],
                "last_pass_s": round(last.seconds, 3) if last else None,
                "error": self.last_error,
            },
        }

    def session(self, session_id: str) -> dict[str, Any]:
        """One session's turns (usage only), oldest first."""
        turns = q.session_turns(self.store, session_id, limit=TURNS_LIMIT)
        return {
            "id": session_id,
            "estimate": True,
            "price_source": self.prices.source,
            "turns": [
                {
                    "message_id": t.key,
                    "at": datetime.fromtimestamp(t.ts / 1000, UTC).isoformat(timespec="seconds"),
                    "model": t.model,
                    "sidechain": t.sidechain,
                    "speed": t.speed,
                    "input_tokens": t.input_tokens,
                    "output_tokens": t.output_tokens,
                    "cache_creation_tokens": t.cache_creation_tokens,
                    "cache_read_tokens": t.cache_read_tokens,
                    "cost_usd": None if t.cost_pusd is None else usd_text(t.cost_pusd),
                    "git_branch": t.git_branch,
                    "version": t.version,
                    "cwd": t.cwd,
                }
                for t in turns
            ],
            "truncated": len(turns) >= TURNS_LIMIT,
        }

    # -- reconciliation ------------------------------------------------------------------------

    def reconciliation(self, today: date, *, billing: str = "background") -> dict[str, Any] | None:
        """Billed beside estimated; ``None`` without an admin key (nothing to set beside), or
        with ``billing="cached"`` before anything was fetched."""
        if load_admin_key(attune_home=self.config.attune_home) is None:
            return None
        if billing == "wait":
            self._fetch_billing()
        elif billing == "background":
            self._refresh_billing_in_background()
        found = self._billing
        if found is None:
            if billing == "cached":
                return None
            return {"status": "pending", "message": "asking the Admin API for the billed spend…"}
        first = today - timedelta(days=29)
        members = q.members(self.store) if self.member is not None else None
        ids = None if members is None else team_cwd_ids(q.cwd_members(self.store), members)
        rows = q.daily(self.store, ids, (first - date(1970, 1, 1)).days, None)
        estimate: dict[date, int] = {}
        for row in rows:
            day = date(1970, 1, 1) + timedelta(days=row.day)
            estimate[day] = estimate.get(day, 0) + row.cost_pusd
        team = None if members is None else len(members)
        return reconcile(found[0], found[1], estimate, today, team_members=team)

    def _refresh_billing_in_background(self) -> None:
        from attune.ops.spend.client import cache_ttl

        failed = self._billing is not None and self._billing[1] is not None
        ttl = 60.0 if failed else min(cache_ttl().total_seconds(), 900.0)
        fresh = time.monotonic() - self._billing_at < ttl
        busy = self._billing_thread is not None and self._billing_thread.is_alive()
        if (self._billing is not None and fresh) or busy:
            return
        self._billing_thread = threading.Thread(
            target=self._fetch_billing, name="usage-billing", daemon=True
        )
        self._billing_thread.start()

    def _fetch_billing(self) -> None:
        self._billing = fetch_billing(self.config.attune_home, now=datetime.now(UTC))
        self._billing_at = time.monotonic()

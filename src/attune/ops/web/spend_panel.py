"""The home page's spend panel as template data: tiles, source badge, chart, breakdowns, budget.

Built from the same :class:`~attune.ops.spend.service.CostResult` that ``GET /api/cost`` returns,
so the page and its JSON twin never disagree. No web imports: the chart is a plain SVG string.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from attune.ops.spend.budget import BudgetStatus
from attune.ops.spend.client import CostFetchError, CostFetchErrorKind
from attune.ops.spend.report import CostSource, CostSummary
from attune.ops.spend.service import CostResult
from attune.ops.web.charts import bar_chart_svg, budget_gauge_svg, day_text, format_usd

__all__ = ["ADMIN_KEYS_URL", "STALE_LABELS", "build_panel", "source_label"]

TOP_ROWS = 5
# Where the Anthropic Console creates admin keys (the no-key panel links to it).
ADMIN_KEYS_URL = "https://console.anthropic.com/settings/admin-keys"

STALE_LABELS: dict[CostFetchErrorKind, str] = {
    CostFetchErrorKind.NO_KEY: "no key",
    CostFetchErrorKind.AUTH_FAILED: "key rejected",
    CostFetchErrorKind.RATE_LIMITED: "rate limited",
    CostFetchErrorKind.HTTP_ERROR: "API error",
    CostFetchErrorKind.NETWORK: "offline",
    CostFetchErrorKind.BAD_RESPONSE: "unexpected answer",
    CostFetchErrorKind.CACHE_INVALID: "cache unreadable",
}

FIX_HINTS: dict[CostFetchErrorKind, str] = {
    CostFetchErrorKind.RATE_LIMITED: "Anthropic asks for at most one request a minute; "
    "Refresh once the wait above is over.",
    CostFetchErrorKind.NETWORK: "Check the network connection, or ANTHROPIC_BASE_URL if set.",
    CostFetchErrorKind.HTTP_ERROR: "Anthropic had a problem answering; Refresh later "
    "(status.anthropic.com shows incidents).",
    CostFetchErrorKind.BAD_RESPONSE: "Check that ANTHROPIC_BASE_URL points at the Anthropic API.",
    CostFetchErrorKind.CACHE_INVALID: "Delete the cache file named above; the next good answer "
    "rewrites it.",
}


def build_panel(
    result: CostResult,
    *,
    key_warning: str | None,
    key_path: Path,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything ``_home_spend.html`` shows; ``state`` picks the panel's layout.

    ``key_path`` is where ``attune ops setup-billing`` stores the key:
    ``key_file_path(config.attune_home)``.
    """
    summary, error = result.summary, result.error
    panel: dict[str, Any] = {
        "state": "pending" if result.pending and summary is None else _state(summary, error),
        "pending": result.pending,
        "error": error.to_json() if error is not None else None,
        "key_warning": key_warning,
        "hint": FIX_HINTS.get(error.kind) if error is not None else None,
        "refresh_url": "/?refresh=1",
        "key_path": str(key_path),
        "admin_keys_url": ADMIN_KEYS_URL,
    }
    if summary is not None:
        panel.update(_figures(summary, error, now or datetime.now(UTC)))
        if result.pending:
            panel["source_label"] = "updating…"
            panel["source_badge"] = "badge-info"
    if result.budget is not None:
        panel["budget"] = _budget(result.budget)
    return panel


def _state(summary: CostSummary | None, error: CostFetchError | None) -> str:
    if error is None:
        return "ok"
    if error.kind in (CostFetchErrorKind.NO_KEY, CostFetchErrorKind.AUTH_FAILED):
        return str(error.kind)
    return "stale" if summary is not None else "unavailable"


def source_label(summary: CostSummary, error: CostFetchError | None, now: datetime) -> str:
    """``live``, ``cached 3 min ago`` or ``stale: rate limited``."""
    if summary.source == CostSource.STALE:
        return "stale: " + (STALE_LABELS[error.kind] if error is not None else "old figures")
    if summary.source == CostSource.CACHE:
        return f"cached {_age(now - summary.fetched_at)}"
    return "live"


def _age(delta: Any) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} d ago"


def _figures(summary: CostSummary, error: CostFetchError | None, now: datetime) -> dict[str, Any]:
    badge = {CostSource.LIVE: "badge-ok", CostSource.CACHE: "badge-info"}
    return {
        "source": str(summary.source),
        "source_label": source_label(summary, error, now),
        "source_badge": badge.get(summary.source, "badge-warn"),
        "fetched_at": summary.fetched_at.isoformat(),
        "tiles": [
            {"key": "today", "label": "Today", "value": format_usd(summary.today_usd)},
            {"key": "7d", "label": "Last 7 days", "value": format_usd(summary.seven_day_usd)},
            {
                "key": "mtd",
                "label": "Month to date",
                "value": format_usd(summary.month_to_date_usd),
            },
            {"key": "30d", "label": "Last 30 days", "value": format_usd(summary.thirty_day_usd)},
        ],
        "chart_svg": bar_chart_svg(summary.by_day),
        # The day the chart's label shows before any tap: today, the rightmost bar.
        "day": {"date": day_text(summary.by_day[-1][0]), "usd": format_usd(summary.by_day[-1][1])},
        "first_day": summary.by_day[0][0].isoformat(),
        "last_day": summary.today.isoformat(),
        "models": _shares(summary.by_model, summary.thirty_day_usd),
        "cost_types": _shares(summary.by_cost_type, summary.thirty_day_usd),
    }


def _shares(rows: list[tuple[str, Decimal]], total: Decimal) -> list[dict[str, Any]]:
    shown = rows[:TOP_ROWS]
    rest = sum((v for _, v in rows[TOP_ROWS:]), Decimal(0))
    if rest > 0:
        shown = [*shown, (f"{len(rows) - TOP_ROWS} more", rest)]
    out = []
    for name, usd in shown:
        share = float(usd / total) if total > 0 else 0.0
        out.append(
            {"name": name, "usd": format_usd(usd), "share": share, "percent": f"{share:.0%}"}
        )
    return out


def _budget(status: BudgetStatus) -> dict[str, Any]:
    return {
        "level": str(status.level),
        "budget": format_usd(status.budget_usd),
        "spent": format_usd(status.month_to_date_usd),
        "percent": f"{float(status.share):.0%}",
        "projected": format_usd(status.projected_usd),
        "projected_percent": f"{float(status.projected_share):.0%}",
        "daily_rate": format_usd(status.daily_rate_usd),
        "days_left": status.days_left,
        "gauge_svg": budget_gauge_svg(
            status.month_to_date_usd, status.projected_usd, status.budget_usd, str(status.level)
        ),
    }

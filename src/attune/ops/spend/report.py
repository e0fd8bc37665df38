"""The cost report's arithmetic: the 30-day window and the summary built from report buckets.

Pure functions, no I/O: :mod:`attune.ops.spend.client` fetches the pages, this module turns
their buckets into a :class:`CostSummary`. Amounts are decimal strings in **cents**
(``"123.45"`` is $1.2345); they are parsed with :class:`~decimal.Decimal`, never float.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

__all__ = [
    "OTHER",
    "WINDOW_DAYS",
    "CostSource",
    "CostSummary",
    "ReportShapeError",
    "Window",
    "summarise",
    "window_for",
]

WINDOW_DAYS = 30
OTHER = "(other)"
CENTS_PER_USD = Decimal(100)


class CostSource(StrEnum):
    """Where a summary came from: a request just now, the fresh cache, or an old cache."""

    LIVE = "live"
    CACHE = "cache"
    STALE = "stale"


class ReportShapeError(ValueError):
    """A report page is not the documented shape (turned into ``bad_response``)."""


@dataclass(frozen=True)
class Window:
    """The 30 UTC days ending ``today``; ``fetch_start`` also covers the month's first day."""

    today: date

    @property
    def first_day(self) -> date:
        return self.today - timedelta(days=WINDOW_DAYS - 1)

    @property
    def month_start(self) -> date:
        return self.today.replace(day=1)

    @property
    def fetch_start(self) -> date:
        # On the 31st the month began 30 days ago, one day before the window: ask for it too,
        # or month to date would silently miss the 1st.
        return min(self.first_day, self.month_start)

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(WINDOW_DAYS)]

    def params(self) -> dict[str, str]:
        """``starting_at``/``ending_at`` (RFC 3339, UTC midnight; the end is exclusive)."""
        return {
            "starting_at": _midnight(self.fetch_start),
            "ending_at": _midnight(self.today + timedelta(days=1)),
        }


def window_for(now: datetime) -> Window:
    """The window for the instant ``now`` (naive datetimes are taken as UTC)."""
    aware = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return Window(today=aware.astimezone(UTC).date())


def _midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


@dataclass(frozen=True)
class CostSummary:
    """Spend over the window, in USD; see DESIGN §6."""

    today_usd: Decimal
    seven_day_usd: Decimal
    month_to_date_usd: Decimal
    thirty_day_usd: Decimal
    by_day: list[tuple[date, Decimal]]
    by_model: list[tuple[str, Decimal]]
    by_cost_type: list[tuple[str, Decimal]]
    fetched_at: datetime
    source: CostSource = CostSource.LIVE

    @property
    def today(self) -> date:
        """The last day of the window (the summary's "today", also for old caches)."""
        return self.by_day[-1][0]

    def with_source(self, source: CostSource) -> CostSummary:
        return replace(self, source=source)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: amounts as decimal strings in USD, dates and times ISO 8601."""
        return {
            "today_usd": str(self.today_usd),
            "seven_day_usd": str(self.seven_day_usd),
            "month_to_date_usd": str(self.month_to_date_usd),
            "thirty_day_usd": str(self.thirty_day_usd),
            "by_day": [[d.isoformat(), str(v)] for d, v in self.by_day],
            "by_model": [[name, str(v)] for name, v in self.by_model],
            "by_cost_type": [[name, str(v)] for name, v in self.by_cost_type],
            "fetched_at": self.fetched_at.isoformat(),
            "source": str(self.source),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CostSummary:
        """The inverse of :meth:`to_json`; raises ``ValueError``/``KeyError``/``TypeError``."""
        fetched_at = datetime.fromisoformat(data["fetched_at"])
        if fetched_at.tzinfo is None:
            raise ValueError("fetched_at has no time zone")
        by_day = [(date.fromisoformat(d), _decimal(v)) for d, v in data["by_day"]]
        if len(by_day) != WINDOW_DAYS:
            raise ValueError(f"by_day has {len(by_day)} days, not {WINDOW_DAYS}")
        return cls(
            today_usd=_decimal(data["today_usd"]),
            seven_day_usd=_decimal(data["seven_day_usd"]),
            month_to_date_usd=_decimal(data["month_to_date_usd"]),
            thirty_day_usd=_decimal(data["thirty_day_usd"]),
            by_day=by_day,
            by_model=[(str(n), _decimal(v)) for n, v in data["by_model"]],
            by_cost_type=[(str(n), _decimal(v)) for n, v in data["by_cost_type"]],
            fetched_at=fetched_at,
            source=CostSource(data.get("source", "cache")),
        )


def _decimal(value: object) -> Decimal:
    if not isinstance(value, str):
        raise TypeError(f"amount {value!r} is not a decimal string")
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"amount {value!r} is not a decimal") from exc
    if not amount.is_finite():
        raise ValueError(f"amount {value!r} is not finite")
    return amount


def cents_to_usd(amount: object) -> Decimal:
    """``"123.45"`` (cents, as the API sends it) → ``Decimal("1.2345")`` USD."""
    try:
        return _decimal(amount) / CENTS_PER_USD
    except (TypeError, ValueError) as exc:
        raise ReportShapeError(str(exc)) from exc


def summarise(
    buckets: Iterable[Mapping[str, Any]], window: Window, *, fetched_at: datetime
) -> CostSummary:
    """Add up report buckets into a summary of ``window``; raises :class:`ReportShapeError`."""
    per_day: dict[date, Decimal] = {}
    per_model: dict[str, Decimal] = {}
    per_type: dict[str, Decimal] = {}
    for bucket in buckets:
        day = _bucket_day(bucket)
        for row in _bucket_rows(bucket):
            usd = cents_to_usd(row.get("amount"))
            per_day[day] = per_day.get(day, Decimal(0)) + usd
            if window.first_day <= day <= window.today:
                _add(per_model, row.get("model"), usd)
                _add(per_type, row.get("cost_type"), usd)
    by_day = [(d, per_day.get(d, Decimal(0))) for d in window.days]
    month = sum(
        (v for d, v in per_day.items() if window.month_start <= d <= window.today), Decimal(0)
    )
    return CostSummary(
        today_usd=by_day[-1][1],
        seven_day_usd=sum((v for _, v in by_day[-7:]), Decimal(0)),
        month_to_date_usd=month,
        thirty_day_usd=sum((v for _, v in by_day), Decimal(0)),
        by_day=by_day,
        by_model=_descending(per_model),
        by_cost_type=_descending(per_type),
        fetched_at=fetched_at,
    )


def _bucket_day(bucket: Mapping[str, Any]) -> date:
    if not isinstance(bucket, Mapping):
        raise ReportShapeError("a bucket in data is not an object")
    start = bucket.get("starting_at")
    if not isinstance(start, str):
        raise ReportShapeError("a bucket has no starting_at")
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReportShapeError(f"starting_at {start[:40]!r} is not a timestamp") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _bucket_rows(bucket: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = bucket.get("results")
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise ReportShapeError("a bucket's results is not a list of objects")
    for row in rows:
        currency = row.get("currency")
        if currency not in (None, "USD"):
            raise ReportShapeError(f"amounts in {str(currency)[:10]!r} are not supported")
    return rows


def _add(totals: dict[str, Decimal], name: object, usd: Decimal) -> None:
    key = name if isinstance(name, str) and name.strip() else OTHER
    totals[key] = totals.get(key, Decimal(0)) + usd


def _descending(totals: dict[str, Decimal]) -> list[tuple[str, Decimal]]:
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

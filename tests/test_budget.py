"""The monthly budget: share, month-end projection from the last 7 days, levels, persistence."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from attune.ops.spend.budget import BUDGET_SETTING, BudgetLevel, assess_budget, resolve_budget
from attune.ops.spend.report import WINDOW_DAYS, CostSummary, summarise, window_for
from attune.ops.store.database import Store


def summary_with(today: date, daily: dict[date, str]) -> CostSummary:
    """A real summary built from report buckets (``daily`` amounts in cents)."""
    buckets = [
        {"starting_at": f"{d.isoformat()}T00:00:00Z", "results": [{"amount": cents}]}
        for d, cents in daily.items()
    ]
    now = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
    return summarise(buckets, window_for(now), fetched_at=now)


def flat(today: date, usd_per_day: int) -> CostSummary:
    days = {today - timedelta(days=i): str(usd_per_day * 100) for i in range(WINDOW_DAYS)}
    return summary_with(today, days)


def test_projection_adds_the_last_7_days_rate_for_the_days_left() -> None:
    summary = flat(date(2026, 4, 10), 10)  # $10 a day; April has 30 days
    status = assess_budget(summary, Decimal(1000))
    assert status.month_to_date_usd == Decimal(100)
    assert status.daily_rate_usd == Decimal(10)
    assert status.days_left == 20
    assert status.projected_usd == Decimal(300)
    assert status.share == Decimal("0.1")
    assert status.projected_share == Decimal("0.3")
    assert status.level == BudgetLevel.OK


def test_rate_uses_only_the_last_7_days() -> None:
    today = date(2026, 4, 10)
    daily = {today - timedelta(days=i): "7000" for i in range(7, 20)}  # $70/day, 8+ days ago
    daily.update({today - timedelta(days=i): "100" for i in range(7)})  # $1/day this week
    status = assess_budget(summary_with(today, daily), Decimal(10_000))
    assert status.daily_rate_usd == Decimal(1)


@pytest.mark.parametrize(
    ("budget", "level"),
    [
        ("400", BudgetLevel.OK),  # projected 300 = 75 %
        ("375", BudgetLevel.WARN),  # projected 300 = 80 % exactly
        ("301", BudgetLevel.WARN),
        ("100.01", BudgetLevel.WARN),  # projected past the budget, not yet spent
        ("100", BudgetLevel.OVER),  # month to date reached the budget
        ("50", BudgetLevel.OVER),
    ],
)
def test_levels(budget: str, level: BudgetLevel) -> None:
    assert assess_budget(flat(date(2026, 4, 10), 10), Decimal(budget)).level == level


def test_last_day_of_month_projects_month_to_date() -> None:
    status = assess_budget(flat(date(2026, 2, 28), 5), Decimal(1000))
    assert status.days_left == 0
    assert status.projected_usd == status.month_to_date_usd == Decimal(140)


def test_to_json_is_strings_and_level() -> None:
    body = assess_budget(flat(date(2026, 4, 10), 10), Decimal(375)).to_json()
    assert body["level"] == "warn"
    assert body["monthly_budget_usd"] == "375"
    assert Decimal(body["projected_usd"]) == Decimal(300)
    assert body["days_left"] == 20


def test_budget_given_is_remembered_and_reused(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.db")
    try:
        assert resolve_budget(store, None) is None
        assert resolve_budget(store, Decimal("150")) == Decimal("150")
        assert resolve_budget(store, None) == Decimal("150")
        assert resolve_budget(store, Decimal("90.5")) == Decimal("90.5")
        assert resolve_budget(store, None) == Decimal("90.5")
        assert resolve_budget(store, Decimal(0)) is None  # --monthly-budget 0: no budget
        assert store.get_setting(BUDGET_SETTING) is None
        assert resolve_budget(store, None) is None
    finally:
        store.close()


def test_a_damaged_remembered_budget_is_ignored(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.db")
    try:
        store.set_setting(BUDGET_SETTING, "lots")
        assert resolve_budget(store, None) is None
        store.set_setting(BUDGET_SETTING, "-5")
        assert resolve_budget(store, None) is None
    finally:
        store.close()

"""The monthly budget: month to date against it, and a month-end projection.

The projection adds the last 7 days' average daily spend for every day left in the month to
month-to-date spend. Levels: ``over`` once month-to-date spend has reached the budget, ``warn``
when the projection reaches 80 % of it, ``ok`` otherwise. The budget given with
``--monthly-budget`` is remembered in the store, so a later start without the flag keeps it.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from attune.ops.spend.report import CostSummary
from attune.ops.store.database import Store

__all__ = [
    "BUDGET_SETTING",
    "WARN_SHARE",
    "BudgetLevel",
    "BudgetStatus",
    "assess_budget",
    "resolve_budget",
]

logger = logging.getLogger(__name__)

BUDGET_SETTING = "monthly_budget_usd"
WARN_SHARE = Decimal("0.8")


class BudgetLevel(StrEnum):
    OK = "ok"
    WARN = "warn"
    OVER = "over"


@dataclass(frozen=True)
class BudgetStatus:
    """Month to date against the budget, and where the month is heading."""

    budget_usd: Decimal
    month_to_date_usd: Decimal
    share: Decimal
    daily_rate_usd: Decimal
    projected_usd: Decimal
    projected_share: Decimal
    days_left: int
    level: BudgetLevel

    def to_json(self) -> dict[str, Any]:
        return {
            "monthly_budget_usd": str(self.budget_usd),
            "month_to_date_usd": str(self.month_to_date_usd),
            "share": str(self.share),
            "daily_rate_usd": str(self.daily_rate_usd),
            "projected_usd": str(self.projected_usd),
            "projected_share": str(self.projected_share),
            "days_left": self.days_left,
            "level": str(self.level),
        }


def assess_budget(summary: CostSummary, budget_usd: Decimal) -> BudgetStatus:
    """Where ``summary``'s month stands against ``budget_usd`` (a positive amount)."""
    today = summary.today
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    days_left = days_in_month - today.day
    rate = summary.seven_day_usd / 7
    projected = summary.month_to_date_usd + rate * days_left
    share = summary.month_to_date_usd / budget_usd
    projected_share = projected / budget_usd
    if summary.month_to_date_usd >= budget_usd:
        level = BudgetLevel.OVER
    elif projected_share >= WARN_SHARE:
        level = BudgetLevel.WARN
    else:
        level = BudgetLevel.OK
    return BudgetStatus(
        budget_usd=budget_usd,
        month_to_date_usd=summary.month_to_date_usd,
        share=share.quantize(Decimal("0.0001")),
        daily_rate_usd=rate.quantize(Decimal("0.0001")),
        projected_usd=projected.quantize(Decimal("0.0001")),
        projected_share=projected_share.quantize(Decimal("0.0001")),
        days_left=days_left,
        level=level,
    )


def resolve_budget(store: Store, given: Decimal | None) -> Decimal | None:
    """The budget to use: ``given`` (then remembered), else the last one remembered.

    A ``given`` of 0 means "no budget" and forgets the remembered one.
    """
    if given is not None and given == 0:
        store.set_setting(BUDGET_SETTING, None)
        return None
    if given is not None:
        store.set_setting(BUDGET_SETTING, str(given))
        return given
    remembered = store.get_setting(BUDGET_SETTING)
    if remembered is None:
        return None
    try:
        amount = Decimal(remembered)
    except InvalidOperation:
        amount = Decimal(0)
    if not amount.is_finite() or amount <= 0:
        logger.warning("ignoring the remembered monthly budget %r", remembered[:40])
        return None
    return amount

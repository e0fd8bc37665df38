"""What a run cost, as people read it: ``$0.0105`` and ``1,234 in · 56 out``.

One set of rules for the run page, the history and ``attune runs``; ``attune.formatCost`` and
``attune.formatTokens`` in ``static/app.js`` are the twins the pages use for live updates.
Amounts under a dollar keep four decimals (a review costs cents, and $0.01 would hide a
tenfold difference), larger ones two. No ``fastapi`` here: the CLI imports it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from attune.text import plural

__all__ = ["format_cost", "format_tokens", "total_texts", "usage_texts"]

_SMALLEST = Decimal("0.0001")


def format_cost(amount: Decimal | str | None) -> str:
    """``"0.010500"`` → ``"$0.0105"``; ``"12.3"`` → ``"$12.30"``; ``None`` → ``"–"``."""
    if amount is None:
        return "–"
    value = Decimal(amount)
    if value == 0:
        return "$0.00"
    if value < _SMALLEST:
        return "<$0.0001"
    places = _SMALLEST if value.quantize(_SMALLEST, ROUND_HALF_UP) < 1 else Decimal("0.01")
    return f"${value.quantize(places, rounding=ROUND_HALF_UP):,}"


def format_tokens(usage: dict[str, Any]) -> str:
    """``1,234 in · 56 out`` and the cache's share when it was used."""
    parts = [f"{usage['input_tokens']:,} in", f"{usage['output_tokens']:,} out"]
    if usage.get("cache_creation_tokens"):
        parts.append(f"{usage['cache_creation_tokens']:,} cache write")
    if usage.get("cache_read_tokens"):
        parts.append(f"{usage['cache_read_tokens']:,} cache read")
    return " · ".join(parts)


def usage_texts(usage: dict[str, Any] | None) -> dict[str, str] | None:
    """``{"cost", "tokens", "note"}`` of a run object's ``usage`` (``None`` without one)."""
    if usage is None or not usage.get("calls"):
        return None
    unpriced = int(usage.get("unpriced_calls") or 0)
    notes = []
    if unpriced:
        notes.append(f"{unpriced} of {plural(int(usage['calls']), 'call')} unpriced")
    if usage.get("models"):
        notes.append(", ".join(usage["models"]))
    return {
        "cost": format_cost(usage.get("cost_usd")),
        "tokens": format_tokens(usage),
        "note": "; ".join(notes),
    }


def total_texts(total: dict[str, Any]) -> dict[str, str] | None:
    """``{"cost", "runs", "tokens"}`` of a history's ``total`` (``None`` when no run spent)."""
    if not total.get("runs"):
        return None
    return {
        "cost": format_cost(total.get("cost_usd")),
        "runs": plural(int(total["runs"]), "run"),
        "tokens": format_tokens(total),
    }

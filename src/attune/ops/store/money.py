"""Money as the store keeps it: whole pico-dollars (10⁻¹² USD), so SQLite sums exactly.

One definition for Claude Code's usage rows and the runs' ``ATTUNE_USAGE`` calls alike.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["PICO", "decimal_text", "to_pico", "to_usd"]

PICO = Decimal(10) ** 12


def to_pico(amount: Decimal) -> int:
    """Dollars to pico-dollars, rounded half to even at the 12th decimal."""
    return int((amount * PICO).to_integral_value(ROUND_HALF_EVEN))


def to_usd(pico: int) -> Decimal:
    """Pico-dollars (as stored) to dollars, exactly."""
    return Decimal(pico).scaleb(-12)


def decimal_text(amount: Decimal) -> str:
    """Dollars as a plain decimal string: ``"0.0105"``, ``"12"``, ``"0"`` (never ``1E+1``)."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "0") else text

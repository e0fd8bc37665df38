"""5-hour blocks as Claude Code's usage limits count them.

A block starts at its first message's time floored to the hour and lasts 5 hours; the first
message at or after its end (a gap over 5 hours always is) starts the next one. Built from
per-minute sums (a block's bounds are whole hours, so a minute never straddles two blocks).
The active block — now is before its end — gets a burn rate (tokens per minute and dollars
per hour since its first message) and a projection of its cost to its end at that rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from attune.ops.store.money import to_usd

__all__ = ["BLOCK_MS", "Block", "build_blocks"]

BLOCK_MS = 5 * 3_600_000
HOUR_MS = 3_600_000


@dataclass
class Block:
    start: int  # epoch ms
    first: int
    last: int
    messages: int = 0
    tokens: int = 0
    cost_pusd: int = 0
    unpriced: int = 0

    @property
    def end(self) -> int:
        return self.start + BLOCK_MS

    def to_json(self, now_ms: int) -> dict[str, Any]:
        active = self.start <= now_ms < self.end
        elapsed_ms = max((now_ms if active else self.last) - self.first, 60_000)
        cost = to_usd(self.cost_pusd)
        per_hour = cost * HOUR_MS / elapsed_ms
        tokens_per_min = Decimal(self.tokens) * 60_000 / elapsed_ms
        projected = cost + per_hour * (self.end - now_ms) / HOUR_MS if active else cost
        projected_tokens = (
            self.tokens + tokens_per_min * (self.end - now_ms) / 60_000 if active else self.tokens
        )
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "active": active,
            "first_message_at": _iso(self.first),
            "last_message_at": _iso(self.last),
            "messages": self.messages,
            "tokens": self.tokens,
            "cost_usd": format(cost.normalize(), "f"),
            "unpriced_messages": self.unpriced,
            "burn_rate_tokens_per_min": str(tokens_per_min.quantize(Decimal("0.1"))),
            "cost_per_hour_usd": str(per_hour.quantize(Decimal("0.0001"))),
            "projected_cost_usd": str(projected.quantize(Decimal("0.0001"))),
            "projected_tokens": int(projected_tokens),
        }


def build_blocks(minutes: list[tuple[int, int, int, int, int]]) -> list[Block]:
    """Blocks from ``(minute ms, messages, tokens, cost pico-dollars, unpriced)``, oldest first."""
    blocks: list[Block] = []
    for minute, messages, tokens, cost, unpriced in minutes:
        if not blocks or minute >= blocks[-1].end:
            blocks.append(Block(start=minute - minute % HOUR_MS, first=minute, last=minute))
        block = blocks[-1]
        block.last = minute
        block.messages += messages
        block.tokens += tokens
        block.cost_pusd += cost
        block.unpriced += unpriced
    return blocks


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")

"""Pricing a workflow's ``ATTUNE_USAGE`` calls with the same price book as Claude Code's usage.

``runs/`` may not import ``spend/`` (each domain stands alone), so the composition root
(``web/services.py``) builds :class:`WorkflowPricer` and hands it to the runner as its ``price``
callable. One book prices both, so a run's cost and a Claude Code session's agree on the
same tokens (genai-prices, offline; a model it does not know is unpriced, never $0).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from attune.ops.spend.usage.pricing import PriceBook
from attune.ops.store.money import to_usd
from attune.ops.store.usage_rows import MessageRow

__all__ = ["WorkflowPricer"]


class WorkflowPricer:
    """``price(model, *, input_tokens, …, at)`` in dollars, or ``None`` for an unknown model."""

    def __init__(self, book: PriceBook | None = None) -> None:
        self.book = book or PriceBook()

    def __call__(
        self,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_creation_tokens: int,
        cache_read_tokens: int,
        at: datetime,
    ) -> Decimal | None:
        """The cost of one call. Anthropic's ``input_tokens`` exclude the cache's, as here."""
        row = MessageRow(
            key="",
            request_id=None,
            ts=int(at.timestamp() * 1000),
            session_id="",
            cwd="",
            model=model,
            git_branch=None,
            version=None,
            sidechain=False,
            speed=None,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_creation_tokens=cache_creation_tokens,
            cache_5m_tokens=None,
            cache_1h_tokens=None,
            cache_read_tokens=cache_read_tokens,
            web_searches=0,
        )
        cost, _saved = self.book(row)
        return None if cost is None else to_usd(cost)

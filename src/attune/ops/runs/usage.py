"""``ATTUNE_USAGE {json}``: a workflow reports the tokens (and maybe the dollars) of one API call.

Like ``ATTUNE_REC``, the line is taken out of the log. It is checked before it counts: a JSON
object of known fields only (``model``, ``input_tokens``, ``output_tokens``,
``cache_creation_input_tokens``, ``cache_read_input_tokens``, optionally ``cost_usd`` as a
decimal string), counts that are whole numbers between 0 and a billion, at most 1,000 lines per
run. A line that fails is dropped and counted, and the run's last line says how many were
dropped and why the first one was. A call without ``cost_usd`` is priced by the ``price``
callable the composition root passes in (genai-prices; ``runs/`` never imports ``spend/``);
a model it does not know leaves the call unpriced, never $0. Each accepted call is stored at
once, so a run's cost is known while it runs and survives a crash of the dashboard.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from attune.ops.store.database import Store
from attune.ops.store.run_usage import UsageCall
from attune.text import plural

__all__ = [
    "MAX_USAGE_LINES",
    "USAGE_PREFIX",
    "PriceUsage",
    "UsageMeter",
    "parse_usage",
]

logger = logging.getLogger(__name__)

USAGE_PREFIX = "ATTUNE_USAGE "
MAX_USAGE_LINES = 1000
MAX_LINE_CHARS = 4096
MAX_TOKENS = 10**9  # far beyond any one call (a 1M-token context is 10^6)
MAX_COST_USD = Decimal(100_000)
MAX_MODEL_CHARS = 200
COUNT_FIELDS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_creation_input_tokens": "cache_creation_tokens",
    "cache_read_input_tokens": "cache_read_tokens",
}
REQUIRED = ("model", "input_tokens", "output_tokens")
KNOWN = frozenset({"model", "cost_usd", *COUNT_FIELDS})
_DECIMAL = re.compile(r"^[0-9]{1,9}(?:\.[0-9]{1,18})?$")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")


class PriceUsage(Protocol):
    """What the dashboard injects: the cost of one call in dollars, ``None`` when unknown."""

    def __call__(
        self,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_creation_tokens: int,
        cache_read_tokens: int,
        at: datetime,
    ) -> Decimal | None: ...


class Rejected(ValueError):
    """Why an ``ATTUNE_USAGE`` line was dropped (the end of the run's note)."""


def parse_usage(text: str) -> UsageCall:
    """The call an ``ATTUNE_USAGE`` payload (the JSON after the prefix) reports.

    Raises :class:`Rejected` saying what is wrong. Example:
    ``parse_usage('{"model": "claude-haiku-4-5", "input_tokens": 10, "output_tokens": 2}')``.
    """
    if len(text) > MAX_LINE_CHARS:
        raise Rejected(f"longer than {MAX_LINE_CHARS:,} characters")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Rejected(f"not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise Rejected("not a JSON object")
    unknown = sorted(set(data) - KNOWN)
    if unknown:
        raise Rejected(f"unknown field {unknown[0][:40]!r}")
    missing = [name for name in REQUIRED if name not in data]
    if missing:
        raise Rejected(f"no {missing[0]!r}")
    model = data["model"]
    if (
        not isinstance(model, str)
        or not 0 < len(model) <= MAX_MODEL_CHARS
        or not _MODEL.match(model)
    ):
        raise Rejected("'model' is not a model name")
    counts = {dest: _count(data, name) for name, dest in COUNT_FIELDS.items()}
    return UsageCall(model=model, cost_usd=_cost(data.get("cost_usd")), **counts)


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        raise Rejected(f"{name!r} is not a whole number from 0 to {MAX_TOKENS:,}")
    return value


def _cost(value: Any) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise Rejected("'cost_usd' is not a decimal string such as \"0.0123\"")
    try:
        cost = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise Rejected("'cost_usd' is not a decimal string") from None
    if cost > MAX_COST_USD:
        raise Rejected(f"'cost_usd' is over ${MAX_COST_USD:,}")
    return cost


class UsageMeter:
    """One run's ``ATTUNE_USAGE`` lines: checked, priced, stored; the dropped ones counted."""

    def __init__(
        self,
        store: Store,
        run_id: int,
        price: PriceUsage | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._price = price
        self._clock = clock
        self.accepted = 0
        self.rejected = 0
        self.unstored = 0
        self._first_reason: str | None = None

    def take(self, line: str) -> None:
        """One ``ATTUNE_USAGE …`` line of the run's output (never shown in its log)."""
        try:
            if self.accepted >= MAX_USAGE_LINES:
                raise Rejected(f"over {MAX_USAGE_LINES:,} lines in one run")
            call = parse_usage(line[len(USAGE_PREFIX) :])
        except Rejected as exc:
            self.rejected += 1
            self._first_reason = self._first_reason or str(exc)
            return
        if call.cost_usd is None:
            call = replace(call, cost_usd=self._priced(call))
        self.accepted += 1
        try:
            self._store.add_run_usage(self._run_id, call)
        except Exception:  # the log goes on; the run's note says the report was not kept
            logger.exception("run %s: a usage report could not be stored", self._run_id)
            self.unstored += 1

    def _priced(self, call: UsageCall) -> Decimal | None:
        if self._price is None:
            return None
        try:
            return self._price(
                call.model,
                input_tokens=call.input_tokens,
                output_tokens=call.output_tokens,
                cache_creation_tokens=call.cache_creation_tokens,
                cache_read_tokens=call.cache_read_tokens,
                at=self._clock(),
            )
        except Exception:  # a price list that cannot answer leaves the call unpriced
            logger.exception("run %s: %s could not be priced", self._run_id, call.model)
            return None

    def finish(self) -> list[str]:
        """Record the dropped lines; the notes for the run's log (none when all went well)."""
        notes = []
        if self.rejected:
            lines = plural(self.rejected, "ATTUNE_USAGE line")
            notes.append(f"[attune] {lines} dropped (the first: {self._first_reason})")
            try:
                self._store.add_run_usage(self._run_id, None, rejected=self.rejected)
            except Exception:
                logger.exception(
                    "run %s: the dropped usage lines could not be counted", self._run_id
                )
        if self.unstored:
            reports = plural(self.unstored, "usage report")
            notes.append(f"[attune] {reports} could not be stored; this run's cost is incomplete")
        return notes

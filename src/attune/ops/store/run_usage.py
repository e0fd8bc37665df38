"""What each run spent on a model: the ``ATTUNE_USAGE`` lines of a run, summed, in the store.

One row per run that reported usage (``run_usage``, a numbered migration of ``database.py``):
token counts, the calls reported, the cost of the priced ones in pico-dollars (10^-12 USD:
exact for every published per-token price, and an integer, so SQLite sums it exactly), the
models in the order first seen, and how many ``ATTUNE_USAGE`` lines were rejected. A call the
price list does not know adds its tokens and counts as unpriced; it never adds a made-up $0.
The run's row goes with the run (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol, cast

from attune.ops.store.money import decimal_text, to_pico, to_usd
from attune.ops.store.run_filter import RunFilter
from attune.ops.store.sql import Connection, Row

__all__ = [
    "RUN_USAGE_MIGRATION",
    "RunUsage",
    "RunUsageMixin",
    "UsageCall",
    "UsageTotal",
]

RUN_USAGE_MIGRATION = """
CREATE TABLE run_usage (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    calls INTEGER NOT NULL DEFAULT 0,
    priced_calls INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cost_pusd INTEGER NOT NULL DEFAULT 0,
    models TEXT NOT NULL DEFAULT '[]',
    rejected INTEGER NOT NULL DEFAULT 0
);
"""

_COLUMNS = (
    "run_id, calls, priced_calls, input_tokens, output_tokens, cache_creation_tokens, "
    "cache_read_tokens, cost_pusd, models, rejected"
)


@dataclass(frozen=True)
class UsageCall:
    """One valid ``ATTUNE_USAGE`` line: one API call's tokens, and its cost when known."""

    model: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost_usd: Decimal | None


@dataclass(frozen=True)
class RunUsage:
    """A run's usage summed over its calls (the ``usage`` of the run object)."""

    calls: int
    priced_calls: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost_pusd: int
    models: tuple[str, ...]
    rejected: int

    @property
    def cost_usd(self) -> Decimal | None:
        """The priced calls' cost in dollars; ``None`` when no call could be priced."""
        return to_usd(self.cost_pusd) if self.priced_calls else None

    @property
    def unpriced_calls(self) -> int:
        return self.calls - self.priced_calls

    def to_json(self) -> dict[str, Any]:
        """The run object's ``usage``: token counts, ``cost_usd`` as a decimal string or null,
        the models, and how many calls were reported, unpriced, and lines rejected."""
        cost = self.cost_usd
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cost_usd": None if cost is None else decimal_text(cost),
            "models": list(self.models),
            "calls": self.calls,
            "unpriced_calls": self.unpriced_calls,
            "rejected_lines": self.rejected,
        }

    @classmethod
    def from_row(cls, row: Row | Sequence[Any]) -> RunUsage:
        return cls(
            calls=int(row[1]),
            priced_calls=int(row[2]),
            input_tokens=int(row[3]),
            output_tokens=int(row[4]),
            cache_creation_tokens=int(row[5]),
            cache_read_tokens=int(row[6]),
            cost_pusd=int(row[7]),
            models=tuple(json.loads(row[8])),
            rejected=int(row[9]),
        )


@dataclass(frozen=True)
class UsageTotal:
    """What a set of runs (a filtered history) spent: runs with usage, tokens, priced cost."""

    runs: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost_pusd: int
    priced_runs: int

    @property
    def cost_usd(self) -> Decimal | None:
        return to_usd(self.cost_pusd) if self.priced_runs else None

    def to_json(self) -> dict[str, Any]:
        cost = self.cost_usd
        return {
            "runs": self.runs,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cost_usd": None if cost is None else decimal_text(cost),
        }


class _Filtered(Protocol):
    def run_filter(self, found: RunFilter) -> tuple[list[str], list[Any]]: ...


class RunUsageMixin:
    """The usage methods of :class:`attune.ops.store.database.Store` (mixed in)."""

    def read(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store
        raise NotImplementedError

    def write(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store
        raise NotImplementedError

    def add_run_usage(self, run_id: int, call: UsageCall | None, rejected: int = 0) -> None:
        """Add one call (and/or ``rejected`` dropped lines) to a run's usage, in one write."""
        if call is None and not rejected:
            return
        with self.write() as conn:
            row = conn.execute(
                "SELECT models FROM run_usage WHERE run_id = ?", (run_id,)
            ).fetchone()
            models: list[str] = json.loads(row[0]) if row else []
            if call is not None and call.model not in models:
                models.append(call.model)
            priced = call is not None and call.cost_usd is not None
            values = (
                run_id,
                int(call is not None),
                int(priced),
                call.input_tokens if call else 0,
                call.output_tokens if call else 0,
                call.cache_creation_tokens if call else 0,
                call.cache_read_tokens if call else 0,
                to_pico(call.cost_usd) if call and call.cost_usd is not None else 0,
                json.dumps(models),
                rejected,
            )
            conn.execute(
                f"INSERT INTO run_usage AS u ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
                "ON CONFLICT (run_id) DO UPDATE SET calls = u.calls + excluded.calls, "
                "priced_calls = u.priced_calls + excluded.priced_calls, "
                "input_tokens = u.input_tokens + excluded.input_tokens, "
                "output_tokens = u.output_tokens + excluded.output_tokens, "
                "cache_creation_tokens = u.cache_creation_tokens + excluded.cache_creation_tokens, "
                "cache_read_tokens = u.cache_read_tokens + excluded.cache_read_tokens, "
                "cost_pusd = u.cost_pusd + excluded.cost_pusd, models = excluded.models, "
                "rejected = u.rejected + excluded.rejected",
                values,
            )

    def run_usages(self, run_ids: Iterable[int]) -> dict[int, RunUsage]:
        """``{run id: usage}`` of the runs in ``run_ids`` that reported any."""
        ids = sorted(set(run_ids))
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM run_usage WHERE run_id IN ({marks})",  # noqa: S608
                ids,
            ).fetchall()
        return {int(r[0]): RunUsage.from_row(r) for r in rows}

    def _with_usage(self, runs: list[Any]) -> list[Any]:
        """``runs`` (:class:`~attune.ops.store.runs.Run` values) with their ``usage`` filled in."""
        usages = self.run_usages(r.id for r in runs)
        return [replace(r, usage=usages[r.id]) if r.id in usages else r for r in runs]

    def usage_total(self, found: RunFilter) -> UsageTotal:
        """What the runs of a history filter (as ``list_runs`` takes it, every page) spent."""
        where, args = cast(_Filtered, self).run_filter(found)
        return self.usage_total_where(where, args)

    def usage_total_between(self, since: date | None, until: date | None) -> UsageTotal:
        """What the runs started from UTC day ``since`` to ``until`` (both included) spent."""
        where, args = [], []
        if since is not None:
            where.append("started_at >= ?")
            args.append(since.isoformat())
        if until is not None:
            where.append("started_at < ?")
            args.append((until + timedelta(days=1)).isoformat())
        return self.usage_total_where(where, args)

    def usage_total_where(self, where: Sequence[str], args: Sequence[Any]) -> UsageTotal:
        """The summed usage of the runs matching ``where`` (conditions on ``runs``).

        Walks ``run_usage`` first (only runs that reported usage), then checks each run.
        """
        sql = (
            "SELECT count(*), coalesce(sum(u.input_tokens), 0), coalesce(sum(u.output_tokens), 0), "
            "coalesce(sum(u.cache_creation_tokens), 0), coalesce(sum(u.cache_read_tokens), 0), "
            "coalesce(sum(u.cost_pusd), 0), "
            "coalesce(sum(CASE WHEN u.priced_calls > 0 THEN 1 ELSE 0 END), 0) "
            "FROM run_usage u CROSS JOIN runs ON runs.id = u.run_id WHERE u.calls > 0"
        )
        if where:
            sql += " AND " + " AND ".join(where)
        with self.read() as conn:
            row = conn.execute(sql, list(args)).fetchone()
        return UsageTotal(*(int(v) for v in row))

"""Prices from genai-prices (offline, bundled, dated data), exact to 10^-12 USD.

Each response is priced at its own timestamp with the price the library picks for that date,
cache writes split into 5-minute and 1-hour when the line has the split (else all 5-minute),
and the long-context tier the library models (chosen by the total input: uncached + cache
writes + cache reads). A model the library does not know is *unpriced* (``None``), never $0.

One library call costs ~90 µs, too slow for a million responses. Within one price (a model's
price for a period) and one tier, the library's price is linear in each token count, so the
per-token rates are measured once from the library itself (a handful of probe calls), checked
against one more call, and applied — in whole pico-dollars when every rate is a whole number
of them (every published price), else with ``Decimal`` arithmetic; a price that does not
check out is asked of the library for every row. The price in force is looked up once per
model and UTC day (the library switches prices on a request's date), per hour for a model
with other constraints, per row for one priced by the time of day.
``tests/test_usage_pricing.py`` compares all of it with the library on generated usage.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from attune.ops.store.money import PICO, to_pico, to_usd
from attune.ops.store.usage_rows import DAY_MS, MessageRow

__all__ = ["PriceBook", "price_source", "usd_text"]

logger = logging.getLogger(__name__)

PROVIDER = "anthropic"
_PROBE_OUT = 1_000_000
_PROBE_WEB = 1_000
HOUR_MS = 3_600_000


def price_source() -> str:
    """``genai-prices <version>``: the price data every estimate names."""
    version = _dist_info_version("genai_prices")
    if version is None:  # not the usual layout: ask importlib.metadata (10 ms more to import)
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as metadata_version

        try:
            version = metadata_version("genai-prices")
        except PackageNotFoundError:
            return "genai-prices (not installed)"
    return f"genai-prices {version}"


def _dist_info_version(package: str) -> str | None:
    """The version in the ``.dist-info`` beside an installed ``package``, read without
    importing it (or importlib.metadata); ``None`` unless exactly one is found there."""
    from importlib.util import find_spec

    try:
        spec = find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent.parent
    found = list(folder.glob(f"{package}-*.dist-info/METADATA"))
    if len(found) != 1:
        return None
    try:
        head = found[0].read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return None
    for line in head.splitlines():
        if line.startswith("Version:"):
            return line.partition(":")[2].strip() or None
    return None


def usd_text(pico: int) -> str:
    """Pico-dollars as the decimal string every answer carries (``"1.2345"``, ``"0"``)."""
    return format(to_usd(pico).normalize(), "f")


@dataclass(frozen=True)
class _Rates:
    """USD per token (per search) of one price in one tier."""

    uncached: Decimal
    write_5m: Decimal
    write_1h: Decimal
    read: Decimal
    output: Decimal
    search: Decimal


class _Pico(NamedTuple):
    """:class:`_Rates` in whole pico-dollars per token (per search)."""

    uncached: int
    write_5m: int
    write_1h: int
    read: int
    output: int
    search: int


_UNSEEN: Any = object()
_NO_TIER = 1 << 62


class PriceBook:
    """Prices :class:`MessageRow` values; thread-safe; the library is imported on first use."""

    def __init__(self) -> None:
        self.source = price_source()
        self._lock = threading.Lock()
        self._models: dict[str, Any] = {}  # model ref -> (provider, model info) or None
        # (id of a price, tier band) -> (the price, its rates, the rates in whole pico-dollars)
        self._rates: dict[tuple[int, int], tuple[Any, _Rates | None, _Pico | None]] = {}
        # (model, day or hour) -> (provider, model info, its price then, its tier starts)
        self._hours: dict[tuple[str, int], tuple[Any, Any, Any, list[int]] | None] = {}
        # model -> how long its price surely holds: a UTC day when its prices change only at
        # a start date (genai-prices compares the request's date), else an hour
        self._grains: dict[str, int] = {}
        self._lib: Any = None
        # (model, UTC day) -> (whole pico-dollar rates of its first tier, the input count up to
        # which that tier holds): every row of a day-priced model, without the lock
        self._days: dict[tuple[str, int], tuple[_Pico, int]] = {}

    def __call__(self, row: MessageRow) -> tuple[int | None, int]:
        """``(cost, cache savings)`` in pico-dollars; cost ``None`` when the model is unknown."""
        day = self._days.get((row[5], row[2] // DAY_MS))
        if day is not None and row[10] + row[12] + row[15] <= day[1]:
            return _apply_pico(day[0], row)
        with self._lock:
            grain = self._grains.get(row.model)
            if grain is None:
                grain = self._grains[row.model] = self._grain(row.model)
            period = (row.model, row.ts // grain)
            found = self._hours.get(period, _UNSEEN)
            if found is _UNSEEN:
                found = self._hours[period] = self._price_at(row)
            if found is None:
                return None, 0
            provider, info, price, starts = found
            if price is None:  # prices that change within an hour: asked for the row's time
                price = info.get_prices(_when(row))
                starts = _starts(price)
            total_input = row.input_tokens + row.cache_creation_tokens + row.cache_read_tokens
            band = bisect_left(starts, total_input)  # how many tiers start below it
            cached = self._rates.get((id(price), band))
            if cached is None:
                probe_input = _probe(starts, band)
                rates = self._measure(provider, info, _when(row), probe_input)
                cached = (price, rates, _in_pico(rates))  # holding ``price`` keeps its id
                self._rates[(id(price), band)] = cached
            _, rates, pico = cached
            if pico is not None:
                if band == 0 and grain == DAY_MS:
                    if len(self._days) > 200_000:
                        self._days.clear()
                    self._days[period] = (pico, starts[0] if starts else _NO_TIER)
                return _apply_pico(pico, row)
            if rates is None:
                return self._direct(provider, info, _when(row), row)
            return _apply(rates, row)

    def _price_at(self, row: MessageRow) -> tuple[Any, Any, Any, list[int]] | None:
        found = self._model(row.model)
        if found is None:
            return None
        provider, info = found
        if len(self._hours) > 200_000:  # years of hours × models: start again
            self._hours.clear()
        if _changes_within_hours(info):
            return provider, info, None, []
        price = info.get_prices(_when(row))
        return provider, info, price, _starts(price)

    def warm(self) -> None:
        """Import the library and load its price data now (~0.2 s), e.g. while workers read."""
        with self._lock:
            self._library().data_snapshot.get_snapshot()

    def _grain(self, model: str) -> int:
        found = self._model(model)
        return DAY_MS if found is not None and _changes_by_date_only(found[1]) else HOUR_MS

    def _library(self) -> Any:
        if self._lib is None:
            import genai_prices

            self._lib = genai_prices
        return self._lib

    def _model(self, model: str) -> Any:
        if model not in self._models:
            lib = self._library()
            try:
                snapshot = lib.data_snapshot.get_snapshot()
                self._models[model] = snapshot.find_provider_model(model, None, PROVIDER, None)
            except LookupError:
                self._models[model] = None
        return self._models[model]

    def _calc(self, provider: Any, info: Any, when: datetime, **counts: int) -> Decimal:
        usage = self._library().Usage(**counts)
        total: Decimal = info.calc_price(usage, provider, genai_request_timestamp=when).total_price
        return total

    def _measure(self, provider: Any, info: Any, when: datetime, n: int) -> _Rates | None:
        """Per-token rates of the tier holding ``n`` input tokens, checked once more; ``None``
        when they do not check out (every row of that price is then asked of the library)."""
        try:
            return self._measured(provider, info, when, n)
        except (ArithmeticError, ValueError, TypeError) as exc:
            logger.warning("genai-prices: cannot measure the rates of %s: %s", info.id, exc)
            return None

    def _measured(self, provider: Any, info: Any, when: datetime, n: int) -> _Rates | None:
        calc = self._calc
        base = calc(provider, info, when, input_tokens=n)
        rates = _Rates(
            uncached=base / n,
            write_5m=calc(provider, info, when, input_tokens=n, cache_write_tokens=n) / n,
            write_1h=calc(
                provider,
                info,
                when,
                input_tokens=n,
                cache_write_tokens=n,
                cache_write_1h_tokens=n,
            )
            / n,
            read=calc(provider, info, when, input_tokens=n, cache_read_tokens=n) / n,
            output=(calc(provider, info, when, input_tokens=n, output_tokens=_PROBE_OUT) - base)
            / _PROBE_OUT,
            search=(calc(provider, info, when, input_tokens=n, web_searches=_PROBE_WEB) - base)
            / _PROBE_WEB,
        )
        check = {"uncached": n // 2, "w5": n // 8, "w1": n // 8}
        check["read"] = n - check["uncached"] - check["w5"] - check["w1"]
        expected = calc(
            provider,
            info,
            when,
            input_tokens=n,
            cache_write_tokens=check["w5"] + check["w1"],
            cache_write_1h_tokens=check["w1"],
            cache_read_tokens=check["read"],
            output_tokens=777,
            web_searches=3,
        )
        linear = (
            rates.uncached * check["uncached"]
            + rates.write_5m * check["w5"]
            + rates.write_1h * check["w1"]
            + rates.read * check["read"]
            + rates.output * 777
            + rates.search * 3
        )
        if to_pico(linear) != to_pico(expected):
            logger.warning("genai-prices: %s is not linear in a tier; pricing each row", info.id)
            return None
        return rates

    def _direct(
        self, provider: Any, info: Any, when: datetime, row: MessageRow
    ) -> tuple[int | None, int]:
        writes, one_hour = _writes(row)
        common = {
            "input_tokens": row.input_tokens + writes + row.cache_read_tokens,
            "cache_write_tokens": writes,
            "cache_write_1h_tokens": one_hour,
            "output_tokens": row.output_tokens,
            "web_searches": row.web_searches,
        }
        cost = self._calc(provider, info, when, **common, cache_read_tokens=row.cache_read_tokens)
        as_input = self._calc(provider, info, when, **common)  # the reads as plain input
        return to_pico(cost), to_pico(as_input - cost)


def _writes(row: MessageRow) -> tuple[int, int]:
    """Cache writes in all and of them 1-hour ones (all 5-minute when the line has no split)."""
    writes = row.cache_creation_tokens
    one_hour = min(row.cache_1h_tokens or 0, writes)
    return writes, one_hour


def _apply(rates: _Rates, row: MessageRow) -> tuple[int, int]:
    writes, one_hour = _writes(row)
    cost = (
        rates.uncached * row.input_tokens
        + rates.write_5m * (writes - one_hour)
        + rates.write_1h * one_hour
        + rates.read * row.cache_read_tokens
        + rates.output * row.output_tokens
        + rates.search * row.web_searches
    )
    saved = (rates.uncached - rates.read) * row.cache_read_tokens
    return to_pico(cost), to_pico(saved)


def _when(row: MessageRow) -> datetime:
    return datetime.fromtimestamp(row.ts / 1000, UTC)


def _starts(price: Any) -> list[int]:
    """The input counts past which a tier of ``price`` applies, ascending."""
    tiers = (getattr(value, "tiers", ()) or () for value in vars(price).values())
    return sorted({tier.start for group in tiers for tier in group})


def _constraints(info: Any) -> list[Any]:
    prices = info.prices if isinstance(info.prices, list) else []
    variants = getattr(info, "price_variants", None) or []
    return [p.constraint for p in prices] + [v.constraint for v in variants]


def _changes_by_date_only(info: Any) -> bool:
    """Whether every price of a model is either unconditional or starts on a date."""
    return all(
        c is None or (type(c).__name__ == "StartDateConstraint" and hasattr(c, "start_date"))
        for c in _constraints(info)
    )


def _changes_within_hours(info: Any) -> bool:
    """Whether a model's prices depend on the time of day (then no hour is cached)."""
    return any(c is not None and hasattr(c, "start_time") for c in _constraints(info))


def _probe(starts: list[int], band: int) -> int:
    """An input count inside tier band ``band`` of a price whose tiers start at ``starts``."""
    if band == 0:
        return max(1, min(starts[0], _PROBE_OUT)) if starts else _PROBE_OUT
    return starts[band - 1] + 1


def _in_pico(rates: _Rates | None) -> _Pico | None:
    """The rates as whole pico-dollars per token, when every one is (every published Anthropic
    price is): integer arithmetic then gives exactly what :func:`_apply` gives, faster."""
    if rates is None:
        return None
    values = [
        rates.uncached * PICO,
        rates.write_5m * PICO,
        rates.write_1h * PICO,
        rates.read * PICO,
        rates.output * PICO,
        rates.search * PICO,
    ]
    if any(v != v.to_integral_value() for v in values):
        return None
    u, w5, w1, r, o, web = (int(v) for v in values)
    return _Pico(u, w5, w1, r, o, web)


def _apply_pico(rates: _Pico, row: MessageRow) -> tuple[int, int]:
    # positional (a cold ingest prices every row here): MessageRow's fields 10-16 are the
    # uncached input, output, cache writes, their 5-minute and 1-hour parts, reads, searches
    _, _, _, _, _, _, _, _, _, _, uncached, output, writes, _, one_hour, reads, searches = row
    one_hour = min(one_hour or 0, writes)
    uncached_rate, write_5m, write_1h, read, output_rate, search = rates
    cost = (
        uncached_rate * uncached
        + write_5m * (writes - one_hour)
        + write_1h * one_hour
        + read * reads
        + output_rate * output
        + search * searches
    )
    return cost, (uncached_rate - read) * reads

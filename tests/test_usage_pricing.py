"""Pricing with genai-prices: our fast path equals the library's own ``calc_price`` on every
usage (hypothesis), at the row's timestamp, with the 5m/1h cache-write split and the long-context
tier; an unknown model is unpriced, never $0; amounts are exact Decimals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from genai_prices import Usage, calc_price
from hypothesis import given, settings
from hypothesis import strategies as st

from attune.ops.spend.usage.pricing import PriceBook, price_source, usd_text
from attune.ops.store.money import to_usd
from attune.ops.store.usage_rows import MessageRow

BOOK = PriceBook()
MODELS = (
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-5-20251101",
    "claude-3-5-haiku-20241022",
    "claude-sonnet-4-6",
)


def row(model: str, ts_ms: int, **tokens: int | None) -> MessageRow:
    values = {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_creation_tokens": 0,
        "cache_5m_tokens": None,
        "cache_1h_tokens": None,
        "cache_read_tokens": 0,
        "web_searches": 0,
        **tokens,
    }
    return MessageRow("k", None, ts_ms, "s", "/p", model, None, None, False, None, **values)  # type: ignore[arg-type]


def library(r: MessageRow) -> Decimal:
    writes = r.cache_creation_tokens
    usage = Usage(
        input_tokens=r.input_tokens + writes + r.cache_read_tokens,
        cache_write_tokens=writes,
        cache_write_1h_tokens=min(r.cache_1h_tokens or 0, writes),
        cache_read_tokens=r.cache_read_tokens,
        output_tokens=r.output_tokens,
        web_searches=r.web_searches,
    )
    when = datetime.fromtimestamp(r.ts / 1000, UTC)
    total: Decimal = calc_price(
        usage, r.model, provider_id="anthropic", genai_request_timestamp=when
    ).total_price
    return total


@settings(max_examples=300, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    ts=st.integers(min_value=1_704_067_200_000, max_value=1_830_000_000_000),
    uncached=st.integers(0, 5_000),
    writes=st.integers(0, 400_000),
    one_hour_share=st.none() | st.floats(0, 1),
    reads=st.integers(0, 900_000),
    output=st.integers(0, 64_000),
    searches=st.integers(0, 5),
)
def test_every_price_equals_the_librarys_own(
    model: str,
    ts: int,
    uncached: int,
    writes: int,
    one_hour_share: float | None,
    reads: int,
    output: int,
    searches: int,
) -> None:
    one_hour = None if one_hour_share is None else int(writes * one_hour_share)
    r = row(
        model,
        ts,
        input_tokens=uncached,
        cache_creation_tokens=writes,
        cache_5m_tokens=None if one_hour is None else writes - one_hour,
        cache_1h_tokens=one_hour,
        cache_read_tokens=reads,
        output_tokens=output,
        web_searches=searches,
    )
    cost, saved = BOOK(r)
    assert cost is not None
    assert to_usd(cost) == library(r)
    assert saved >= 0


def test_one_hour_cache_writes_cost_more_than_five_minute_ones() -> None:
    five = BOOK(row(MODELS[0], 1_764_000_000_000, cache_creation_tokens=10_000))[0]
    split = BOOK(
        row(
            MODELS[0],
            1_764_000_000_000,
            cache_creation_tokens=10_000,
            cache_5m_tokens=0,
            cache_1h_tokens=10_000,
        )
    )[0]
    assert five is not None and split is not None
    assert to_usd(five) == Decimal("0.0375")  # $3.75 per million
    assert to_usd(split) == Decimal("0.06")  # $6 per million


def test_past_200k_input_tokens_the_long_context_tier_applies() -> None:
    ts = 1_764_000_000_000
    short = BOOK(row(MODELS[0], ts, input_tokens=200_000, output_tokens=1_000_000))[0]
    long = BOOK(row(MODELS[0], ts, input_tokens=200_001, output_tokens=1_000_000))[0]
    assert short is not None and long is not None
    assert to_usd(short) == Decimal("0.6") + Decimal(15)
    assert to_usd(long) > to_usd(short) * Decimal("1.4")


def test_an_unknown_model_is_unpriced_not_free() -> None:
    assert BOOK(row("claude-imaginary-9", 1_764_000_000_000, output_tokens=5)) == (None, 0)


def test_cache_savings_are_reads_at_the_input_price_less_their_price() -> None:
    cost, saved = BOOK(row(MODELS[0], 1_764_000_000_000, cache_read_tokens=100_000))
    assert cost is not None  # $0.30 per million read instead of $3 as plain input
    assert to_usd(cost) == Decimal("0.03") and to_usd(saved) == Decimal("0.27")


def test_the_price_data_is_named_and_amounts_are_plain_decimal_strings() -> None:
    from importlib.metadata import version

    assert price_source() == f"genai-prices {version('genai-prices')}"  # read from its METADATA
    assert usd_text(1_500_000_000_000) == "1.5"
    assert usd_text(0) == "0"
    assert usd_text(10**13) == "10"
    assert usd_text(1) == "0.000000000001"

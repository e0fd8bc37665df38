"""The spend panel's text and SVG: money formatting, axis tops, the chart and the budget gauge."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attune.ops.web.charts import bar_chart_svg, budget_gauge_svg, format_usd, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0", "$0.00"),
        ("1.2345", "$1.23"),
        ("1.235", "$1.24"),
        ("1234567.891", "$1,234,567.89"),
        ("0.004", "<$0.01"),
        ("-2.5", "-$2.50"),
    ],
)
def test_format_usd(amount: str, text: str) -> None:
    assert format_usd(Decimal(amount)) == text


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**9), places=4))
def test_nice_ceiling_is_a_round_bound_not_far_above(value: Decimal) -> None:
    top = nice_ceiling(value)
    assert value <= top <= value * Decimal("2.5")
    mantissa = top / Decimal(10) ** top.adjusted()
    assert mantissa in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_chart_has_one_titled_bar_per_day_and_escapes_text() -> None:
    days = [(date(2026, 3, 1) + timedelta(days=i), Decimal(i)) for i in range(30)]
    root = parse(bar_chart_svg(days))
    assert root.get("role") == "radiogroup"  # its days can be picked: tap, focus, arrow keys
    bars = root.findall(f"{SVG}g[@class]")
    bars = [g for g in bars if "chart-bar" in (g.get("class") or "")]
    assert len(bars) == 30
    assert bars[-1].get("class") == "chart-bar chart-bar-today"
    assert bars[3].find(f"{SVG}title").text == "Wed 04 Mar 2026: $3.00"  # type: ignore[union-attr]
    assert bars[3].get("aria-label") == "Wed 04 Mar 2026: $3.00"
    assert (bars[3].get("data-date"), bars[3].get("data-usd")) == ("Wed 04 Mar 2026", "$3.00")
    assert all(b.get("role") == "radio" for b in bars)
    # Today is checked and is the chart's one tab stop.
    assert [b.get("aria-checked") for b in bars] == ["false"] * 29 + ["true"]
    assert [b.get("tabindex") for b in bars] == ["-1"] * 29 + ["0"]
    fills = [b.find(f"{SVG}rect[@class='chart-fill']") for b in bars]
    heights = [float(f.get("height", "0")) for f in fills if f is not None]
    assert heights[0] == 0 and heights == sorted(heights)
    assert "$29.00" in root.find(f"{SVG}desc").text  # type: ignore[union-attr]
    assert "style" not in bar_chart_svg(days)


def test_chart_of_an_all_zero_month_is_flat_and_valid() -> None:
    days = [(date(2026, 3, 1) + timedelta(days=i), Decimal(0)) for i in range(30)]
    root = parse(bar_chart_svg(days))
    assert all(
        float(r.get("height", "1")) == 0
        for r in root.iter(f"{SVG}rect")
        if r.get("class") == "chart-fill"
    )


def test_budget_gauge_marks_spent_projection_and_budget() -> None:
    root = parse(budget_gauge_svg(Decimal(50), Decimal(120), Decimal(100), "warn"))
    assert root.get("class") == "budget-gauge budget-gauge-warn"
    rects = {r.get("class"): float(r.get("width", "0")) for r in root.iter(f"{SVG}rect")}
    assert rects["gauge-spent"] < rects["gauge-projected"] < rects["gauge-track"]
    line = root.find(f"{SVG}line")
    assert line is not None
    assert rects["gauge-spent"] < float(line.get("x1", "0")) < rects["gauge-projected"]
    assert "Budget: $100.00" in "".join(root.itertext())

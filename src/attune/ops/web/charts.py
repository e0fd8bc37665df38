"""The spend panel's figures as text and its 30-day bar chart as server-side SVG.

The SVG carries no script and no inline style (CSP): colours come from classes in ``app.css``.
Every day is a group with a ``<title>`` (hover text) and a transparent full-height hit area, so
zero days can be hovered and tapped too. The chart is a radio group of its days (one tab stop,
the arrow keys move, today checked at first): ``static/spend.js`` shows the checked day's date and
amount in a label beside the chart, from the ``data-date``/``data-usd`` of each day.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from html import escape

__all__ = ["bar_chart_svg", "budget_gauge_svg", "day_text", "format_usd", "nice_ceiling"]

WIDTH = 960
HEIGHT = 190
PAD_LEFT = 56
PAD_RIGHT = 8
PAD_TOP = 10
PAD_BOTTOM = 26
CENT = Decimal("0.01")


def format_usd(amount: Decimal) -> str:
    """``Decimal("1234.5")`` → ``"$1,234.50"``; a non-zero amount under a cent → ``"<$0.01"``."""
    if Decimal(0) < abs(amount) < CENT:
        return "<$0.01" if amount > 0 else "-<$0.01"
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.2f}"


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ that is ≥ ``value`` (1 for zero): a readable axis top."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for _ in range(2):
        scale = Decimal(10) ** exponent
        for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
            if step * scale >= value:
                return (step * scale).normalize()
        exponent += 1
    return value  # pragma: no cover - the loop always finds a step


def bar_chart_svg(by_day: list[tuple[date, Decimal]]) -> str:
    """An accessible SVG bar chart of daily spend (one bar per day, oldest first)."""
    top = nice_ceiling(max((v for _, v in by_day), default=Decimal(0)))
    total = sum((v for _, v in by_day), Decimal(0))
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(by_day), 1)
    parts = [
        f'<svg class="spend-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="radiogroup" '
        f'aria-labelledby="spend-chart-title spend-chart-desc">',
        '<title id="spend-chart-title">Daily spend, last 30 days</title>',
        f'<desc id="spend-chart-desc">{escape(_description(by_day, total))}</desc>',
        *_grid(top, plot_w, plot_h),
    ]
    for index, (day, usd) in enumerate(by_day):
        parts.append(_bar(index, day, usd, top, slot, plot_h, last=index == len(by_day) - 1))
    parts.extend(_x_labels(by_day, slot))
    parts.append("</svg>")
    return "".join(parts)


def day_text(day: date) -> str:
    """How the chart names a day: ``Wed 04 Mar 2026``."""
    return day.strftime("%a %d %b %Y")


def _description(by_day: list[tuple[date, Decimal]], total: Decimal) -> str:
    if not by_day:
        return "No days."
    peak_day, peak = max(by_day, key=lambda item: (item[1], item[0]))
    first, last = by_day[0][0], by_day[-1][0]
    text = f"{first.isoformat()} to {last.isoformat()}: {format_usd(total)} in total"
    if peak > 0:
        text += f"; highest {format_usd(peak)} on {peak_day.isoformat()}"
    return text + "."


def _grid(top: Decimal, plot_w: float, plot_h: float) -> list[str]:
    lines = ['<g class="chart-grid" aria-hidden="true">']
    for fraction in (Decimal(0), Decimal("0.5"), Decimal(1)):
        y = PAD_TOP + plot_h - float(fraction) * plot_h
        lines.append(
            f'<line x1="{PAD_LEFT}" x2="{PAD_LEFT + plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        lines.append(
            f'<text class="chart-axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_axis_label(top * fraction))}</text>"
        )
    lines.append("</g>")
    return lines


def _axis_label(amount: Decimal) -> str:
    if amount == amount.to_integral_value():
        return f"${int(amount):,}"
    return format_usd(amount)


def _bar(
    index: int, day: date, usd: Decimal, top: Decimal, slot: float, plot_h: float, *, last: bool
) -> str:
    x = PAD_LEFT + index * slot
    height = float(usd / top) * plot_h if usd > 0 else 0.0
    if usd > 0:
        height = max(height, 1.5)  # a tiny spend stays visible
    y = PAD_TOP + plot_h - height
    when, amount = day_text(day), format_usd(usd)
    label = f"{when}: {amount}"
    css = "chart-bar chart-bar-today" if last else "chart-bar"
    checked = "true" if last else "false"
    return (
        f'<g class="{css}" role="radio" aria-checked="{checked}" tabindex="{0 if last else -1}" '
        f'aria-label="{escape(label)}" data-date="{escape(when)}" data-usd="{escape(amount)}">'
        f"<title>{escape(label)}</title>"
        f'<rect class="chart-hit" x="{x:.1f}" y="{PAD_TOP}" width="{slot:.1f}" height="{plot_h}"/>'
        f'<rect class="chart-fill" x="{x + slot * 0.15:.1f}" y="{y:.1f}" '
        f'width="{slot * 0.7:.1f}" height="{height:.1f}" rx="1.5"/></g>'
    )


def _x_labels(by_day: list[tuple[date, Decimal]], slot: float) -> list[str]:
    labels = ['<g class="chart-axis" aria-hidden="true">']
    count = len(by_day)
    for index, (day, _) in enumerate(by_day):
        if (count - 1 - index) % 7 != 0:
            continue
        x = PAD_LEFT + index * slot + slot / 2
        text = "today" if index == count - 1 else day.strftime("%d %b")
        labels.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(text)}</text>'
        )
    labels.append("</g>")
    return labels


GAUGE_W = 1000
GAUGE_H = 20


def budget_gauge_svg(spent: Decimal, projected: Decimal, budget: Decimal, level: str) -> str:
    """A horizontal gauge: spent so far, the projection beyond it, and the budget line.

    It stretches to the panel's width (``preserveAspectRatio="none"``, a fixed CSS height), so
    it holds no text: the legend and the figures are HTML beside it.
    """
    scale = max(budget, projected, spent) * Decimal("1.08")

    def x(amount: Decimal) -> float:
        return float(amount / scale) * GAUGE_W

    label = (
        f"Spent {format_usd(spent)} of a {format_usd(budget)} budget; "
        f"projected {format_usd(projected)} by the end of the month"
    )
    budget_x = x(budget)
    return "".join(
        [
            f'<svg class="budget-gauge budget-gauge-{escape(level)}" viewBox="0 0 {GAUGE_W} '
            f'{GAUGE_H}" preserveAspectRatio="none" role="img" aria-label="{escape(label)}">',
            f"<title>{escape(label)}</title>",
            f'<rect class="gauge-track" x="0" y="0" width="{GAUGE_W}" height="{GAUGE_H}"/>',
            f'<rect class="gauge-projected" x="0" y="0" width="{x(projected):.1f}" '
            f'height="{GAUGE_H}"><title>Projected: {escape(format_usd(projected))}</title>'
            "</rect>",
            f'<rect class="gauge-spent" x="0" y="0" width="{x(spent):.1f}" '
            f'height="{GAUGE_H}"><title>Month to date: {escape(format_usd(spent))}</title>'
            "</rect>",
            f'<line class="gauge-budget" x1="{budget_x:.1f}" x2="{budget_x:.1f}" y1="0" '
            f'y2="{GAUGE_H}" vector-effect="non-scaling-stroke">'
            f"<title>Budget: {escape(format_usd(budget))}</title></line>",
            "</svg>",
        ]
    )

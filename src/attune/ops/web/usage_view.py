"""The usage report as the page shows it: figures as text and a stacked daily chart (SVG).

Everything comes from the report object of ``GET /api/usage`` (the page and its JSON twin are
built from the same data). The SVG carries no script and no inline style (CSP): a model's
colour is a class (``usage-m0`` … ``usage-m5``) defined in ``static/usage.css``; every text is
escaped.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from html import escape
from typing import Any

from attune.ops.web.charts import format_usd, nice_ceiling

__all__ = ["chart_svg", "duration_text", "page_context", "tokens_text"]

WIDTH, HEIGHT = 960, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 8, 10, 26
COLOURS = 6


def tokens_text(n: int) -> str:
    """``1234567`` → ``"1.23M"``; small counts as they are."""
    for size, unit in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if n >= size:
            return f"{n / size:.2f}".rstrip("0").rstrip(".") + unit
    return str(n)


def duration_text(seconds: int) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes = rest // 60
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def usd(value: str | None) -> str:
    return "price unknown" if value is None else format_usd(Decimal(value))


def page_context(report: dict[str, Any]) -> dict[str, Any]:
    """What the templates need beyond the report: colours per model, the chart, texts."""
    models = [m["model"] for m in report["by_model"]]
    colour = {m: f"usage-m{i % COLOURS}" for i, m in enumerate(models)}
    days = report["by_day"][-30:]
    active = next((b for b in report["blocks"] if b["active"]), None)
    return {
        "colour": colour,
        "chart": chart_svg(days, colour),
        "active_block": active,
        "recent_blocks": [b for b in report["blocks"] if not b["active"]][:6],
    }


def chart_svg(days: list[dict[str, Any]], colour: dict[str, str]) -> str:
    """Daily estimated cost, one bar per day stacked by model (oldest first)."""
    totals = [Decimal(d["cost_usd"]) for d in days]
    top = nice_ceiling(max(totals, default=Decimal(0)))
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(days), 1)
    parts = [
        f'<svg class="usage-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-labelledby="usage-chart-title">',
        '<title id="usage-chart-title">Estimated cost per day by model, last 30 days'
        f" (total {escape(format_usd(sum(totals, Decimal(0))))})</title>",
    ]
    for step in range(5):
        value = top * step / 4
        y = PAD_TOP + plot_h - float(value / top) * plot_h
        parts.append(
            f'<line class="usage-gridline" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="usage-axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(format_usd(value))}</text>'
        )
    for index, day in enumerate(days):
        parts.append(_bar(day, index, slot, top, plot_h, colour))
    parts.append("</svg>")
    return "".join(parts)


def _bar(
    day: dict[str, Any],
    index: int,
    slot: float,
    top: Decimal,
    plot_h: float,
    colour: dict[str, str],
) -> str:
    x = PAD_LEFT + index * slot
    label = date.fromisoformat(day["date"])
    hover = [f"{label:%a %d %b}: {format_usd(Decimal(day['cost_usd']))}"]
    out = [f'<g class="usage-day" data-date="{escape(day["date"])}">']
    y = PAD_TOP + plot_h
    for part in day["models"]:
        cost = Decimal(part["cost_usd"])
        if cost <= 0:
            continue
        height = float(cost / top) * plot_h
        y -= height
        css = colour.get(part["model"], "usage-m5")
        out.append(
            f'<rect class="usage-seg {css}" x="{x + slot * 0.15:.1f}" y="{y:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{max(height, 0.5):.1f}"/>'
        )
        hover.append(f"{part['model']}: {format_usd(cost)}")
    out.append(
        f'<rect class="usage-hit" x="{x:.1f}" y="{PAD_TOP}" width="{slot:.1f}" '
        f'height="{plot_h:.1f}"><title>{escape(" · ".join(hover))}</title></rect>'
    )
    if index % 5 == 0 or index == 29:
        out.append(
            f'<text class="usage-axis" x="{x + slot / 2:.1f}" y="{HEIGHT - 8}" '
            f'text-anchor="middle">{label:%d %b}</text>'
        )
    out.append("</g>")
    return "".join(out)


def local_time(iso: str | None) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM UTC`` (the page's script shows it in local time)."""
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso)
    return f"{moment:%Y-%m-%d %H:%M} UTC"

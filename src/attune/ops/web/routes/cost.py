"""Spend: ``GET /api/cost`` and the home page's spend panel, both from the same ``CostResult``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from markupsafe import Markup

from attune.ops.spend.admin_key import key_file_path
from attune.ops.spend.service import CostService
from attune.ops.web.services import CostDep
from attune.ops.web.spend_panel import build_panel

router = APIRouter(tags=["cost"])

# The home page waits this long for Anthropic, then shows the cached figures as "updating…" and
# spend.js reloads the panel once the fetch (which goes on) has answered.
HOME_WAIT_S = 2.5


@router.get("/api/cost")
async def get_cost_summary(cost: CostDep, refresh: bool = False) -> dict[str, Any]:
    """``{"summary", "error", "budget"}`` (DESIGN §5); ``?refresh=1`` asks Anthropic now."""
    result = await cost.current(refresh=refresh)
    body = result.to_json()
    body["key_file_warning"] = cost.key_file_warning()
    return body


async def home_panel(cost: CostService, *, refresh: bool) -> dict[str, Any] | None:
    """The home page's spend panel; ``/?refresh=1`` (the Refresh button) asks Anthropic now."""
    result = await cost.current(refresh=refresh, wait_s=HOME_WAIT_S)
    panel = build_panel(
        result,
        key_warning=cost.key_file_warning(),
        key_path=key_file_path(cost.config.attune_home),
    )
    # The SVGs are built by spend_chart with every text escaped: safe to embed as markup.
    if "chart_svg" in panel:
        panel["chart_svg"] = Markup(panel["chart_svg"])  # noqa: S704
    if "budget" in panel:
        panel["budget"]["gauge_svg"] = Markup(panel["budget"]["gauge_svg"])  # noqa: S704
    return panel

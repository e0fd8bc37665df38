"""The estimate beside the bill: the "Claude Code" workspace's billed spend, day by day.

With an admin key, the Admin API's cost report grouped by workspace (and description) gives
what each workspace was billed per UTC day; ``GET /v1/organizations/workspaces`` names them,
and Claude Code creates one named "Claude Code". Both answers are cached together in
``<attune_home>/ops/claude_code_billing.json`` for the cost report's TTL (never the key; only
per-day amounts per workspace). Beside the billed amounts go our estimates for every project on
this machine — on a team store, the team's estimate for the project (every member with a
dashboard on it) — their difference and the coverage (estimate ÷ billed). Without a key, without a
workspace of that name, or with nothing billed (a Pro/Max subscription), the answer says so and
the estimates stand alone as the API-equivalent value.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from attune.ops.spend.admin_key import load_admin_key
from attune.ops.store.money import to_usd

__all__ = ["WORKSPACE_NAME", "Billing", "billing_cache_path", "fetch_billing", "reconcile"]

logger = logging.getLogger(__name__)

WORKSPACE_NAME = "Claude Code"
CACHE_NAME = "claude_code_billing.json"
OTHERS = "the rest was used from other machines or is under-reported upstream"
TEAM_OTHERS = (
    "the rest was used by people without a dashboard on this store, in other projects, "
    "or is under-reported upstream"
)


@dataclass(frozen=True)
class Billing:
    """Billed USD per day per workspace id (``None`` = the default workspace), and names."""

    fetched_at: datetime
    workspaces: dict[str, str]  # id -> name
    days: dict[date, dict[str | None, Decimal]]
    source: str = "live"

    def to_cache(self) -> dict[str, Any]:
        return {
            "fetched_at": self.fetched_at.isoformat(),
            "workspaces": self.workspaces,
            "days": {
                d.isoformat(): {str(w): str(v) for w, v in per.items()}
                for d, per in self.days.items()
            },
        }

    @classmethod
    def from_cache(cls, raw: dict[str, Any]) -> Billing:
        days: dict[date, dict[str | None, Decimal]] = {}
        for day, per in raw["days"].items():
            days[date.fromisoformat(day)] = {
                (None if w == "None" else str(w)): Decimal(v) for w, v in per.items()
            }
        return cls(
            datetime.fromisoformat(raw["fetched_at"]),
            {str(k): str(v) for k, v in raw["workspaces"].items()},
            days,
            source="cache",
        )


def billing_cache_path(attune_home: Path) -> Path:
    return attune_home / "ops" / CACHE_NAME


def fetch_billing(
    attune_home: Path, *, now: datetime, refresh: bool = False
) -> tuple[Billing | None, dict[str, str] | None]:
    """``(billing, None)``, ``(stale billing, error)``, or ``(None, error)``; never raises.

    ``error`` is ``{"kind", "message"}`` with the cost report's error kinds (``no_key`` …).
    """
    key = load_admin_key(attune_home=attune_home)
    if key is None:
        return None, {"kind": "no_key", "message": "no Anthropic admin key"}
    # here, not at the top: without a key (most CLI calls) the HTTP client is never imported
    from attune.ops.spend.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT_S, cache_ttl
    from attune.ops.spend.report import window_for
    from attune.ops.spend.transport import FetchFailed, fetch_buckets, fetch_workspaces

    path = billing_cache_path(attune_home)
    cached = _read_cache(path)
    if cached is not None and not refresh and now - cached.fetched_at < cache_ttl():
        return cached, None
    url = os.environ.get("ANTHROPIC_BASE_URL", "").strip() or DEFAULT_BASE_URL
    options = {"base_url": url, "transport": None, "timeout": DEFAULT_TIMEOUT_S, "retry_delay": 0.5}
    try:
        spaces = fetch_workspaces(key, **options)  # type: ignore[arg-type]
        buckets = fetch_buckets(
            key,
            window_for(now).params(),
            group_by=("workspace_id", "description"),
            **options,  # type: ignore[arg-type]
        )
        billing = _billing(spaces, buckets, now)
    except FetchFailed as failed:
        message = failed.message.replace(key, "[admin key]")
        logger.warning("claude code billing: %s: %s", failed.kind, message)
        stale = None if cached is None else replace(cached, source="stale")
        return stale, {"kind": failed.kind, "message": message}
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        stale = None if cached is None else replace(cached, source="stale")
        return stale, {"kind": "bad_response", "message": f"unexpected answer shape: {exc}"}
    _write_cache(path, billing)
    return billing, None


def _billing(spaces: list[dict[str, Any]], buckets: list[dict[str, Any]], now: datetime) -> Billing:
    names = {str(w["id"]): str(w.get("name") or "") for w in spaces if w.get("id")}
    days: dict[date, dict[str | None, Decimal]] = {}
    for bucket in buckets:
        day = datetime.fromisoformat(str(bucket["starting_at"]).replace("Z", "+00:00")).date()
        per = days.setdefault(day, {})
        for result in bucket.get("results") or []:
            workspace = result.get("workspace_id")
            workspace = str(workspace) if workspace else None
            cents = Decimal(str(result["amount"]))
            if not cents.is_finite():
                raise ValueError(f"amount {result['amount']!r}")
            per[workspace] = per.get(workspace, Decimal(0)) + cents / 100
    return Billing(now, names, days)


def _read_cache(path: Path) -> Billing | None:
    try:
        return Billing.from_cache(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidOperation):
        return None


def _write_cache(path: Path, billing: Billing) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(billing.to_cache(), handle)
        temporary.replace(path)
    except OSError as exc:
        logger.warning("cannot write %s: %s", path, exc)


def reconcile(
    billing: Billing | None,
    error: dict[str, str] | None,
    estimate_pusd: dict[date, int],
    today: date,
    *,
    team_members: int | None = None,
) -> dict[str, Any]:
    """The ``reconciliation`` object: 30 UTC days and the month to date, billed beside ours
    (``team_members``: on a team store, the estimate is these members' for the project)."""
    scope = {
        "estimate_scope": "machine" if team_members is None else "team",
        "team_members": team_members,
    }
    return {**_reconcile(billing, error, estimate_pusd, today, team_members is not None), **scope}


def _reconcile(
    billing: Billing | None,
    error: dict[str, str] | None,
    estimate_pusd: dict[date, int],
    today: date,
    team: bool,
) -> dict[str, Any]:
    if billing is None:
        assert error is not None
        return _without(error)
    space = next((i for i, n in billing.workspaces.items() if n == WORKSPACE_NAME), None)
    window = [today - timedelta(days=n) for n in range(29, -1, -1)]
    base = {
        "source": billing.source,
        "fetched_at": billing.fetched_at.astimezone(UTC).isoformat(timespec="seconds"),
        "error": error,
        "workspace": None if space is None else {"id": space, "name": WORKSPACE_NAME},
    }
    if space is None:
        return {
            **base,
            "status": "no_workspace",
            "message": f'no workspace named "{WORKSPACE_NAME}" in this organisation: Claude '
            "Code is not billed through the API here (a Pro/Max subscription, or another "
            "organisation); the figures are the API-equivalent estimate only",
            "days": [],
            "month": None,
        }
    days = [_line(d, billing.days.get(d, {}).get(space, Decimal(0)), estimate_pusd) for d in window]
    month = [d for d in window if d.year == today.year and d.month == today.month]
    billed = sum((billing.days.get(d, {}).get(space, Decimal(0)) for d in month), Decimal(0))
    ours = sum((estimate_pusd.get(d, 0) for d in month), 0)
    total = _pair(billed, ours)
    if billed == 0:
        status, message = (
            "nothing_billed",
            (
                f'the "{WORKSPACE_NAME}" workspace was billed nothing this month: usage on a '
                "Pro/Max subscription is not billed through the API, so the figures are the "
                "API-equivalent estimate only"
            ),
        )
    else:
        status, message = "ok", _coverage_text(total["coverage"], team)
    return {**base, "status": status, "message": message, "days": days, "month": total}


def _without(error: dict[str, str]) -> dict[str, Any]:
    if error["kind"] == "no_key":
        message = (
            "no admin key: connect billing (attune ops setup-billing) to set the estimate "
            "beside the billed Claude Code spend"
        )
        return {"status": "no_key", "message": message, "error": error, "days": [], "month": None}
    message = f"the billed Claude Code spend is not available ({error['kind']}): {error['message']}"
    return {"status": "error", "message": message, "error": error, "days": [], "month": None}


def _pair(billed: Decimal, ours_pusd: int) -> dict[str, Any]:
    ours = to_usd(ours_pusd)
    coverage = (ours / billed).quantize(Decimal("0.0001")) if billed else None
    return {
        "billed_usd": _text(billed),
        "estimate_usd": _text(ours),
        "difference_usd": _text(billed - ours),
        "coverage": None if coverage is None else str(coverage),
    }


def _text(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def _line(day: date, billed: Decimal, estimate_pusd: dict[date, int]) -> dict[str, Any]:
    return {"date": day.isoformat(), **_pair(billed, estimate_pusd.get(day, 0))}


def _coverage_text(coverage: str | None, team: bool = False) -> str:
    share = Decimal(coverage or 0) * 100
    whose = "the team's estimates" if team else "estimates"
    if share <= 100:
        rest = TEAM_OTHERS if team else OTHERS
        return f"{whose} cover {share:.0f} % of the billed Claude Code spend; {rest}"
    return (
        f"{whose} are {share:.0f} % of the billed Claude Code spend: more than was billed "
        "(list prices; discounts or credits lower the bill)"
    )

"""The organisation's Anthropic spend, from the Admin API cost report (DESIGN §3, §6).

``fetch_summary()`` answers ``(summary, error)`` and never raises for a predictable failure: no
key, a rejected key, rate limiting, a network or HTTP failure, an answer of the wrong shape, or an
unreadable cache. The admin key is read by :func:`load_admin_key`, handed straight to the HTTP
client and never logged, cached or put in a message. httpx is imported only when a request is
made, so ``import attune`` stays light.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from attune.ops.spend.admin_key import (
    KEY_ENV,
    KEY_FILE_NAME,
    default_attune_home,
    key_file_path,
    key_file_problem,
    load_admin_key,
)
from attune.ops.spend.cache import CachedSummary, cache_path, read_cache, write_cache
from attune.ops.spend.report import (
    CostSource,
    CostSummary,
    ReportShapeError,
    summarise,
    window_for,
)
from attune.ops.spend.transport import FetchFailed, fetch_buckets

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CACHE_TTL_SECONDS",
    "KEY_ENV",
    "KEY_FILE_NAME",
    "CostFetchError",
    "CostFetchErrorKind",
    "CostSource",
    "CostSummary",
    "cache_ttl",
    "default_attune_home",
    "fetch_live",
    "fetch_summary",
    "key_file_path",
    "key_file_problem",
    "load_admin_key",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_CACHE_TTL_SECONDS = 900
DEFAULT_TIMEOUT_S = 10.0
SETUP_HINT = "run `attune ops setup-billing`"


class CostFetchErrorKind(StrEnum):
    """Why there are no live figures (DESIGN §6)."""

    NO_KEY = "no_key"
    AUTH_FAILED = "auth_failed"
    RATE_LIMITED = "rate_limited"
    HTTP_ERROR = "http_error"
    NETWORK = "network"
    BAD_RESPONSE = "bad_response"
    CACHE_INVALID = "cache_invalid"


@dataclass(frozen=True)
class CostFetchError:
    """A predictable failure; ``message`` is safe to show (never the key, never headers)."""

    kind: CostFetchErrorKind
    message: str
    retry_after_s: float | None = None  # a 429's Retry-After, when it gave one

    def to_json(self) -> dict[str, str]:
        return {"kind": str(self.kind), "message": self.message}


def cache_ttl() -> timedelta:
    """``$ANTHROPIC_COST_CACHE_TTL_SECONDS`` (default 900); a bad value falls back to it."""
    raw = os.environ.get("ANTHROPIC_COST_CACHE_TTL_SECONDS", "").strip()
    if not raw:
        return timedelta(seconds=DEFAULT_CACHE_TTL_SECONDS)
    try:
        seconds = float(raw)
        if not 0 <= seconds < 10**9:
            raise ValueError(raw)
    except ValueError:
        logger.warning(
            "ANTHROPIC_COST_CACHE_TTL_SECONDS=%r is not a number of seconds; using %d",
            raw[:40],
            DEFAULT_CACHE_TTL_SECONDS,
        )
        return timedelta(seconds=DEFAULT_CACHE_TTL_SECONDS)
    return timedelta(seconds=seconds)


def fetch_summary(
    *,
    refresh: bool = False,
    attune_home: Path | None = None,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    retry_delay: float = 0.5,
    allow_live: bool = True,
) -> tuple[CostSummary | None, CostFetchError | None]:
    """The last 30 days of spend: ``(summary, None)``, ``(stale summary, error)`` or
    ``(None, error)``.

    A cache younger than ``$ANTHROPIC_COST_CACHE_TTL_SECONDS`` answers without a request unless
    ``refresh``. ``allow_live=False`` never asks: an older cache answers as ``stale``.
    Example: ``summary, error = fetch_summary(refresh=True)``.
    """
    home = attune_home or default_attune_home()
    moment = _utc(now)
    key = load_admin_key(attune_home=home)
    if key is None:
        return None, CostFetchError(
            CostFetchErrorKind.NO_KEY,
            f"no Anthropic admin key: {SETUP_HINT} or set {KEY_ENV}",
        )
    path = cache_path(home)
    cached = read_cache(path)
    if not refresh and cached.is_fresh(moment, cache_ttl()):
        return cached.summary, None
    if not allow_live:
        if cached.summary is not None:
            return cached.summary.with_source(CostSource.STALE), None
        return None, CostFetchError(
            CostFetchErrorKind.RATE_LIMITED,
            "not asking the Anthropic API again yet (at most one request a minute)",
        )
    summary, error = fetch_live(
        key,
        now=moment,
        base_url=base_url,
        transport=transport,
        timeout=timeout,
        retry_delay=retry_delay,
    )
    if summary is not None:
        write_cache(path, summary)
        return summary, None
    assert error is not None
    return _fallback(cached, error)


def fetch_live(
    key: str,
    *,
    now: datetime | None = None,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    retry_delay: float = 0.5,
) -> tuple[CostSummary | None, CostFetchError | None]:
    """Ask the API now with ``key`` (no cache): ``(summary, None)`` or ``(None, error)``."""
    moment = _utc(now)
    window = window_for(moment)
    url = base_url or os.environ.get("ANTHROPIC_BASE_URL", "").strip() or DEFAULT_BASE_URL
    try:
        buckets = fetch_buckets(
            key,
            window.params(),
            base_url=url,
            transport=transport,
            timeout=timeout,
            retry_delay=retry_delay,
        )
        summary = summarise(buckets, window, fetched_at=moment)
    except FetchFailed as failed:
        error = CostFetchError(
            CostFetchErrorKind(failed.kind), _scrub(failed.message, key), failed.retry_after_s
        )
        logger.warning("cost report: %s: %s", error.kind, error.message)
        return None, error
    except ReportShapeError as exc:
        message = _scrub(f"the cost report is not the documented shape: {exc}", key)
        logger.warning("cost report: bad_response: %s", message)
        return None, CostFetchError(CostFetchErrorKind.BAD_RESPONSE, message)
    logger.info("cost report fetched: $%s over %d days", summary.thirty_day_usd, len(buckets))
    return summary, None


def _fallback(
    cached: CachedSummary, error: CostFetchError
) -> tuple[CostSummary | None, CostFetchError]:
    if cached.summary is not None:
        return cached.summary.with_source(CostSource.STALE), error
    if cached.problem is not None:
        return None, CostFetchError(
            CostFetchErrorKind.CACHE_INVALID,
            f"{cached.problem}, and the live request failed ({error.kind}: {error.message})",
        )
    return None, error


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _scrub(message: str, key: str) -> str:
    return message.replace(key, "[admin key]") if key else message

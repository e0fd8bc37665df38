"""The cost cache: ``<attune_home>/ops/cost_cache.json``, the last summary fetched.

Written atomically (a temp file in the same directory, then ``os.replace``) so a reader never
sees half a file. It holds figures only — never the key, never a header.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from attune.ops.spend.report import CostSource, CostSummary

__all__ = ["CACHE_VERSION", "CachedSummary", "cache_path", "read_cache", "write_cache"]

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
CACHE_NAME = "cost_cache.json"


def cache_path(attune_home: Path) -> Path:
    return attune_home / "ops" / CACHE_NAME


@dataclass(frozen=True)
class CachedSummary:
    """What reading the cache found: a summary, nothing (no file), or why it is unusable."""

    summary: CostSummary | None = None
    problem: str | None = None

    def is_fresh(self, now: datetime, ttl: timedelta) -> bool:
        """Fetched less than ``ttl`` ago (and not in the future) for the same UTC day."""
        if self.summary is None:
            return False
        age = now - self.summary.fetched_at
        same_day = self.summary.today == now.date()
        return same_day and timedelta(0) <= age < ttl


def read_cache(path: Path) -> CachedSummary:
    """The cached summary (``source="cache"``), or the reason it cannot be used."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return CachedSummary()
    except (OSError, UnicodeDecodeError) as exc:
        return CachedSummary(problem=f"the cost cache {path} cannot be read: {_reason(exc)}")
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            raise ValueError("unknown format")
        summary = CostSummary.from_json(data["summary"])
    except (ValueError, KeyError, TypeError) as exc:
        return CachedSummary(problem=f"the cost cache {path} is not valid ({_reason(exc)})")
    return CachedSummary(summary=summary.with_source(CostSource.CACHE))


def write_cache(path: Path, summary: CostSummary) -> bool:
    """Replace the cache with ``summary``; False (and a warning logged) when it cannot."""
    payload = json.dumps({"version": CACHE_VERSION, "summary": summary.to_json()}, indent=1)
    tmp_name: str | None = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp makes the file 0600, and os.replace keeps that mode: owner-only, like ops.db.
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".cost_cache.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(payload)
            tmp.flush()
            os.fsync(tmp.fileno())
        Path(tmp_name).replace(path)
        tmp_name = None
    except OSError as exc:
        logger.warning("could not write the cost cache %s: %s", path, _reason(exc))
        return False
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                Path(tmp_name).unlink()
    return True


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    return text[:160] if text else type(exc).__name__

"""What a usage report is asked for, read from the API's parameters or the CLI's flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from attune.ops.errors import InvalidFilter

__all__ = ["MAX_PAGE", "SESSION_PAGE", "UsageQuery", "parse_query"]

SESSION_PAGE = 50
MAX_PAGE = 500


@dataclass(frozen=True)
class UsageQuery:
    """This project (``project_root``) or every project, a period, a page of sessions."""

    project_root: Path
    all_projects: bool = False
    since: date | None = None
    until: date | None = None
    limit: int = SESSION_PAGE
    offset: int = 0


def parse_query(
    project_root: Path,
    *,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> UsageQuery:
    """``project=this|all``, ``since``/``until`` as ``YYYY-MM-DD`` (UTC days, both included);
    raises :class:`InvalidFilter` naming the bad value."""
    scope = (project or "this").strip().lower()
    if scope not in ("this", "all", "project"):
        raise InvalidFilter(f"project must be 'this' or 'all', not {(project or '')[:40]!r}")
    first, last = _date("since", since), _date("until", until)
    if first and last and first > last:
        raise InvalidFilter(f"since {first} is after until {last}")
    size = SESSION_PAGE if limit is None else limit
    if not 1 <= size <= MAX_PAGE:
        raise InvalidFilter(f"limit must be 1..{MAX_PAGE}, not {size}")
    start = 0 if offset is None else offset
    if not 0 <= start <= 10**9:
        raise InvalidFilter(f"offset must be 0 or more, not {start}")
    return UsageQuery(project_root, scope == "all", first, last, size, start)


def _date(name: str, value: str | None) -> date | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 8 and text.isdigit():  # ccusage's YYYYMMDD
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return date.fromisoformat(text[:10]) if len(text) == 10 else date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidFilter(f"{name} must be a date YYYY-MM-DD, not {value[:40]!r}") from exc

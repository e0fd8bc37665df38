"""A history filter: which runs a page of the history, or its total, covers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RunFilter"]


@dataclass(frozen=True)
class RunFilter:
    """A history filter, as ``list_runs`` and ``usage_total`` take it (empty fields match all):
    a workflow, statuses, log text, a start time, and (a team store) a machine or a teammate."""

    workflow: str | None = None
    statuses: Sequence[str] = ()
    q: str | None = None
    since: str | None = None
    host: str | None = None
    user: str | None = None

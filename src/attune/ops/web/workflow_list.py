"""The workflows as the page and ``GET /api/workflows`` show them: each with its last run and
success rate, grouped by source, most recently used first.

The registry gives the workflows in a fixed order (project, then each discovering tool in its
file's order, then built-ins); the store gives every workflow's record in one query. The page
puts the group used last first, and in each group the workflow used last first; the API keeps
the registry's order (a script reads names, not positions).
"""

from __future__ import annotations

import logging
import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from attune.ops.errors import StoreUnavailable
from attune.ops.runs.workflows import Workflow, WorkflowSet
from attune.ops.store.database import Store
from attune.ops.store.workflow_stats import WorkflowRecord, history_stamp, workflow_records

__all__ = [
    "GROUP_TITLES",
    "WorkflowGroup",
    "WorkflowListCache",
    "api_payload",
    "page_groups",
    "read_records",
]

logger = logging.getLogger(__name__)

GROUP_TITLES = {
    "project": "Project",
    "npm": "npm scripts",
    "make": "Makefile",
    "just": "just recipes",
    "task": "Taskfile",
    "poe": "poe tasks",
    "pdm": "pdm scripts",
    "hatch": "hatch scripts",
    "tox": "tox environments",
    "nox": "nox sessions",
    "pytest": "pytest",
    "builtin": "Built-in",
}


def read_records(store: Store) -> tuple[dict[str, WorkflowRecord], str | None]:
    """Every workflow's record, or none and why (a locked or damaged database must not take
    the list of workflows down with it). Blocking: call it in a thread."""
    try:
        return workflow_records(store.read), None
    except StoreUnavailable as exc:
        logger.warning("workflow history unavailable: %s", exc.message)
        return {}, exc.message


def _item(workflow: Workflow, record: WorkflowRecord | None) -> dict[str, Any]:
    data = workflow.to_json()
    data.update(record.to_json() if record else {"last_run": None, "success_rate": None})
    return data


def api_payload(
    found: WorkflowSet, records: dict[str, WorkflowRecord], history_error: str | None
) -> dict[str, Any]:
    """``GET /api/workflows``: DESIGN §5/§11 items with ``last_run`` and ``success_rate``."""
    payload: dict[str, Any] = {
        "workflows": [_item(w, records.get(w.name)) for w in found.workflows],
        "errors": [e.to_json() for e in found.shown_errors()],
    }
    if history_error:
        payload["history_error"] = history_error
    return payload


@dataclass
class WorkflowGroup:
    source: str
    title: str
    files: list[str] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    last_id: int = 0


def page_groups(found: WorkflowSet, records: dict[str, WorkflowRecord]) -> list[WorkflowGroup]:
    """The page's groups: the group used last first (unused ones in the registry's order),
    and inside each the workflow used last first (unused ones in their file's order)."""
    groups: dict[str, WorkflowGroup] = {}
    for workflow in found.workflows:
        group = groups.setdefault(
            workflow.source,
            WorkflowGroup(workflow.source, GROUP_TITLES.get(workflow.source, workflow.source)),
        )
        record = records.get(workflow.name)
        item = _item(workflow, record)
        item["command_text"] = shlex.join(workflow.command)
        item["success_pct"] = (
            None
            if record is None or record.success_rate is None
            else round(record.success_rate * 100)
        )
        group.items.append(item)
        file = (workflow.origin or "").rsplit(":", 1)[0]
        if file and file not in group.files:
            group.files.append(file)
        group.last_id = max(group.last_id, record.last_id if record else 0)
    ordered = sorted(groups.values(), key=lambda g: -g.last_id)  # stable: ties keep their order
    for group in ordered:
        group.items.sort(key=lambda item: -(item["last_run"] or {}).get("id", 0))
    return ordered


class WorkflowListCache:
    """The records and the page's rendered list, kept until the registry or the history
    changes: 500 workflows render in ~25 ms, and a warm page must answer in a few.

    The history is stamped by :func:`history_stamp` (two index lookups); the registry by the
    identity of its :class:`WorkflowSet` (a new one whenever a file changed). Blocking: call it
    in a thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._records: dict[str, WorkflowRecord] = {}
        self._pages: dict[tuple[int, str], tuple[WorkflowSet, list[WorkflowGroup], str]] = {}

    def records(self, store: Store) -> tuple[dict[str, WorkflowRecord], str | None]:
        """:func:`read_records`, read again only when the history changed."""
        try:
            stamp = history_stamp(store.read)
        except StoreUnavailable as exc:
            return {}, exc.message
        with self._lock:
            if stamp == self._stamp:
                return self._records, None
        records, error = read_records(store)
        if error is None:
            with self._lock:
                self._stamp, self._records = stamp, records
                self._pages.clear()
        return records, error

    def page(
        self,
        found: WorkflowSet,
        records: dict[str, WorkflowRecord],
        selected: Callable[[list[WorkflowGroup]], str],
        render: Callable[[list[WorkflowGroup], str], str],
    ) -> tuple[list[WorkflowGroup], str, str]:
        """The groups, the selected workflow and the list's HTML (rendered once per registry,
        history and selection)."""
        with self._lock:
            cached = next(
                (v for (fid, _), v in self._pages.items() if fid == id(found) and v[0] is found),
                None,
            )
        groups = cached[1] if cached else page_groups(found, records)
        chosen = selected(groups)
        key = (id(found), chosen)
        with self._lock:
            hit = self._pages.get(key)
        if hit is not None and hit[0] is found:
            return groups, chosen, hit[2]
        html = render(groups, chosen)
        with self._lock:
            if len(self._pages) > 64:  # a few selections of one registry; drop old registries
                self._pages.clear()
            self._pages[key] = (found, groups, html)
        return groups, chosen, html

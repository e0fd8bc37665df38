"""What the specs pages and their JSON twins show: one place builds both from a :class:`Spec`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from attune.ops.specs.files import read_phase_text
from attune.ops.specs.listing import Spec, SpecListing
from attune.ops.specs.status import SpecStatus
from attune.ops.specs.tasks import Task, parse_tasks

__all__ = [
    "STATUS_LABELS",
    "PhaseFileView",
    "SpecDetail",
    "filter_specs",
    "load_detail",
    "spec_json",
    "spec_url",
]

STATUS_LABELS: dict[str, str] = {
    SpecStatus.DRAFT: "Draft",
    SpecStatus.PLANNED: "Planned",
    SpecStatus.IN_PROGRESS: "In progress",
    SpecStatus.IN_REVIEW: "In review",
    SpecStatus.BLOCKED: "Blocked",
    SpecStatus.COMPLETE: "Complete",
    SpecStatus.SUPERSEDED: "Superseded",
    SpecStatus.ARCHIVED: "Archived",
    SpecStatus.UNKNOWN: "Other",
    SpecStatus.NONE: "No status",
}


def spec_url(spec: Spec, listing: SpecListing, *, api: bool = False) -> str:
    """``/specs/<name>`` (a nested spec keeps its slash: ``/specs/group/name``), plus
    ``?path=<folder>`` when another spec has the same name."""
    base = f"{'/api' if api else ''}/specs/{quote(spec.name, safe='/')}"
    if listing.is_ambiguous(spec):
        return f"{base}?path={quote(spec.path, safe='/')}"
    return base


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat(timespec="seconds")


def spec_json(spec: Spec, listing: SpecListing) -> dict[str, Any]:
    """One spec as ``GET /api/specs`` lists it."""
    tasks = spec.tasks
    change = listing.last_change(spec)
    return {
        "name": spec.name,
        "root": spec.root,
        "path": spec.path,
        "layout": spec.layout.value,
        "status": spec.status.value,
        "status_label": STATUS_LABELS[spec.status],
        "status_raw": spec.reading.status_raw,
        "status_source": spec.reading.status_source,
        "archived": spec.archived,
        "tasks_total": tasks.total,
        "tasks_done": tasks.done,
        "tasks_in_progress": tasks.in_progress,
        "tasks_blocked": tasks.blocked,
        "tasks_optional_total": tasks.optional_total,
        "tasks_optional_done": tasks.optional_done,
        "phase_files": list(spec.reading.phase_files),
        "last_modified": _iso(change.when),
        "last_modified_source": change.source,
        "problems": list(spec.problems),
        "url": spec_url(spec, listing),
    }


def filter_specs(specs: tuple[Spec, ...], status: str | None, q: str | None) -> list[Spec]:
    """Specs with normalised ``status`` (or ``problem``) whose name, path or status has ``q``."""
    chosen = list(specs)
    if status:
        if status == "problem":
            chosen = [s for s in chosen if s.problems]
        else:
            chosen = [s for s in chosen if s.status.value == status]
    if q and q.strip():
        needle = q.strip().lower()
        chosen = [
            s
            for s in chosen
            if needle in s.name.lower()
            or needle in s.path.lower()
            or needle in (s.reading.status_raw or "").lower()
        ]
    return chosen


@dataclass(frozen=True)
class PhaseFileView:
    """One phase file of the detail page: its text, or why it is not shown."""

    filename: str
    anchor: str
    size: int
    last_modified: str | None
    last_modified_source: str  # "git", "mtime" or "none"
    text: str | None
    problem: str | None


@dataclass(frozen=True)
class SpecDetail:
    """A spec with its files' text and its task list, read fresh from disk."""

    spec: Spec
    files: tuple[PhaseFileView, ...]
    tasks: tuple[Task, ...]

    def to_json(self, listing: SpecListing) -> dict[str, Any]:
        """The JSON twin of the detail page."""
        return {
            **spec_json(self.spec, listing),
            "workflow_url": workflow_url(self.spec),
            "files": [
                {
                    "name": f.filename,
                    "size": f.size,
                    "last_modified": f.last_modified,
                    "last_modified_source": f.last_modified_source,
                    "text": f.text,
                    "problem": f.problem,
                }
                for f in self.files
            ],
            "tasks": [
                {
                    "line": t.line,
                    "depth": t.depth,
                    "state": t.state.value,
                    "optional": t.optional,
                    "text": t.text,
                }
                for t in self.tasks
            ],
        }


def workflow_url(spec: Spec) -> str:
    """The workflows page with this spec's folder picked as the scope."""
    return f"/workflows?path={quote(spec.path, safe='/')}"


def load_detail(spec: Spec, listing: SpecListing) -> SpecDetail:
    """Read a spec's phase files (same guards as the listing) for its detail page."""
    files: list[PhaseFileView] = []
    tasks: tuple[Task, ...] = ()
    for info, change in zip(spec.stats, listing.file_changes(spec), strict=True):
        phase = read_phase_text(spec.folder / info.filename, info)
        anchor = "file-" + info.name.removesuffix(".md")
        files.append(
            PhaseFileView(
                info.filename,
                anchor,
                info.size,
                _iso(change.when),
                change.source,
                phase.text,
                phase.problem,
            )
        )
        if info.name == "tasks.md" and phase.text is not None:
            tasks = tuple(parse_tasks(phase.text))
    return SpecDetail(spec, tuple(files), tasks)

"""What a listing of specs holds: each spec, its roots, and when each file last changed.

The values here are built by :class:`~attune.ops.specs.index.SpecIndex` and read by the views,
candidates and routes; nothing here touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from attune.ops.errors import SpecNotFound
from attune.ops.specs.files import FileStat, SpecLayout, SpecReading
from attune.ops.specs.status import SpecStatus
from attune.ops.specs.tasks import TaskCounts

__all__ = ["LastChange", "RootInfo", "Spec", "SpecListing", "display_path"]


def display_path(path: Path, project_root: Path) -> str:
    """``path`` relative to the project root (POSIX style), or absolute when outside it."""
    try:
        rel = path.relative_to(project_root)
    except ValueError:
        return str(path)
    return rel.as_posix() or "."


@dataclass(frozen=True)
class Spec:
    """One spec folder as the dashboard shows it."""

    name: str
    folder: Path
    path: str  # display path of the folder: the key for dismissals and status changes
    root: str  # display path of the specs root it was found under
    archived: bool
    stats: tuple[FileStat, ...]
    reading: SpecReading

    @property
    def layout(self) -> SpecLayout:
        return self.reading.layout

    @property
    def status(self) -> SpecStatus:
        return SpecStatus.ARCHIVED if self.archived else self.reading.status

    @property
    def tasks(self) -> TaskCounts:
        return self.reading.tasks

    @property
    def problems(self) -> tuple[str, ...]:
        return self.reading.problems

    @property
    def last_modified(self) -> datetime | None:
        """The newest mtime of its files (``SpecListing.last_change`` prefers git's word)."""
        ns = self.reading.last_modified_ns
        return None if ns is None else datetime.fromtimestamp(ns / 1e9, UTC)


@dataclass(frozen=True)
class LastChange:
    """When a file (or a spec: its newest file) last changed, and who says so."""

    ns: int | None
    source: str  # "git": the newest commit touching it, clean since; "mtime"; "none"

    @property
    def when(self) -> datetime | None:
        return None if self.ns is None else datetime.fromtimestamp(self.ns / 1e9, UTC)


_NO_CHANGE = LastChange(None, "none")


@dataclass(frozen=True)
class RootInfo:
    """A configured specs root and what was found there."""

    path: str
    exists: bool
    spec_count: int
    problem: str | None = None


@dataclass(frozen=True)
class SpecListing:
    """Every spec of every root; ``generation`` changes whenever anything in it changed."""

    roots: tuple[RootInfo, ...]
    specs: tuple[Spec, ...]
    generation: int
    by_name: dict[str, list[Spec]] = field(default_factory=dict, compare=False)
    # spec path → for each of its files, the commit time git vouches for (None: use the mtime)
    commits: dict[str, tuple[int | None, ...]] = field(default_factory=dict, compare=False)

    def file_changes(self, spec: Spec) -> tuple[LastChange, ...]:
        """When each of ``spec.stats`` last changed: git's commit time when clean, else mtime."""
        commits = self.commits.get(spec.path, ())
        changes: list[LastChange] = []
        for i, info in enumerate(spec.stats):
            commit = commits[i] if i < len(commits) else None
            if commit is not None:
                changes.append(LastChange(commit, "git"))
            elif info.error is None:
                changes.append(LastChange(info.mtime_ns, "mtime"))
            else:
                changes.append(_NO_CHANGE)
        return tuple(changes)

    def last_change(self, spec: Spec) -> LastChange:
        """The newest of :meth:`file_changes` (the spec's "last change")."""
        known = [c for c in self.file_changes(spec) if c.ns is not None]
        return max(known, key=lambda c: c.ns or 0) if known else _NO_CHANGE

    def find(self, name: str, path: str | None = None) -> Spec:
        """The spec called ``name`` (``path`` picks one when names collide across roots)."""
        matches = self.by_name.get(name, [])
        if path is not None:
            matches = [s for s in matches if s.path == path.strip("/")]
        if not matches:
            raise SpecNotFound(f"No spec named {name!r} under the specs roots.", name=name)
        active = [s for s in matches if not s.archived]
        return (active or matches)[0]

    def is_ambiguous(self, spec: Spec) -> bool:
        """True when another spec has the same name (its links then carry ``?path=``)."""
        return len(self.by_name.get(spec.name, ())) > 1

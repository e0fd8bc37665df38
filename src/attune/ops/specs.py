"""Spec discovery: every spec folder under the configured roots, with status and task progress.

A spec is a folder directly under a specs root (or under one of its archive folders,
``_archived/`` or ``archive/``) holding at least one phase file. :class:`SpecIndex` keeps what it
read keyed by file mtimes, sizes and inodes, so a warm listing only stats files; anything that
changed (or changed too recently to trust its timestamp) is read again.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from attune.ops.config import Config
from attune.ops.errors import AttuneError
from attune.ops.spec_files import (
    PHASE_FILES,
    PHASE_NAMES,
    FileStat,
    SpecLayout,
    SpecReading,
    read_spec_files,
    stat_file,
)
from attune.ops.spec_status import SpecStatus
from attune.ops.spec_tasks import TaskCounts

__all__ = [
    "ARCHIVE_DIRS",
    "RootInfo",
    "Spec",
    "SpecIndex",
    "SpecListing",
    "SpecNotFound",
    "display_path",
]

logger = logging.getLogger(__name__)

ARCHIVE_DIRS = frozenset({"_archived", "archive", "_archive", "archived"})
# Timestamps are coarse on many filesystems: an entry modified this recently when it was read
# might change again without its mtime moving, so it is read again until it is older than this.
RACY_WINDOW_NS = 2_000_000_000
_PHASE_ORDER = {name: i for i, name in enumerate(PHASE_FILES)}


class SpecNotFound(AttuneError):
    code = "spec_not_found"
    status = 404


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
        ns = self.reading.last_modified_ns
        return None if ns is None else datetime.fromtimestamp(ns / 1e9, UTC)


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


@dataclass
class _DirCache:
    key: tuple[int, int]
    names: list[str]
    trusted: bool


@dataclass
class _SpecCache:
    dir_key: tuple[int, int]
    filenames: list[str]
    stats: tuple[FileStat, ...]
    spec: Spec
    trusted: bool


@dataclass
class _Scan:
    """The state of one listing pass."""

    now_ns: int
    dirs: dict[Path, _DirCache] = field(default_factory=dict)
    specs: dict[Path, _SpecCache] = field(default_factory=dict)
    found: list[Spec] = field(default_factory=list)


class SpecIndex:
    """The specs of one configuration, cached by file stats. Thread-safe."""

    def __init__(self, config: Config) -> None:
        self.project_root = config.project_root
        self.roots = config.specs_roots
        self._lock = threading.Lock()
        self._dirs: dict[Path, _DirCache] = {}
        self._specs: dict[Path, _SpecCache] = {}
        self._listing: SpecListing | None = None

    def listing(self) -> SpecListing:
        """Every spec under every root, re-reading only what changed since the last call."""
        with self._lock:
            scan = _Scan(time.time_ns())
            roots = [self._scan_root(root, scan) for root in self.roots]
            self._dirs, self._specs = scan.dirs, scan.specs
            previous = self._listing
            unchanged = previous is not None and _same_specs(previous.specs, scan.found)
            if unchanged and previous is not None and previous.roots == tuple(roots):
                return previous
            generation = previous.generation + 1 if previous else 1
            by_name: dict[str, list[Spec]] = {}
            for spec in scan.found:
                by_name.setdefault(spec.name, []).append(spec)
            self._listing = SpecListing(tuple(roots), tuple(scan.found), generation, by_name)
            return self._listing

    def _scan_root(self, root: Path, scan: _Scan) -> RootInfo:
        shown = display_path(root, self.project_root)
        names, problem = self._subdirs(root, scan)
        if names is None:
            return RootInfo(shown, False, 0, problem)
        before = len(scan.found)
        archives: list[str] = []
        for name in names:
            if name.lower() in ARCHIVE_DIRS:
                archives.append(name)
            else:
                self._scan_spec(root / name, root, shown, False, scan)
        for name in archives:
            inner, _ = self._subdirs(root / name, scan)
            for child in inner or ():
                self._scan_spec(root / name / child, root, shown, True, scan)
        return RootInfo(shown, True, len(scan.found) - before, problem)

    def _subdirs(self, folder: Path, scan: _Scan) -> tuple[list[str] | None, str | None]:
        """Names of the entries of ``folder`` that may be spec folders (cached by dir mtime)."""
        try:
            st = folder.stat()
        except OSError as exc:
            reason = "does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror
            return None, f"{display_path(folder, self.project_root)} {reason}"
        if not stat.S_ISDIR(st.st_mode):
            return None, f"{display_path(folder, self.project_root)} is not a folder"
        key = (st.st_mtime_ns, st.st_ino)
        cached = self._dirs.get(folder)
        if cached is None or cached.key != key or not cached.trusted:
            try:
                names = sorted(_candidate_dirs(folder))
            except OSError as exc:
                return None, f"{display_path(folder, self.project_root)}: {exc.strerror}"
            cached = _DirCache(key, names, st.st_mtime_ns < scan.now_ns - RACY_WINDOW_NS)
        scan.dirs[folder] = cached
        return cached.names, None

    def _scan_spec(self, folder: Path, root: Path, shown: str, archived: bool, scan: _Scan) -> None:
        cached = self._specs.get(folder)
        try:
            st = folder.stat()
        except OSError as exc:
            scan.found.append(self._broken(folder, root, shown, archived, exc))
            return
        dir_key = (st.st_mtime_ns, st.st_ino)
        if cached is not None and cached.dir_key == dir_key and cached.trusted:
            filenames = cached.filenames
        else:
            try:
                filenames = _phase_filenames(folder)
            except OSError as exc:
                scan.found.append(self._broken(folder, root, shown, archived, exc))
                return
        if not filenames:
            return
        stats = tuple(stat_file(folder, f) for f in filenames)
        trusted = all(s.mtime_ns < scan.now_ns - RACY_WINDOW_NS for s in stats)
        trusted = trusted and st.st_mtime_ns < scan.now_ns - RACY_WINDOW_NS
        if cached is not None and cached.stats == stats and cached.trusted:
            spec = cached.spec
        else:
            reading = read_spec_files(folder, root, stats)
            spec = Spec(
                folder.name,
                folder,
                display_path(folder, self.project_root),
                shown,
                archived,
                stats,
                reading,
            )
            if cached is not None and cached.spec == spec:
                spec = cached.spec  # unchanged: keep the object so the listing stays the same
        scan.specs[folder] = _SpecCache(dir_key, filenames, stats, spec, trusted)
        scan.found.append(spec)

    def _broken(self, folder: Path, root: Path, shown: str, archived: bool, exc: OSError) -> Spec:
        reason = "symbolic link loop" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))
        reading = SpecReading(
            layout=SpecLayout.DOCS,
            phase_files=(),
            status=SpecStatus.NONE,
            status_raw=None,
            status_source=None,
            tasks=TaskCounts(),
            tasks_readable=False,
            last_modified_ns=None,
            problems=(f"{folder.name}: cannot be opened ({reason})",),
        )
        path = display_path(folder, self.project_root)
        return Spec(folder.name, folder, path, shown, archived, (), reading)


def _same_specs(old: tuple[Spec, ...], new: list[Spec]) -> bool:
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))


def _candidate_dirs(folder: Path) -> list[str]:
    """Sub-folders (and links that cannot be followed, reported as broken specs)."""
    names: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    names.append(entry.name)
            except OSError:
                if entry.is_symlink():
                    names.append(entry.name)
    return names


def _phase_filenames(folder: Path) -> list[str]:
    """The phase files present in ``folder``, in reading order (names matched ignoring case)."""
    with os.scandir(folder) as it:
        entries = [entry.name for entry in it]
    found = {PHASE_NAMES[n.lower()]: n for n in entries if n.lower() in PHASE_NAMES}
    return [found[name] for name in sorted(found, key=_PHASE_ORDER.__getitem__)]

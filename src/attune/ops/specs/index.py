"""Spec discovery: every spec folder under the configured roots, with status and task progress.

A spec is a folder directly under a specs root (or under one of its archive folders,
``_archived/`` or ``archive/``) holding at least one phase file, or one level further down under
a grouping folder that holds no phase file itself (``.kiro/specs/agent-system/lina-agent``, named
``agent-system/lina-agent``). :class:`SpecIndex` keeps what it read keyed by file mtimes, sizes
and inodes, so a warm listing only stats files; anything that changed (or changed too recently
to trust its timestamp) is read again. When each file last
changed comes from git where it can (:mod:`attune.ops.specs.history`), asked once per change of
git's state or of the files, for every spec at once.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from attune.ops.config import Config
from attune.ops.specs.files import (
    PHASE_FILES,
    PHASE_NAMES,
    SpecLayout,
    SpecReading,
    read_spec_files,
    stat_file,
)
from attune.ops.specs.history import GitHistory, GitTimes
from attune.ops.specs.listing import RootInfo, Spec, SpecListing, display_path
from attune.ops.specs.status import SpecStatus
from attune.ops.specs.tasks import TaskCounts

__all__ = ["ARCHIVE_DIRS", "SpecIndex"]

logger = logging.getLogger(__name__)

ARCHIVE_DIRS = frozenset({"_archived", "archive", "_archive", "archived"})
# Timestamps are coarse on many filesystems: an entry modified this recently when it was read
# might change again without its mtime moving, so it is read again until it is older than this.
RACY_WINDOW_NS = 2_000_000_000
_PHASE_ORDER = {name: i for i, name in enumerate(PHASE_FILES)}


@dataclass
class _DirCache:
    key: tuple[int, int]
    names: list[str]
    trusted: bool


# A cheap stat fingerprint: (mtime_ns, size, inode, mode), or (errno,) when stat failed.
_StatKey = tuple[int, ...]


def _stat_key(path: str) -> _StatKey:
    try:
        st = os.stat(path)  # noqa: PTH116 - str paths: pathlib costs more than the syscall here
    except OSError as exc:
        return (exc.errno or -1,)
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode)


@dataclass
class _SpecCache:
    dir_key: tuple[int, int]
    filenames: list[str]
    keys: list[_StatKey]
    spec: Spec | None  # None: a folder without phase files (perhaps a grouping folder)
    trusted: bool
    files: tuple[tuple[str, _StatKey], ...] = ()  # (path, stat key) of each phase file


@dataclass
class _Scan:
    """The state of one listing pass."""

    now_ns: int
    dirs: dict[str, _DirCache] = field(default_factory=dict)
    specs: dict[str, _SpecCache] = field(default_factory=dict)
    found: list[Spec] = field(default_factory=list)

    @property
    def settled_before(self) -> int:
        """Timestamps older than this can be trusted to move on the next change."""
        return self.now_ns - RACY_WINDOW_NS


@dataclass(frozen=True)
class _Where:
    """Where a spec folder was found: its root and the root's display path."""

    root: Path
    shown: str
    archived: bool


class SpecIndex:
    """The specs of one configuration, cached by file stats. Thread-safe.

    The warm path works on plain strings and stat tuples (pathlib and dataclasses cost more than
    the system calls here): one stat per spec folder and per phase file.
    """

    def __init__(self, config: Config) -> None:
        self.project_root = config.project_root
        self.roots = tuple(dict.fromkeys(config.specs_roots))  # a root given twice lists once
        self._lock = threading.Lock()
        self._dirs: dict[str, _DirCache] = {}
        self._specs: dict[str, _SpecCache] = {}
        self._listing: SpecListing | None = None
        self._history = GitHistory(config.project_root, self.roots)
        self._times: GitTimes | None = None

    def listing(self) -> SpecListing:
        """Every spec under every root, re-reading only what changed since the last call.

        May run git (bounded by a timeout): call it from a worker thread, not an event loop.
        """
        with self._lock:
            scan = _Scan(time.time_ns())
            roots = [self._scan_root(root, scan) for root in self.roots]
            self._dirs, self._specs = scan.dirs, scan.specs
            previous = self._listing
            same = previous is not None and _same_specs(previous.specs, scan.found)
            times = self._git_times(scan)
            if same and previous is not None and times is self._times:
                commits = previous.commits
            else:
                commits = _commits(scan, times)
            self._times = times
            if same and previous and previous.roots == tuple(roots) and commits == previous.commits:
                return previous
            generation = previous.generation + 1 if previous else 1
            by_name: dict[str, list[Spec]] = {}
            for spec in scan.found:
                by_name.setdefault(spec.name, []).append(spec)
            self._listing = SpecListing(
                tuple(roots), tuple(scan.found), generation, by_name, commits
            )
            return self._listing

    def _git_times(self, scan: _Scan) -> GitTimes | None:
        caches = [c for c in scan.specs.values() if c.spec is not None]
        files = tuple(f for c in caches for f in c.files)
        return self._history.times(files, trusted=all(c.trusted for c in caches))

    def _scan_root(self, root: Path, scan: _Scan) -> RootInfo:
        shown = display_path(root, self.project_root)
        base = str(root)
        names, problem = self._subdirs(base, scan)
        if names is None:
            return RootInfo(shown, False, 0, problem)
        before = len(scan.found)
        archives: list[str] = []
        live = _Where(root, shown, False)
        for name in names:
            if name.lower() in ARCHIVE_DIRS:
                archives.append(name)
            else:
                self._scan_spec(base, name, live, scan)
        archived = _Where(root, shown, True)
        for name in archives:
            inner, _ = self._subdirs(f"{base}/{name}", scan)
            for child in inner or ():
                self._scan_spec(f"{base}/{name}", child, archived, scan)
        return RootInfo(shown, True, len(scan.found) - before, problem)

    def _shown(self, path: str) -> str:
        return display_path(Path(path), self.project_root)

    def _subdirs(self, folder: str, scan: _Scan) -> tuple[list[str] | None, str | None]:
        """Names of the entries of ``folder`` that may be spec folders (cached by dir mtime)."""
        try:
            st = os.stat(folder)  # noqa: PTH116 - hot path on plain strings
        except OSError as exc:
            reason = "does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror
            return None, f"{self._shown(folder)} {reason}"
        if not stat.S_ISDIR(st.st_mode):
            return None, f"{self._shown(folder)} is not a folder"
        key = (st.st_mtime_ns, st.st_ino)
        cached = self._dirs.get(folder)
        if cached is None or cached.key != key or not cached.trusted:
            try:
                names = sorted(_candidate_dirs(folder))
            except OSError as exc:
                return None, f"{self._shown(folder)}: {exc.strerror}"
            cached = _DirCache(key, names, st.st_mtime_ns < scan.settled_before)
        scan.dirs[folder] = cached
        return cached.names, None

    def _scan_spec(
        self, parent: str, name: str, where: _Where, scan: _Scan, group: str | None = None
    ) -> None:
        folder = f"{parent}/{name}"
        cached = self._specs.get(folder)
        try:
            st = os.stat(folder)  # noqa: PTH116 - hot path on plain strings
        except OSError as exc:
            scan.found.append(self._broken(Path(folder), where, exc, group))
            return
        dir_key = (st.st_mtime_ns, st.st_ino)
        if cached is not None and cached.dir_key == dir_key and cached.trusted:
            filenames = cached.filenames
        else:
            try:
                filenames = _phase_filenames(folder)
            except OSError as exc:
                scan.found.append(self._broken(Path(folder), where, exc, group))
                return
        settled = scan.settled_before
        if not filenames:
            scan.specs[folder] = _SpecCache(dir_key, [], [], None, st.st_mtime_ns < settled)
            if group is None:
                self._scan_group(folder, name, where, scan)
            return
        keys = [_stat_key(f"{folder}/{f}") for f in filenames]
        trusted = st.st_mtime_ns < settled and all(k[0] < settled for k in keys if len(k) > 1)
        if (
            cached is not None
            and cached.spec is not None
            and cached.keys == keys
            and cached.trusted
        ):
            spec = cached.spec
        else:
            spec = self._read(Path(folder), filenames, where, group)
            if cached is not None and cached.spec == spec:
                spec = cached.spec  # unchanged: keep the object so the listing stays the same
        if cached is not None and cached.keys == keys and cached.filenames == filenames:
            files = cached.files  # the same objects: git's cache compares them at no cost
        else:
            files = tuple((f"{folder}/{f}", k) for f, k in zip(filenames, keys, strict=True))
        scan.specs[folder] = _SpecCache(dir_key, filenames, keys, spec, trusted, files)
        scan.found.append(spec)

    def _scan_group(self, folder: str, group: str, where: _Where, scan: _Scan) -> None:
        """The specs one level down in ``folder``, a folder without phase files of its own."""
        names, _ = self._subdirs(folder, scan)
        for child in names or ():
            self._scan_spec(folder, child, where, scan, group)

    def _read(self, folder: Path, filenames: list[str], where: _Where, group: str | None) -> Spec:
        stats = tuple(stat_file(folder, f) for f in filenames)
        reading = read_spec_files(folder, where.root, stats)
        path = display_path(folder, self.project_root)
        name = folder.name if group is None else f"{group}/{folder.name}"
        return Spec(name, folder, path, where.shown, where.archived, stats, reading)

    def _broken(self, folder: Path, where: _Where, exc: OSError, group: str | None) -> Spec:
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
        name = folder.name if group is None else f"{group}/{folder.name}"
        return Spec(name, folder, path, where.shown, where.archived, (), reading)


def _commits(scan: _Scan, times: GitTimes | None) -> dict[str, tuple[int | None, ...]]:
    """Spec path → the clean commit time of each of its files (specs git knows nothing of left
    out: their mtimes stand)."""
    if times is None:
        return {}
    commits: dict[str, tuple[int | None, ...]] = {}
    for cache in scan.specs.values():
        if cache.spec is None:
            continue
        found = tuple(times.clean_commit_ns(path) for path, _ in cache.files)
        if any(t is not None for t in found):
            commits[cache.spec.path] = found
    return commits


def _same_specs(old: tuple[Spec, ...], new: list[Spec]) -> bool:
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))


def _candidate_dirs(folder: str) -> list[str]:
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


def _phase_filenames(folder: str) -> list[str]:
    """The phase files present in ``folder``, in reading order (names matched ignoring case)."""
    with os.scandir(folder) as it:
        entries = [entry.name for entry in it]
    found = {PHASE_NAMES[n.lower()]: n for n in entries if n.lower() in PHASE_NAMES}
    return [found[name] for name in sorted(found, key=_PHASE_ORDER.__getitem__)]

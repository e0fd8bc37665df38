"""Copying usage rows from Claude Code's transcripts into the store, a pass at a time.

Each pass lists the transcripts of every config root (this project's folders first), and for
each compares what it finds with what the store remembers — device, inode, size, offset:

- unknown: read from the first byte;
- the same file, grown: read from the offset (the byte before it must still be a newline,
  else the file was rewritten in between and is read again from the start);
- truncated (smaller than the offset) or replaced (another inode): read again from the start;
- unchanged (same size and modification time): not opened;
- gone: its rows stay (history outlives Claude Code's 30-day clean-up), its offset goes.

Reading a line twice never counts it twice: rows merge by message id. A file that cannot be
read now (permission, a FIFO, a symlink) is listed in the pass's result and tried again next
pass. Plain blocking code: the dashboard runs it in a thread, ``attune usage`` in its own.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

from attune.ops.spend.usage.pool import (
    FILE_MAX,
    POOL_MIN_BYTES,
    ReadTask,
    gc_paused,
    read_in_order,
    worker_count,
)
from attune.ops.spend.usage.pricing import PriceBook
from attune.ops.spend.usage.reader import (
    Chunk,
    Unreadable,
    ends_a_line,
    open_transcript,
    read_chunks,
)
from attune.ops.spend.usage.sources import Transcript, config_roots, list_transcripts
from attune.ops.store.usage import ChunkWrite, FileState, NewFile, UsageStore

__all__ = ["IngestResult", "Ingester"]

logger = logging.getLogger(__name__)

# Chunks are committed together, up to this many rows or chunks a transaction: a cold ingest
# makes a few dozen commits, not one per file, and a transaction stays well under a second.
BATCH_ROWS = 5_000
BATCH_CHUNKS = 400
# A quick pass looks only at transcripts written in the last 15 minutes and at new files in the
# project folders (and in the subagent folders of those sessions); a full pass sees the rest.
HOT_WINDOW_NS = 15 * 60 * 10**9


@dataclass
class IngestResult:
    """What one pass did."""

    roots: list[str] = field(default_factory=list)
    transcripts: int = 0
    files_read: int = 0
    files_read_by_workers: int = 0  # of them, read in worker processes (``pool.py``)
    bytes_read: int = 0
    rows: int = 0
    skipped: int = 0
    gone: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)  # path -> reason
    seconds: float = 0.0


@dataclass(frozen=True)
class _Job:
    """A transcript to read: its state in the store (just started, or read up to an offset)
    and the device, inode and size it had when planned."""

    transcript: Transcript
    state: FileState
    dev: int
    inode: int
    size: int

    @property
    def remaining(self) -> int:
        return max(0, self.size - self.state.read_offset)

    def task(self) -> ReadTask:
        return ReadTask(
            str(self.transcript.path),
            self.dev,
            self.inode,
            self.state.read_offset,
            self.transcript.session_hint,
            self.remaining,
        )


@dataclass(frozen=True)
class _Start:
    """A transcript to read from its first byte, once the store has started it."""

    transcript: Transcript
    start: NewFile
    size: int

    @property
    def dev(self) -> int:
        return self.start.dev

    @property
    def inode(self) -> int:
        return self.start.inode


class Ingester:
    """Ingest passes for one store; ``roots`` overrides the config roots (tests, benchmarks);
    ``workers`` and ``pool_min_bytes`` when a pass reads in worker processes (``pool.py``)."""

    def __init__(
        self,
        usage: UsageStore,
        prices: PriceBook,
        project_root: Path,
        roots: Callable[[], list[Path]] = config_roots,
        *,
        workers: int | None = None,
        pool_min_bytes: int = POOL_MIN_BYTES,
    ) -> None:
        self.usage = usage
        self.prices = prices
        self.project_root = project_root
        self.roots = roots
        self.workers = worker_count() if workers is None else workers
        self.pool_min_bytes = pool_min_bytes
        self._repriced = False
        self._pending: list[tuple[ChunkWrite, int]] = []  # with its usage lines
        self._pending_rows = 0

    def run_once(self) -> IngestResult:
        """One pass over every transcript; safe to run while another process does the same."""
        started = time.monotonic()
        result = IngestResult()
        if not self._repriced:
            self._reprice_if_needed()
        roots = self.roots()
        result.roots = [str(r) for r in roots]
        found = list_transcripts(roots, first=self.project_root)
        result.transcripts = len(found)
        known = self.usage.files()
        listed = {str(t.path) for t in found}
        self._read_all(((t, known.get(str(t.path))) for t in found), result)
        self._flush(result)
        self._forget_vanished(known, listed, result)
        if result.rows:
            self.usage.settle_sessions()
        result.seconds = time.monotonic() - started
        return result

    def run_hot(self) -> IngestResult:
        """A quick pass: the transcripts written lately and new files beside them.

        What a session appends shows within a pass; files untouched for a while wait for the
        next :meth:`run_once` (the dashboard runs one every 20 s), so a pass over ten thousand
        old transcripts does not cost ten thousand ``stat`` calls a second.
        """
        started = time.monotonic()
        result = IngestResult()
        roots = self.roots()
        result.roots = [str(r) for r in roots]
        known = self.usage.files()
        hot = _hot(roots, known, time.time_ns() - HOT_WINDOW_NS)
        self._read_all(((t, known.get(str(t.path))) for t in hot), result)
        self._flush(result)
        if result.rows:
            self.usage.settle_sessions()
        result.transcripts = sum(1 for state in known.values() if not state.gone)
        result.seconds = time.monotonic() - started
        return result

    def _reprice_if_needed(self) -> None:
        if self.usage.stale_prices(self.prices.source):
            count = self.usage.reprice(self.prices, self.prices.source)
            self.usage.settle_sessions()
            logger.info("usage: priced %d rows again with %s", count, self.prices.source)
        self._repriced = True

    def _read_all(
        self, found: Iterable[tuple[Transcript, FileState | None]], result: IngestResult
    ) -> None:
        """Plan each transcript and read those that need it: here, or — once the files to
        read add up to ``pool_min_bytes`` — in worker processes, committed in the same order."""
        jobs = iter(self._plan_all(found, result))
        head: list[_Job] = []
        pooled = 0
        for job in jobs:
            head.append(job)
            pooled += job.remaining if job.remaining <= FILE_MAX else 0
            if self.workers > 1 and pooled >= self.pool_min_bytes:
                break
        else:
            for job in head:
                self._read_here(job, result)
            return

        reads = read_in_order(chain(head, jobs), _Job.task, self.workers, self.prices.warm)
        with self.usage.bulk_writes(), gc_paused():
            for job, read in reads:
                if read is None:
                    self._read_here(job, result)
                    continue
                result.files_read += 1
                result.files_read_by_workers += 1
                state = job.state
                for chunk in read.chunks:
                    self._add(state, chunk, read.size, read.mtime_ns, result)
                    state = _moved(state, chunk.offset, read.size, read.mtime_ns)
            self._flush(result)

    def _plan_all(
        self, found: Iterable[tuple[Transcript, FileState | None]], result: IngestResult
    ) -> list[_Job]:
        """The jobs of a pass, in order; the files read from their first byte are started
        in one transaction (a cold ingest starts hundreds)."""
        planned = [p for t, state in found if (p := self._plan(t, state, result)) is not None]
        started = self.usage.start_files([p.start for p in planned if isinstance(p, _Start)])
        return [
            _Job(p.transcript, started[p.start.path], p.dev, p.inode, p.size)
            if isinstance(p, _Start)
            else p
            for p in planned
        ]

    def _plan(
        self, transcript: Transcript, state: FileState | None, result: IngestResult
    ) -> _Job | _Start | None:
        """What reading ``transcript`` takes (``None``: nothing new, or unreadable now;
        :class:`_Start`: read from its first byte once started in the store)."""
        path = str(transcript.path)
        if state is not None and not state.gone and _same(state, path):
            return None  # not opened: a pass over unchanged transcripts is a stat each
        try:
            fd, info = open_transcript(path)
        except Unreadable as exc:
            self._unreadable(path, state, exc, result)
            return None
        try:
            unchanged = (
                state is not None
                and not state.gone
                and (state.dev, state.inode) == (info.st_dev, info.st_ino)
                and (state.size, state.mtime_ns) == (info.st_size, info.st_mtime_ns)
            )
            if unchanged:
                return None
            if state is None or not _continues(state, fd, info):
                start = NewFile(
                    path,
                    str(transcript.root),
                    transcript.project_dir,
                    info.st_dev,
                    info.st_ino,
                    info.st_mtime_ns,
                )
                return _Start(transcript, start, info.st_size)
            return _Job(transcript, state, info.st_dev, info.st_ino, info.st_size)
        finally:
            os.close(fd)

    def _unreadable(
        self, path: str, state: FileState | None, exc: Unreadable, result: IngestResult
    ) -> None:
        if not exc.gone:
            result.unreadable[path] = exc.reason
        elif state is not None and not state.gone:  # deleted: its rows stay
            self.usage.mark_gone([state.id])
            result.gone += 1

    def _read_here(self, job: _Job, result: IngestResult, *, again: bool = True) -> None:
        """Read ``job``'s file in this process, a chunk at a time; planned again first when
        it changed since (replaced, truncated or rewritten)."""
        path = str(job.transcript.path)
        try:
            fd, info = open_transcript(path)
        except Unreadable as exc:
            self._unreadable(path, job.state, exc, result)
            return
        try:
            if not (_same_file(job, info) and _continues(job.state, fd, info)):
                os.close(fd)
                fd = -1
                if again:
                    for planned in self._plan_all([(job.transcript, job.state)], result):
                        self._read_here(planned, result, again=False)
                return
            result.files_read += 1
            state = job.state
            for chunk in read_chunks(fd, state.read_offset, job.transcript.session_hint):
                self._add(state, chunk, info.st_size, info.st_mtime_ns, result)
                state = _moved(state, chunk.offset, info.st_size, info.st_mtime_ns)
        finally:
            if fd >= 0:
                os.close(fd)

    def _add(
        self, state: FileState, chunk: Chunk, size: int, mtime_ns: int, result: IngestResult
    ) -> None:
        write = ChunkWrite(
            state, chunk.offset, size, mtime_ns, chunk.rows, chunk.skipped, chunk.last_skip
        )
        self._pending.append((write, chunk.lines))
        self._pending_rows += len(chunk.rows)
        if self._pending_rows >= BATCH_ROWS or len(self._pending) >= BATCH_CHUNKS:
            self._flush(result)

    def _flush(self, result: IngestResult) -> None:
        """Commit the chunks read so far: one transaction, or one each when another reader
        moved an offset first (its chunks are then its, and read on from there next pass)."""
        pending, self._pending, self._pending_rows = self._pending, [], 0
        if not pending:
            return
        source = self.prices.source
        if self.usage.commit_chunks([w for w, _ in pending], self.prices, source):
            done = pending
        else:
            done = [(w, n) for w, n in pending if self.usage.commit_chunk(w, self.prices, source)]
        for write, lines in done:
            result.bytes_read += write.offset - write.file.read_offset
            result.rows += lines
            result.skipped += write.skipped

    def _forget_vanished(
        self, known: dict[str, FileState], listed: set[str], result: IngestResult
    ) -> None:
        vanished = [
            state.id
            for path, state in known.items()
            if not state.gone and path not in listed and not os.path.lexists(path)
        ]
        if vanished:
            self.usage.mark_gone(vanished)
            result.gone = len(vanished)


def _hot(roots: list[Path], known: dict[str, FileState], cutoff_ns: int) -> list[Transcript]:
    """Known transcripts written since ``cutoff_ns``, and files no pass has seen yet in the
    project folders or in the subagent folders of those sessions and of the new ones."""
    found: dict[str, Transcript] = {}
    for path, state in known.items():
        if not state.gone and state.mtime_ns >= cutoff_ns:
            found[path] = Transcript(Path(path), Path(state.root), state.project_dir)
    sessions = {(Path(t.root), t.project_dir, t.session_hint) for t in found.values()}
    for root in roots:
        try:
            folders = [e for e in os.scandir(root / "projects") if e.is_dir()]
        except OSError:
            continue
        for folder in folders:
            new_here = _new_files(Path(folder.path), known)
            hints = {s for r, d, s in sessions if r == root and d == folder.name}
            hints.update(p.stem for p in new_here)  # a new session's subagents are new too
            for new in new_here:
                found[str(new)] = Transcript(new, root, folder.name)
            for hint in sorted(hints):
                for new in _new_files(Path(folder.path) / hint / "subagents", known):
                    found[str(new)] = Transcript(new, root, folder.name)
    return list(found.values())


def _new_files(folder: Path, known: dict[str, FileState]) -> list[Path]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return [
        Path(e.path)
        for e in entries
        if e.name.endswith(".jsonl") and e.path not in known and not e.is_dir()
    ]


def _same(state: FileState, path: str) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (state.dev, state.inode, state.size, state.mtime_ns) == (
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
    )


def _same_file(job: _Job, info: os.stat_result) -> bool:
    return (job.dev, job.inode) == (info.st_dev, info.st_ino)


def _continues(state: FileState, fd: int, info: os.stat_result) -> bool:
    """Whether the file on disk is the one remembered, grown (not truncated or replaced)."""
    if state.gone or (state.dev, state.inode) != (info.st_dev, info.st_ino):
        return False
    if info.st_size < state.read_offset:
        return False
    return ends_a_line(fd, state.read_offset)


def _moved(state: FileState, offset: int, size: int, mtime_ns: int) -> FileState:
    return replace(state, read_offset=offset, size=size, mtime_ns=mtime_ns)

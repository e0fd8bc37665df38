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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from attune.ops.spend.usage.pricing import PriceBook
from attune.ops.spend.usage.reader import Unreadable, ends_a_line, open_transcript, read_chunks
from attune.ops.spend.usage.sources import Transcript, config_roots, list_transcripts
from attune.ops.store.usage import ChunkWrite, FileState, UsageStore

__all__ = ["IngestResult", "Ingester"]

logger = logging.getLogger(__name__)

# Chunks are committed together, up to this many rows or chunks a transaction: a cold ingest
# makes a few dozen commits, not one per file, and a transaction stays well under a second.
BATCH_ROWS = 20_000
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
    bytes_read: int = 0
    rows: int = 0
    skipped: int = 0
    gone: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)  # path -> reason
    seconds: float = 0.0


class Ingester:
    """Ingest passes for one store; ``roots`` overrides the config roots (tests, benchmarks)."""

    def __init__(
        self,
        usage: UsageStore,
        prices: PriceBook,
        project_root: Path,
        roots: Callable[[], list[Path]] = config_roots,
    ) -> None:
        self.usage = usage
        self.prices = prices
        self.project_root = project_root
        self.roots = roots
        self._repriced = False
        self._pending: list[ChunkWrite] = []
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
        listed = set()
        for transcript in found:
            path = str(transcript.path)
            listed.add(path)
            self._ingest(transcript, known.get(path), result)
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
        for transcript in _hot(roots, known, time.time_ns() - HOT_WINDOW_NS):
            self._ingest(transcript, known.get(str(transcript.path)), result)
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

    def _ingest(
        self, transcript: Transcript, state: FileState | None, result: IngestResult
    ) -> None:
        path = str(transcript.path)
        if state is not None and not state.gone and _same(state, path):
            return  # not opened: a pass over unchanged transcripts is a stat each
        try:
            fd, info = open_transcript(path)
        except Unreadable as exc:
            if not exc.gone:
                result.unreadable[path] = exc.reason
            elif state is not None and not state.gone:  # deleted: its rows stay
                self.usage.mark_gone([state.id])
                result.gone += 1
            return
        try:
            unchanged = (
                state is not None
                and not state.gone
                and (state.dev, state.inode) == (info.st_dev, info.st_ino)
                and (state.size, state.mtime_ns) == (info.st_size, info.st_mtime_ns)
            )
            if unchanged:
                return
            if state is None or not _continues(state, fd, info):
                state = self.usage.start_file(
                    path,
                    str(transcript.root),
                    transcript.project_dir,
                    info.st_dev,
                    info.st_ino,
                    info.st_mtime_ns,
                )
            self._read(transcript, state, fd, info, result)
        finally:
            os.close(fd)

    def _read(
        self,
        transcript: Transcript,
        state: FileState,
        fd: int,
        info: os.stat_result,
        result: IngestResult,
    ) -> None:
        result.files_read += 1
        for chunk in read_chunks(fd, state.read_offset, transcript.session_hint):
            self._pending.append(
                ChunkWrite(
                    state,
                    chunk.offset,
                    info.st_size,
                    info.st_mtime_ns,
                    chunk.rows,
                    chunk.skipped,
                    chunk.last_skip,
                )
            )
            self._pending_rows += len(chunk.rows)
            state = _moved(state, chunk.offset, info)
            if self._pending_rows >= BATCH_ROWS or len(self._pending) >= BATCH_CHUNKS:
                self._flush(result)

    def _flush(self, result: IngestResult) -> None:
        """Commit the chunks read so far: one transaction, or one each when another reader
        moved an offset first (its chunks are then its, and read on from there next pass)."""
        pending, self._pending, self._pending_rows = self._pending, [], 0
        if not pending:
            return
        source = self.prices.source
        if self.usage.commit_chunks(pending, self.prices, source):
            done = pending
        else:
            done = [c for c in pending if self.usage.commit_chunk(c, self.prices, source)]
        for chunk in done:
            result.bytes_read += chunk.offset - chunk.file.read_offset
            result.rows += len(chunk.rows)
            result.skipped += chunk.skipped

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
    project folders or in the subagent folders of those sessions."""
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
            places = [Path(folder.path)] + [
                Path(folder.path) / s / "subagents"
                for r, d, s in sessions
                if r == root and d == folder.name
            ]
            for place in places:
                for new in _new_files(place, known):
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


def _continues(state: FileState, fd: int, info: os.stat_result) -> bool:
    """Whether the file on disk is the one remembered, grown (not truncated or replaced)."""
    if state.gone or (state.dev, state.inode) != (info.st_dev, info.st_ino):
        return False
    if info.st_size < state.read_offset:
        return False
    return ends_a_line(fd, state.read_offset)


def _moved(state: FileState, offset: int, info: os.stat_result) -> FileState:
    return replace(state, read_offset=offset, size=info.st_size, mtime_ns=info.st_mtime_ns)

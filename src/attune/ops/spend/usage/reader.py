"""Reading a transcript from where the last pass stopped, in bounded chunks.

A transcript is opened as a stranger's file: a regular file only, ``O_NONBLOCK`` (a FIFO never
hangs the ingest), ``O_NOFOLLOW`` on the file itself. It is read in 1 MiB blocks; a
:class:`Chunk` is handed over every ~8 MiB of complete lines, with the offset just past its last
newline, so memory stays flat whatever the file's size. A last line without its newline (Claude
Code still writing it) is parsed when it is complete JSON but the offset stays before it: the
next pass reads it again, and merging by message id makes that harmless. A line over 64 MiB is
skipped (counted) without being held in memory.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from attune.ops.spend.usage.lines import NEEDLE, parse_line, parse_usage_line
from attune.ops.store.usage_rows import MessageRow, merge

__all__ = [
    "BLOCK",
    "CHUNK_BYTES",
    "MAX_LINE",
    "Chunk",
    "Unreadable",
    "open_transcript",
    "read_chunks",
]

# The needle's search: the regular expression engine's literal scan, not ``bytes.find``
# (0.17 s instead of 0.27 s over the benchmark's 520 MB, measured; ``find`` skips poorly for
# a needle of common letters ending in a quote, in text full of both).
_SEARCH = re.compile(re.escape(NEEDLE)).search
BLOCK = 1 << 20
CHUNK_BYTES = 8 << 20
MAX_LINE = 64 << 20


class Unreadable(Exception):
    """The transcript cannot be read now (gone, permission, not a regular file); the reason."""

    def __init__(self, reason: str, *, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone


@dataclass
class Chunk:
    """Rows of the complete lines up to ``offset`` (plus an unterminated tail's, if any)."""

    offset: int
    rows: list[MessageRow] = field(default_factory=list)  # one per dedup key, merged
    lines: int = 0  # the usage lines they came from
    skipped: int = 0
    last_skip: str | None = None


def open_transcript(path: str) -> tuple[int, os.stat_result]:
    """An fd of ``path`` and its ``fstat``; raises :class:`Unreadable` with the reason."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise Unreadable("gone", gone=True) from exc
    except PermissionError as exc:
        raise Unreadable("permission denied") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Unreadable("a symbolic link (not followed)") from exc
        raise Unreadable(exc.strerror or str(exc)) from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Unreadable("not a regular file")
    return fd, info


def ends_a_line(fd: int, offset: int) -> bool:
    """Whether the byte before ``offset`` is a newline (else the file was rewritten)."""
    if offset == 0:
        return True
    try:
        return os.pread(fd, 1, offset - 1) == b"\n"
    except OSError:
        return False


def read_chunks(
    fd: int, start: int, session_hint: str, last_cwd: str = "", chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Chunk]:
    """Parse the lines of ``fd`` from ``start`` on, a chunk at a time (see the module doc)."""
    position = start  # the next byte to read
    parts: list[bytes] = []  # the bytes after the last newline seen
    held = 0  # their length
    dropping = False  # inside a line over MAX_LINE: its bytes are passed over
    chunk, found = Chunk(start), _Found(session_hint, last_cwd)
    while True:
        try:
            block = os.pread(fd, BLOCK, position)
        except OSError:  # vanished or failed mid-read: what was read stays, the rest waits
            break
        if not block:
            break
        position += len(block)
        first = block.find(b"\n")
        begin = first + 1  # where this block's own lines start (after one begun before)
        if dropping:
            if first < 0:
                continue
            chunk.skipped += 1
            chunk.last_skip = f"a line over {MAX_LINE >> 20} MiB"
            dropping = False
        elif first < 0:  # a line still going on: joined once its newline comes
            parts.append(block)
            held += len(block)
            begin = -1
        elif parts:  # the line begun in earlier blocks, joined alone (never the whole block)
            found.scan_line(chunk, b"".join((*parts, block[:first])))
        else:
            begin = 0
        if begin >= 0:
            cut = block.rfind(b"\n")
            found.scan(chunk, block, begin, cut)
            rest = block[cut + 1 :]
            parts, held = [rest] if rest else [], len(rest)
        chunk.offset = position - held  # just past the last newline
        if held > MAX_LINE:
            parts, held, dropping = [], 0, True
        if chunk.offset - start >= chunk_bytes:
            yield found.done(chunk)
            start, chunk = chunk.offset, Chunk(chunk.offset)
    if parts and not dropping:
        row = parse_line(b"".join(parts), session_hint, found.last_cwd)
        if isinstance(row, MessageRow):
            found.add(row)
    yield found.done(chunk)


class _Found:
    """The rows of one chunk, merged by dedup key as they are found (the store would merge
    them in the same order: fewer rows to hand over, the same rows stored)."""

    def __init__(self, session_hint: str, last_cwd: str) -> None:
        self.session_hint = session_hint
        self.last_cwd = last_cwd
        self.rows: dict[str, MessageRow] = {}
        self.lines = 0

    def scan(self, chunk: Chunk, data: bytes, begin: int, cut: int) -> None:
        """Every line of ``data[begin : cut + 1]`` that holds :data:`NEEDLE`, without splitting
        the others off: one substring search over the bytes, the line found around each hit."""
        search, find, rfind, take = _SEARCH, data.find, data.rfind, self.take
        hit = search(data, begin, cut)
        while hit is not None:
            at = hit.start()
            end = find(b"\n", at, cut + 1)
            take(chunk, data[max(begin, rfind(b"\n", begin, at) + 1) : end])
            hit = search(data, end + 1, cut)

    def scan_line(self, chunk: Chunk, line: bytes) -> None:
        """One complete line (its usage, if it has any)."""
        if NEEDLE in line:
            self.take(chunk, line)

    def take(self, chunk: Chunk, line: bytes) -> None:
        """A line known to hold :data:`NEEDLE`."""
        row = parse_usage_line(line, self.session_hint, self.last_cwd)
        if type(row) is MessageRow:
            self.add(row)
        elif row is not None:
            chunk.skipped += 1
            chunk.last_skip = str(row)

    def add(self, row: MessageRow) -> None:
        self.last_cwd = row.cwd
        self.lines += 1
        seen = self.rows.get(row.key)
        self.rows[row.key] = row if seen is None else merge(seen, row)

    def done(self, chunk: Chunk) -> Chunk:
        chunk.rows, chunk.lines = list(self.rows.values()), self.lines
        self.rows, self.lines = {}, 0
        return chunk

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
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from attune.ops.spend.usage.lines import NEEDLE, Skip, parse_line
from attune.ops.store.usage_rows import MessageRow

__all__ = [
    "BLOCK",
    "CHUNK_BYTES",
    "MAX_LINE",
    "Chunk",
    "Unreadable",
    "open_transcript",
    "read_chunks",
]

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
    rows: list[MessageRow] = field(default_factory=list)
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
    buf = bytearray()  # bytes after the last newline seen
    dropping = False  # inside a line over MAX_LINE: its bytes are passed over
    chunk = Chunk(start)
    while True:
        try:
            block = os.pread(fd, BLOCK, position)
        except OSError:  # vanished or failed mid-read: what was read stays, the rest waits
            break
        if not block:
            break
        position += len(block)
        if dropping:
            end = block.find(b"\n")
            if end < 0:
                continue
            chunk.skipped += 1
            chunk.last_skip = f"a line over {MAX_LINE >> 20} MiB"
            block, dropping = block[end + 1 :], False
        buf += block
        cut = buf.rfind(b"\n")
        if cut >= 0:
            complete = bytes(buf[:cut])
            del buf[: cut + 1]
            for line in complete.split(b"\n"):
                if NEEDLE in line:  # the others carry no usage: not even parsed
                    last_cwd = _take(chunk, line, session_hint, last_cwd)
        chunk.offset = position - len(buf)  # just past the last newline
        if len(buf) > MAX_LINE:
            buf.clear()
            dropping = True
        if chunk.offset - start >= chunk_bytes:
            yield chunk
            start, chunk = chunk.offset, Chunk(chunk.offset)
    if buf and not dropping:
        found = parse_line(bytes(buf), session_hint, last_cwd)
        if isinstance(found, MessageRow):
            chunk.rows.append(found)
    yield chunk


def _take(chunk: Chunk, line: bytes, session_hint: str, last_cwd: str) -> str:
    found = parse_line(line, session_hint, last_cwd)
    if found is None:
        return last_cwd
    if isinstance(found, Skip):
        chunk.skipped += 1
        chunk.last_skip = str(found)
        return last_cwd
    chunk.rows.append(found)
    return found.cwd

"""The output side of a run's process: lines cut from raw chunks, the batch waiting to be
stored, and ending a process group (signals by name)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

__all__ = [
    "FLUSH_BYTES",
    "FLUSH_INTERVAL_S",
    "FLUSH_LINES",
    "IDLE_POLL_S",
    "MAX_LINE_BYTES",
    "REC_MARKER",
    "LineSplitter",
    "Pending",
    "kill_group",
    "signal_name",
]

FLUSH_INTERVAL_S = 0.012
FLUSH_LINES = 8192
FLUSH_BYTES = 512 * 1024
MAX_LINE_BYTES = 16 * 1024 * 1024
IDLE_POLL_S = 0.25  # how often an idle run checks its timeout and its leader
REC_MARKER = b"ATTUNE_"  # ATTUNE_REC and ATTUNE_USAGE lines alike


class LineSplitter:
    """Bytes in, complete decoded lines out; keeps the unterminated tail between chunks."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._tail = bytearray()
        self.max_line_bytes = max_line_bytes
        self.saw_marker = False  # the last block fed may hold an ATTUNE_REC line

    def feed(self, data: bytes) -> list[str]:
        cut = data.rfind(b"\n")
        if cut < 0:
            self._tail += data
            self.saw_marker = False
            if len(self._tail) >= self.max_line_bytes:  # a runaway line: break it here
                return self.flush()
            return []
        block = bytes(self._tail) + data[: cut + 1] if self._tail else data[: cut + 1]
        self._tail = bytearray(data[cut + 1 :])
        self.saw_marker = REC_MARKER in block
        text = block.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        return text[:-1].split("\n")

    def flush(self) -> list[str]:
        """The unterminated last line, if any (at end of output)."""
        if not self._tail:
            return []
        line = bytes(self._tail).decode("utf-8", "replace")
        self._tail = bytearray()
        return [line]


def signal_name(number: int) -> str:
    """``SIGTERM`` for 15; ``signal 99`` for a number the system does not name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def kill_group(pgid: int, sig: int) -> bool:
    """Signal a whole process group; ``False`` when it no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


@dataclass
class Pending:
    """Lines read but not yet flushed, and since when the oldest of them waits."""

    lines: list[str] = field(default_factory=list)
    size: int = 0
    since: float = 0.0

    def add(self, lines: list[str], size: int) -> None:
        if lines and not self.lines:
            self.since = time.monotonic()
        self.lines.extend(lines)
        self.size += size

    def wait(self, now: float) -> float:
        """How long the reader may block before a flush is due."""
        return max(0.0, self.since + FLUSH_INTERVAL_S - now) if self.lines else IDLE_POLL_S

    def due(self, now: float) -> bool:
        return bool(self.lines) and (
            now - self.since >= FLUSH_INTERVAL_S
            or len(self.lines) >= FLUSH_LINES
            or self.size >= FLUSH_BYTES
        )

    def take(self) -> list[str]:
        lines, self.lines, self.size = self.lines, [], 0
        return lines

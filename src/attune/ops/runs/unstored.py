"""A run's output while the store is away: kept in memory (bounded), written when it is back.

The team database stopping, restarting or becoming unreachable makes the store raise
``StoreUnavailable`` with ``unreachable`` (store/pg_health.py). The run goes on: its lines wait
here, oldest first, and are still sent to the live readers; every :data:`RETRY_STORE_EVERY_S`
the pump tries to write them. Bounds: :data:`MAX_UNSTORED_LINES` lines or
:data:`MAX_UNSTORED_BYTES` of text (about 45 MB of Python strings at most); a line past them is
lost, and so is what is still held when the run stops waiting (runs/process.py). Lost lines
keep their seqs, so the stored log shows the gap, and the run's last line names it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from attune.ops.errors import StoreUnavailable
from attune.ops.runs.output import FLUSH_LINES
from attune.ops.store.database import Store

__all__ = [
    "MAX_UNSTORED_BYTES",
    "MAX_UNSTORED_LINES",
    "RETRY_STORE_EVERY_S",
    "Unstored",
    "is_away",
]

logger = logging.getLogger(__name__)

MAX_UNSTORED_LINES = 200_000
MAX_UNSTORED_BYTES = 32 * 1024 * 1024
RETRY_STORE_EVERY_S = 0.5


def is_away(exc: StoreUnavailable) -> bool:
    """A store that will answer again by itself: away (unreachable) or locked."""
    return bool(exc.extra.get("unreachable") or exc.extra.get("locked"))


@dataclass
class Unstored:
    """Lines the store could not take yet, oldest first, and the seq ranges lost."""

    max_lines: int = MAX_UNSTORED_LINES
    max_bytes: int = MAX_UNSTORED_BYTES
    batches: deque[tuple[int, list[str]]] = field(default_factory=deque)
    lines: int = 0
    size: int = 0
    lost: list[tuple[int, int]] = field(default_factory=list)  # (first, last), merged, sorted
    retry_at: float = 0.0
    reason: str = ""  # why the store is away, as it last said
    why: list[str] = field(default_factory=list)  # how lines came to be lost

    def __bool__(self) -> bool:
        return bool(self.batches)

    def add(self, first: int, lines: list[str]) -> None:
        size = sum(map(len, lines)) + len(lines)
        if self.lines + len(lines) > self.max_lines or self.size + size > self.max_bytes:
            self._lose(first, first + len(lines) - 1)
            self._say(f"more than {self.max_lines} lines or {self.max_bytes >> 20} MiB waited")
            return
        self.batches.append((first, lines))
        self.lines += len(lines)
        self.size += size

    def due(self, now: float) -> bool:
        return bool(self.batches) and now >= self.retry_at

    def later(self, now: float, reason: str) -> None:
        """The store is still away: try again in :data:`RETRY_STORE_EVERY_S`."""
        self.retry_at = now + RETRY_STORE_EVERY_S
        self.reason = reason

    def stored_through(self, seq: int) -> None:
        """Forget every line up to ``seq``: the store has it (a COMMIT cut off may have landed)."""
        while self.batches and self.batches[0][0] <= seq:
            first, lines = self.batches.popleft()
            keep = lines[seq - first + 1 :]
            gone = lines[: len(lines) - len(keep)]
            self.lines -= len(gone)
            self.size -= sum(map(len, gone)) + len(gone)
            if keep:
                self.batches.appendleft((seq + 1, keep))
                break

    def next_chunk(self) -> tuple[int, list[str]] | None:
        """The oldest consecutive lines, merged into one write of at most a flush's lines."""
        if not self.batches:
            return None
        first, lines = self.batches[0]
        out = list(lines)
        for more_first, more in list(self.batches)[1:]:
            if more_first != first + len(out) or len(out) + len(more) > FLUSH_LINES:
                break
            out.extend(more)
        return first, out

    def store(self, store: Store, run_id: int) -> bool:
        """Write what waits, oldest first; ``False`` while the store is still away.

        The run's ``line_count`` says what is stored already, so no line is written twice.
        Raises the store's error when it fails for good (disk full, read-only).
        """
        try:
            run = store.get_run(run_id)
            self.stored_through(run.line_count if run else 0)
            while (chunk := self.next_chunk()) is not None:
                first, lines = chunk
                store.append_lines(run_id, first, lines)
                self.stored_through(first + len(lines) - 1)
        except StoreUnavailable as exc:
            if not is_away(exc):
                raise
            self.later(time.monotonic(), exc.message)
            return False
        logger.warning("run %s: the store is back; the output kept in memory is stored", run_id)
        return True

    def wait(self, store: Store, run_id: int, wait_s: float, stop: Callable[[], bool]) -> None:
        """Keep trying for ``wait_s`` (or until ``stop()``); then what is held is lost."""
        deadline = time.monotonic() + wait_s
        try:
            while self.batches:
                now = time.monotonic()
                if now >= deadline or stop():
                    self.lose_all(f"still away {wait_s:g} s after the run ended")
                    return
                time.sleep(max(0.0, min(self.retry_at, deadline) - now))
                self.store(store, run_id)
        except Exception:  # the store failed for good (disk full, read-only)
            logger.exception("run %s: its output kept in memory could not be stored", run_id)
            self.lose_all("failing")

    def lose_all(self, why: str) -> None:
        """Stop waiting (``why``: how the store was, for the note): what is held is lost."""
        for first, lines in self.batches:
            self._lose(first, first + len(lines) - 1)
        if self.batches:
            self._say(f"the store was {why}")
        self.batches.clear()
        self.lines = self.size = 0

    def loss_note(self, lost_recs: int) -> str | None:
        """What could not be stored, for the run's error and its last line (``None``: nothing)."""
        lost = sum(last - first + 1 for first, last in self.lost)
        if not lost and not lost_recs:
            return None
        what = []
        if lost:
            ranges = ", ".join(f"{a}–{b}" if a != b else str(a) for a, b in self.lost[:5])
            more = " …" if len(self.lost) > 5 else ""
            what.append(f"{lost} line(s) of output (seq {ranges}{more})")
        if lost_recs:
            what.append(f"{lost_recs} recommendation(s)")
        why = "; ".join([*self.why, self.reason or "the store was away"])
        return f"{' and '.join(what)} could not be stored: {why}"

    def _say(self, why: str) -> None:
        if why not in self.why:
            self.why.append(why)

    def _lose(self, first: int, last: int) -> None:
        merged: list[tuple[int, int]] = []
        for a, b in sorted([*self.lost, (first, last)]):
            if merged and merged[-1][1] + 1 >= a:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self.lost = merged

"""Live streaming: start a run of the line generator, read its SSE stream with K clients.

The client is deliberately thin so it is not what limits the figure: it sends a raw HTTP/1.1
GET over asyncio streams and counts the generator's marker (``BENCHLN ``) in the bytes it
receives, plus the ``event: done`` frame. Both products write one whole SSE frame per chunk, so
the chunked framing never splits a marker; a marker split across two socket reads is caught by
carrying the previous read's tail. Like ``EventSource``, it resumes with ``Last-Event-ID`` when
the server ends a stream early after sending ids.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

MARKER = b"BENCHLN "
DONE = b"event: done"
IDLE_TIMEOUT_S = 10.0


def stream_deadline(n: int) -> float:
    """Seconds a client waits for ``done`` at most: generous, and still bounded."""
    return 20.0 + n / 10_000


@dataclass(frozen=True)
class ClientResult:
    """What one SSE client saw: lines counted, whether ``done`` came, when, or why not."""

    lines: int
    done: bool
    seconds: float | None
    error: str | None = None
    resumes: int = 0


@dataclass
class StreamRound:
    """One run read by K clients: each client's result plus the server's CPU seconds."""

    clients: list[ClientResult]
    server_cpu_s: float | None = None

    @property
    def all_done(self) -> bool:
        return all(c.done for c in self.clients)

    @property
    def slowest_s(self) -> float | None:
        """Seconds from the POST to the last client's ``done`` (None if one never got it)."""
        if not self.all_done:
            return None
        return max(c.seconds or 0.0 for c in self.clients)


@dataclass
class StreamSummary:
    """Rounds of one (product, N, clients) cell, summarised for the table."""

    n: int
    clients: int
    rounds: list[StreamRound] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        times = [r.slowest_s for r in self.rounds if r.slowest_s is not None]
        median = statistics.median(times) if times else None
        errors = sorted({c.error for r in self.rounds for c in r.clients if c.error})
        cpu = [r.server_cpu_s for r in self.rounds if r.server_cpu_s is not None]
        return {
            "n": self.n,
            "clients": self.clients,
            "rounds": len(self.rounds),
            "min_lines": min((c.lines for r in self.rounds for c in r.clients), default=0),
            "all_lines": all(c.lines == self.n for r in self.rounds for c in r.clients),
            "done": sum(c.done for r in self.rounds for c in r.clients),
            "expected_done": self.clients * len(self.rounds),
            "median_s": median,
            "lines_per_s": self.n / median if median else None,
            "server_cpu_s": statistics.median(cpu) if cpu else None,
            "resumes": sum(c.resumes for r in self.rounds for c in r.clients),
            "errors": errors,
        }


TAIL = 48  # bytes kept from the previous read: a marker, `done` or an `id:` line may straddle
MAX_RESUMES = 20


def scan(tail: bytes, data: bytes) -> tuple[bytes, int, bool, int | None]:
    """Markers in ``data`` (those straddling from ``tail`` included), ``done`` seen, the last
    ``id:`` seen (or None), and the new tail.

    Markers lying wholly inside ``tail`` were counted with the previous read, so only those
    starting in its last ``len(MARKER) - 1`` bytes are counted again here.
    """
    buf = tail + data
    found = buf[max(0, len(tail) - len(MARKER) + 1) :].count(MARKER)
    last_id = None
    at = buf.rfind(b"\nid: ")
    if at >= 0:
        stop = buf.find(b"\n", at + 5)
        if stop > 0 and buf[at + 5 : stop].isdigit():
            last_id = int(buf[at + 5 : stop])
    return buf[-TAIL:], found, DONE in buf, last_id


@dataclass
class _Progress:
    lines: int = 0
    last_id: int | None = None
    resumes: int = 0


async def _read_once(
    port: int, path: str, progress: _Progress, end: float
) -> tuple[bool, str | None]:
    """One connection: (``done`` seen, why it ended otherwise); resumes after ``last_id``."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        resume = "" if progress.last_id is None else f"Last-Event-ID: {progress.last_id}\r\n"
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{resume}"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = head.split(b" ", 2)[1].decode()
        if status != "200":
            return False, f"HTTP {status}"
        tail = b""
        while True:
            wait = min(IDLE_TIMEOUT_S, end - time.monotonic())
            if wait <= 0:
                return False, "deadline"
            try:
                data = await asyncio.wait_for(reader.read(1 << 20), wait)
            except TimeoutError:
                return False, "deadline" if time.monotonic() >= end else "stalled"
            if not data:
                return False, "closed before done"
            tail, found, saw_done, last_id = scan(tail, data)
            progress.lines += found
            progress.last_id = last_id if last_id is not None else progress.last_id
            if saw_done:
                return True, None
    finally:
        writer.close()


async def read_stream(port: int, path: str, t0: float, deadline_s: float) -> ClientResult:
    """Read one SSE stream until ``done``, as a browser's ``EventSource`` would.

    When the server closes the stream before ``done`` and has sent event ids, the client
    reconnects with ``Last-Event-ID`` (DESIGN §5: a slow client is cut off and resumes by id);
    without ids there is nothing to resume from, and the close is reported.
    """
    progress = _Progress()
    end = time.monotonic() + deadline_s
    why: str | None = None
    while progress.resumes <= MAX_RESUMES:
        try:
            done, why = await _read_once(port, path, progress, end)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            done, why = False, f"error: {type(exc).__name__}"
        if done:
            return ClientResult(progress.lines, True, time.perf_counter() - t0, None,
                                progress.resumes)  # fmt: skip
        if why != "closed before done" or progress.last_id is None:
            break
        progress.resumes += 1
    if why == "deadline":
        why = f"no done within {deadline_s:.0f} s"
    elif why == "stalled":
        why = f"stalled {IDLE_TIMEOUT_S:.0f} s"
    return ClientResult(progress.lines, False, None, why, progress.resumes)


async def read_streams(
    port: int, path: str, clients: int, t0: float, deadline_s: float
) -> list[ClientResult]:
    """``clients`` concurrent readers of the same stream."""
    tasks = [read_stream(port, path, t0, deadline_s) for _ in range(clients)]
    return list(await asyncio.gather(*tasks))


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux ``/proc``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

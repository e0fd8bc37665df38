"""Live streaming: start a run of the line generator, read its SSE stream with K clients.

The client is deliberately thin so it is not what limits the figure: it sends a raw HTTP/1.1
GET over asyncio streams and counts the generator's marker (``BENCHLN ``) in the bytes it
receives, plus the ``event: done`` frame. Both products write one whole SSE frame per chunk, so
the chunked framing never splits a marker; a marker split across two socket reads is caught by
carrying the previous read's tail.
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
            "errors": errors,
        }


def scan(tail: bytes, data: bytes) -> tuple[bytes, int, bool]:
    """Markers in ``data`` (those straddling from ``tail`` included), ``done`` seen, new tail.

    Markers lying wholly inside ``tail`` were counted with the previous read, so only those
    starting in its last ``len(MARKER) - 1`` bytes are counted again here.
    """
    buf = tail + data
    found = buf[max(0, len(tail) - len(MARKER) + 1) :].count(MARKER)
    return buf[-(len(DONE) - 1) :], found, DONE in buf


async def read_stream(port: int, path: str, t0: float, deadline_s: float) -> ClientResult:
    """Read one SSE stream until ``done``, a close, an idle gap or the deadline."""
    count = 0
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except (OSError, TimeoutError) as exc:
        return ClientResult(0, False, None, f"connect failed: {exc!r}")
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = head.split(b" ", 2)[1].decode()
        if status != "200":
            return ClientResult(0, False, None, f"HTTP {status}")
        tail = b""  # the end of the previous read: a marker or `done` may straddle two reads
        end = time.monotonic() + deadline_s
        while True:
            wait = min(IDLE_TIMEOUT_S, end - time.monotonic())
            if wait <= 0:
                return ClientResult(count, False, None, f"no done within {deadline_s:.0f} s")
            try:
                data = await asyncio.wait_for(reader.read(1 << 20), wait)
            except TimeoutError:
                if time.monotonic() >= end:
                    return ClientResult(count, False, None, f"no done within {deadline_s:.0f} s")
                return ClientResult(count, False, None, f"stalled {IDLE_TIMEOUT_S:.0f} s")
            if not data:
                return ClientResult(count, False, None, "closed before done")
            tail, found, saw_done = scan(tail, data)
            count += found
            if saw_done:
                return ClientResult(count, True, time.perf_counter() - t0)
    except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
        return ClientResult(count, False, None, f"error: {type(exc).__name__}")
    finally:
        writer.close()


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

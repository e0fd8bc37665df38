"""The team benchmark's live stream: a run on dashboard A read over SSE from dashboard B.

The client runs as its own process (stdlib only, so it starts in a few milliseconds): it waits
for a run id on its standard input, sends a raw HTTP/1.1 ``GET /api/runs/{id}/events`` to B,
undoes the chunked transfer encoding, decodes every ``lines`` frame and checks every line: its
seq must be the next one expected (each seq exactly once, in order) and its text the numbered
line the generator printed for that seq (``bench/stream.py --generate``). When B ends the
stream early (a slow client is cut off, DESIGN §5) it reconnects with ``Last-Event-ID`` as a
browser's ``EventSource`` does; reconnections are counted. It prints one JSON line.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

LINE_BYTES = 60  # bench/stream.py's generator: "line 0000000001 xxx…" (newline included)
PAD = "x" * (LINE_BYTES - 1 - 10 - 6)
MAX_RECONNECTS = 100
IDLE_TIMEOUT_S = 60.0


def expected_line(seq: int) -> str:
    return f"line {seq:010d} {PAD}"


class Check:
    """Every line seen so far, checked; ``error`` names the first one that was wrong."""

    def __init__(self) -> None:
        self.expected = 1
        self.lines = 0
        self.error: str | None = None
        self.done = False

    def frame(self, frame: bytes) -> None:
        if frame.startswith(b"event: done"):
            self.done = True
            return
        if not frame.startswith(b"event: lines"):
            return
        data = frame[frame.index(b"\ndata: ") + 7 :]
        payload = json.loads(data)
        first, lines = payload["first"], payload["lines"]
        if first != self.expected:
            self.error = self.error or f"seq {first} arrived when {self.expected} was next"
            return
        for offset, text in enumerate(lines):
            if text != expected_line(first + offset):
                self.error = self.error or f"line {first + offset} is {text[:30]!r}"
        self.expected = first + len(lines)
        self.lines += len(lines)


def _dechunk(buf: bytearray) -> bytes | None:
    """One chunk's body from the head of ``buf`` (removed from it), ``None`` until complete;
    ``b""`` is the last chunk."""
    end = buf.find(b"\r\n")
    if end < 0:
        return None
    size = int(bytes(buf[:end]).split(b";")[0], 16)
    if len(buf) < end + 2 + size + 2:
        return None
    body = bytes(buf[end + 2 : end + 2 + size])
    del buf[: end + 2 + size + 2]
    return body


def _connect(port: int, run_id: str, check: Check) -> bool:
    """One connection; True when ``done`` (or a wrong line) ended it, False when B closed it."""
    with socket.create_connection(("127.0.0.1", port), timeout=IDLE_TIMEOUT_S) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.sendall(
            f"GET /api/runs/{run_id}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Last-Event-ID: {check.expected - 1}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        raw = bytearray()
        while b"\r\n\r\n" not in raw:
            data = sock.recv(1 << 16)
            if not data:
                return False
            raw += data
        head, _, rest = bytes(raw).partition(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n")[0] + b" ":
            check.error = head.split(b"\r\n")[0].decode()
            return True
        raw, events = bytearray(rest), b""
        while True:
            while (body := _dechunk(raw)) is not None:
                if body == b"":
                    return False
                events += body
                *frames, events = events.split(b"\n\n")
                for frame in frames:
                    check.frame(frame.lstrip(b"\n"))
                    if check.done or check.error:
                        return True
            data = sock.recv(4 << 20)
            if not data:
                return False
            raw += data


def client(port: int) -> dict[str, Any]:
    """Read the run named on stdin from the dashboard on ``port`` until ``done``."""
    run_id = sys.stdin.readline().strip()
    check = Check()
    reconnects = -1
    ended = False
    while not ended and reconnects < MAX_RECONNECTS:
        reconnects += 1
        try:
            ended = _connect(port, run_id, check)
        except OSError as exc:
            check.error = f"{type(exc).__name__}: {exc}"
            break
    return {
        "done": check.done,
        "t_done": time.time(),
        "lines": check.lines,
        "error": check.error,
        "reconnects": reconnects,
        "cpu_s": time.process_time(),
    }


if __name__ == "__main__":
    print(json.dumps(client(int(sys.argv[1]))))

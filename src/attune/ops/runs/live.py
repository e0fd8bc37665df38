"""Live run output for many readers: frames encoded once, fanned out, replayed from the store.

The runner's pump thread commits a batch of lines to the store, encodes it *once* as an SSE
``lines`` frame and hands the same bytes to :meth:`StreamHub.publish` on the event loop, which
appends it to every subscriber's bounded queue. A subscriber whose queue would exceed its byte
budget is cut off (its queue is dropped and its stream ends); the browser's ``EventSource``
reconnects with ``Last-Event-ID`` and runs/stream.py's ``event_stream`` replays the rest from
the store, then takes over from the ring of recent frames each live run keeps here.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from attune.ops.runs.replay_cache import ReplayCache
from attune.ops.store.database import LineWatch
from attune.ops.store.runs import Run

__all__ = [
    "KEEPALIVE",
    "Frame",
    "StreamHub",
    "Subscriber",
    "encode_done",
    "encode_lines",
    "encode_recommendation",
]

# A subscriber's queue holds the newest frames, which are also in the ring: as long as its
# budget is not above the ring's, a backlog costs (almost) no memory of its own.
RING_MAX_BYTES = 8 * 1024 * 1024
SUBSCRIBER_MAX_BYTES = RING_MAX_BYTES
KEEPALIVE = b": keep-alive\n\n"  # the comment a stream sends while idle


def encode_lines(first: int, lines: Sequence[str], t: float | None = None) -> bytes:
    """One SSE ``lines`` frame; its ``id`` is the seq of its last line, its ``t`` the time the
    batch arrived (epoch seconds; absent for lines stored before arrival times were kept)."""
    payload: dict[str, Any] = {"first": first, "lines": list(lines)}
    if t is not None:
        payload["t"] = round(t, 3)
    data = json.dumps(payload, separators=(",", ":"))
    return f"event: lines\nid: {first + len(lines) - 1}\ndata: {data}\n\n".encode()


def encode_recommendation(payload: dict[str, Any]) -> bytes:
    return f"event: recommendation\ndata: {json.dumps(payload)}\n\n".encode()


def encode_done(run: Run) -> bytes:
    return f"event: done\ndata: {json.dumps(run.to_json())}\n\n".encode()


@dataclass(frozen=True)
class Frame:
    """An encoded frame plus what a subscriber needs to de-duplicate it.

    Only the encoded bytes are kept (not the lines as strings): frames sit in the ring and in
    queues, and the bytes are what is sent.
    """

    kind: str  # "lines" | "recommendation" | "done"
    data: bytes
    first: int = 0
    count: int = 0
    index: int = -1  # a recommendation's number within its run
    t: float | None = None  # when a batch of lines arrived (epoch seconds)

    @classmethod
    def of_lines(cls, first: int, lines: Sequence[str], t: float | None = None) -> Frame:
        """Encode a batch of lines once."""
        return cls("lines", encode_lines(first, lines, t), first, len(lines), t=t)

    @property
    def last(self) -> int:
        return self.first + self.count - 1

    def lines(self) -> list[str]:
        """The frame's lines, decoded again (only for the rare partial overlap)."""
        payload = json.loads(self.data.split(b"\ndata: ", 1)[1])
        return list(payload["lines"])


@dataclass(eq=False)
class Subscriber:
    """One reader's bounded queue of frames (bounded in bytes, not frames)."""

    max_bytes: int = SUBSCRIBER_MAX_BYTES
    overflowed: bool = False
    _frames: deque[Frame] = field(default_factory=deque)
    _bytes: int = 0
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, frame: Frame) -> None:
        if self.overflowed:
            return
        if self._frames and self._bytes + len(frame.data) > self.max_bytes:
            self.cut()
            return
        self._frames.append(frame)
        self._bytes += len(frame.data)
        self._ready.set()

    def cut(self) -> None:
        """End this reader's stream now, dropping what is queued; it resumes by id."""
        self.overflowed = True
        self._frames.clear()
        self._bytes = 0
        self._ready.set()

    def push_final(self, frame: Frame) -> None:
        """Queue the last frame (``done``, small) whatever the budget, unless already cut off."""
        if not self.overflowed:
            self._frames.append(frame)
            self._bytes += len(frame.data)
        self._ready.set()

    async def next(self, timeout: float) -> Frame | None:
        """The next frame, or ``None`` after ``timeout`` seconds of silence or on overflow."""
        while not self._frames:
            if self.overflowed:
                return None
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        frame = self._frames.popleft()
        self._bytes -= len(frame.data)
        return frame


class StreamHub:
    """The live channels of running runs; used on the event loop thread only.

    Besides its subscribers, each live run keeps its most recent frames (up to ``ring_bytes``),
    so a reader arriving late is served the shared, already encoded bytes instead of
    re-reading and re-encoding them from the store.
    """

    def __init__(
        self, max_bytes: int = SUBSCRIBER_MAX_BYTES, ring_bytes: int = RING_MAX_BYTES
    ) -> None:
        self.max_bytes = max_bytes
        self.ring_bytes = ring_bytes
        self._channels: dict[int, set[Subscriber]] = {}
        self._rings: dict[int, deque[Frame]] = {}
        self._ring_size: dict[int, int] = {}
        self._watches: set[LineWatch] = set()  # of readers waiting on the store
        self.stopping = False
        self.replay_cache = ReplayCache()

    def open(self, run_id: int) -> None:
        self._channels.setdefault(run_id, set())
        self._rings.setdefault(run_id, deque())
        self._ring_size.setdefault(run_id, 0)

    def is_open(self, run_id: int) -> bool:
        return run_id in self._channels

    def subscribe(self, run_id: int) -> Subscriber | None:
        """A new subscriber of a live run, or ``None`` when the run is not live (finished)."""
        subscribers = self._channels.get(run_id)
        if subscribers is None:
            return None
        sub = Subscriber(self.max_bytes)
        subscribers.add(sub)
        return sub

    def recent(self, run_id: int) -> list[Frame]:
        """The live run's most recent ``lines`` frames, oldest first."""
        return list(self._rings.get(run_id, ()))

    def ring_first(self, run_id: int) -> int | None:
        """The first seq still held in memory for a live run (``None``: nothing held)."""
        ring = self._rings.get(run_id)
        return ring[0].first if ring else None

    def unsubscribe(self, run_id: int, sub: Subscriber) -> None:
        self._channels.get(run_id, set()).discard(sub)

    def publish(self, run_id: int, frame: Frame) -> None:
        if frame.kind == "lines" and run_id in self._rings:
            self._remember(run_id, frame)
        for sub in tuple(self._channels.get(run_id, ())):
            sub.push(frame)

    def _remember(self, run_id: int, frame: Frame) -> None:
        ring = self._rings[run_id]
        ring.append(frame)
        size = self._ring_size[run_id] + len(frame.data)
        while len(ring) > 1 and size > self.ring_bytes:
            size -= len(ring.popleft().data)
        self._ring_size[run_id] = size

    def close(self, run_id: int, frame: Frame) -> None:
        """Send the ``done`` frame to every subscriber and forget the channel."""
        subscribers = self._channels.pop(run_id, set())
        self._rings.pop(run_id, None)
        self._ring_size.pop(run_id, None)
        for sub in subscribers:
            sub.push_final(frame)

    def disconnect_all(self) -> None:
        """The server is stopping: end every live reader's stream now, and every wait of a
        reader on the store (a run followed there, a gap to fill)."""
        self.stopping = True
        for subscribers in self._channels.values():
            for sub in subscribers:
                sub.cut()
        for watch in self._watches:
            watch.interrupt()

    def watching(self, watch: LineWatch) -> None:
        """A reader waits on the store through ``watch`` (until :meth:`unwatch`)."""
        self._watches.add(watch)
        if self.stopping:
            watch.interrupt()

    def unwatch(self, watch: LineWatch) -> None:
        self._watches.discard(watch)

    def subscriber_count(self, run_id: int) -> int:
        return len(self._channels.get(run_id, ()))

"""Live run output for many readers: frames encoded once, fanned out, replayed from the store.

The runner's pump thread commits a batch of lines to the store, encodes it *once* as an SSE
``lines`` frame and hands the same bytes to :meth:`StreamHub.publish` on the event loop, which
appends it to every subscriber's bounded queue. A subscriber whose queue would exceed its byte
budget is cut off (its queue is dropped and its stream ends); the browser's ``EventSource``
reconnects with ``Last-Event-ID`` and :func:`event_stream` replays the rest from the store.

Replay versus live: :func:`event_stream` first replays from the store until it has caught up,
then subscribes, then replays once more (the lines committed in between), and from then on
forwards live frames, skipping any line whose seq it has already sent. Lines are published only
after they are committed, so the store always holds at least what any client was sent.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from attune.ops.run_log import Run
from attune.ops.store import Store

__all__ = [
    "Frame",
    "StreamHub",
    "Subscriber",
    "encode_done",
    "encode_lines",
    "encode_recommendation",
    "event_stream",
]

KEEPALIVE_S = 15.0
SUBSCRIBER_MAX_BYTES = 8 * 1024 * 1024
KEEPALIVE = b": keep-alive\n\n"


def encode_lines(first: int, lines: Sequence[str]) -> bytes:
    """One SSE ``lines`` frame; its ``id`` is the seq of its last line."""
    data = json.dumps({"first": first, "lines": list(lines)}, separators=(",", ":"))
    return f"event: lines\nid: {first + len(lines) - 1}\ndata: {data}\n\n".encode()


def encode_recommendation(payload: dict[str, Any]) -> bytes:
    return f"event: recommendation\ndata: {json.dumps(payload)}\n\n".encode()


def encode_done(run: Run) -> bytes:
    return f"event: done\ndata: {json.dumps(run.to_json())}\n\n".encode()


@dataclass(frozen=True)
class Frame:
    """An encoded frame plus what a subscriber needs to de-duplicate it."""

    kind: str  # "lines" | "recommendation" | "done"
    data: bytes
    first: int = 0
    lines: tuple[str, ...] = ()
    index: int = -1  # a recommendation's number within its run

    @property
    def last(self) -> int:
        return self.first + len(self.lines) - 1


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
            self.overflowed = True  # cut off: drop what is queued, the reader resumes by id
            self._frames.clear()
            self._bytes = 0
        else:
            self._frames.append(frame)
            self._bytes += len(frame.data)
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
    """The live channels of running runs; used on the event loop thread only."""

    def __init__(self, max_bytes: int = SUBSCRIBER_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._channels: dict[int, set[Subscriber]] = {}

    def open(self, run_id: int) -> None:
        self._channels.setdefault(run_id, set())

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

    def unsubscribe(self, run_id: int, sub: Subscriber) -> None:
        self._channels.get(run_id, set()).discard(sub)

    def publish(self, run_id: int, frame: Frame) -> None:
        for sub in tuple(self._channels.get(run_id, ())):
            sub.push(frame)

    def close(self, run_id: int, frame: Frame) -> None:
        """Send the ``done`` frame to every subscriber and forget the channel."""
        subscribers = self._channels.pop(run_id, set())
        for sub in subscribers:
            sub.push_final(frame)

    def subscriber_count(self, run_id: int) -> int:
        return len(self._channels.get(run_id, ()))


@dataclass
class _Cursor:
    last: int
    recs: set[int] = field(default_factory=set)


async def _replay(store: Store, run_id: int, cursor: _Cursor) -> AsyncIterator[bytes]:
    """Frames of the stored lines after ``cursor.last``, read off the event loop."""
    while True:
        batches = await asyncio.to_thread(_read_batches, store, run_id, cursor.last)
        if not batches:
            return
        for first, lines in batches:
            yield encode_lines(first, lines)
            cursor.last = first + len(lines) - 1


def _read_batches(store: Store, run_id: int, after: int) -> list[tuple[int, list[str]]]:
    out: list[tuple[int, list[str]]] = []
    size = 0
    for first, lines in store.iter_chunks(run_id, after):
        out.append((first, lines))
        size += len(lines)
        if size >= 20_000:
            break
    return out


async def _replay_recs(store: Store, run_id: int, cursor: _Cursor) -> AsyncIterator[bytes]:
    for index, payload in await asyncio.to_thread(store.recommendations, run_id):
        if index not in cursor.recs:
            cursor.recs.add(index)
            yield encode_recommendation(payload)


def _live_bytes(frame: Frame, cursor: _Cursor) -> bytes | None:
    """What to send for a live frame, given what this reader has already been sent."""
    if frame.kind == "recommendation":
        if frame.index in cursor.recs:
            return None
        cursor.recs.add(frame.index)
        return frame.data
    if frame.kind != "lines":
        return frame.data
    if frame.last <= cursor.last:
        return None
    if frame.first <= cursor.last:
        skip = cursor.last - frame.first + 1
        cursor.last = frame.last
        return encode_lines(frame.first + skip, frame.lines[skip:])
    cursor.last = frame.last
    return frame.data


async def event_stream(
    store: Store, hub: StreamHub, run_id: int, after: int, keepalive_s: float = KEEPALIVE_S
) -> AsyncIterator[bytes]:
    """The SSE byte stream of one run for one reader, from seq ``after + 1`` to ``done``."""
    cursor = _Cursor(max(0, after))
    async for chunk in _replay(store, run_id, cursor):
        yield chunk
    sub = hub.subscribe(run_id)
    try:
        async for chunk in _replay(store, run_id, cursor):
            yield chunk
        async for chunk in _replay_recs(store, run_id, cursor):
            yield chunk
        if sub is None:
            run = await asyncio.to_thread(store.get_run, run_id)
            if run is not None:
                yield encode_done(run)
            return
        async for chunk in _follow(store, run_id, sub, cursor, keepalive_s):
            yield chunk
    finally:
        if sub is not None:
            hub.unsubscribe(run_id, sub)


async def _follow(
    store: Store, run_id: int, sub: Subscriber, cursor: _Cursor, keepalive_s: float
) -> AsyncIterator[bytes]:
    while True:
        frame = await sub.next(keepalive_s)
        if frame is None:
            if sub.overflowed:
                return  # cut off; the client reconnects with Last-Event-ID
            yield KEEPALIVE
            continue
        if frame.kind == "lines" and frame.first > cursor.last + 1:
            async for chunk in _replay(store, run_id, cursor):  # never skip a gap
                yield chunk
        data = _live_bytes(frame, cursor)
        if data is not None:
            yield data
        if frame.kind == "done":
            return

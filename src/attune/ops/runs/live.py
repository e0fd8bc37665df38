"""Live run output for many readers: frames encoded once, fanned out, replayed from the store.

The runner's pump thread commits a batch of lines to the store, encodes it *once* as an SSE
``lines`` frame and hands the same bytes to :meth:`StreamHub.publish` on the event loop, which
appends it to every subscriber's bounded queue. A subscriber whose queue would exceed its byte
budget is cut off (its queue is dropped and its stream ends); the browser's ``EventSource``
reconnects with ``Last-Event-ID`` and :func:`event_stream` replays the rest from the store.

Replay versus live: :func:`event_stream` replays old lines from the store until the run's
in-memory ring of recent frames covers what comes next (or it has caught up), then subscribes
and takes the ring's frames in the same event-loop step (so no frame falls in between), sends
them and then live frames, skipping any line whose seq it has already sent and filling any gap
from the store. Lines are published only
after they are committed, so the store always holds at least what any client was sent.
A run live in another process (or, on the team store, another machine) is followed in the
store, each read woken by the store's :class:`~attune.ops.store.database.LineWatch`.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from attune.ops.runs.replay_cache import ReplayCache
from attune.ops.store.database import Store
from attune.ops.store.runs import MAX_SQLITE_INT, Run

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
# A subscriber's queue holds the newest frames, which are also in the ring: as long as its
# budget is not above the ring's, a backlog costs (almost) no memory of its own.
RING_MAX_BYTES = 8 * 1024 * 1024
SUBSCRIBER_MAX_BYTES = RING_MAX_BYTES
REPLAY_CHUNKS = 4
KEEPALIVE = b": keep-alive\n\n"


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
        """The server is stopping: end every live reader's stream now."""
        for subscribers in self._channels.values():
            for sub in subscribers:
                sub.cut()

    def subscriber_count(self, run_id: int) -> int:
        return len(self._channels.get(run_id, ()))


@dataclass
class _Cursor:
    last: int
    recs: set[int] = field(default_factory=set)


async def _replay(
    store: Store, cache: ReplayCache, run_id: int, cursor: _Cursor
) -> AsyncIterator[bytes]:
    """Frames of all the stored lines after ``cursor.last``, read off the event loop."""
    while True:
        sent = False
        async for chunk in _replay_batch(store, cache, run_id, cursor):
            sent = True
            yield chunk
        if not sent:
            return


async def _replay_batch(
    store: Store, cache: ReplayCache, run_id: int, cursor: _Cursor
) -> AsyncIterator[bytes]:
    """One bounded batch of stored lines after ``cursor.last`` (nothing when caught up)."""
    loop = asyncio.get_running_loop()
    frames = await loop.run_in_executor(
        cache.executor, _read_frames, store, cache, run_id, cursor.last
    )
    for last, data in frames:
        yield data
        cursor.last = last


def _read_frames(
    store: Store, cache: ReplayCache, run_id: int, after: int
) -> list[tuple[int, bytes]]:
    """Encoded frames of the next few stored chunks; whole chunks come from the shared cache."""
    out: list[tuple[int, bytes]] = []
    for chunk_id, first, last, t in store.timed_chunk_refs(run_id, after, REPLAY_CHUNKS):
        data = cache.get((run_id, chunk_id)) if first > after else None
        if data is None:
            text = store.chunk_text(chunk_id)
            if text is None:  # deleted meanwhile (retention): nothing more to send
                break
            lines = text.split("\n")
            whole = first > after
            if not whole:
                lines, first = lines[after - first + 1 :], after + 1
            data = encode_lines(first, lines, t)
            if whole:  # the same chunk is likely wanted by the other lagging readers
                cache.put((run_id, chunk_id), data)
        out.append((last, data))
        after = last
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
        return encode_lines(frame.first + skip, frame.lines()[skip:], frame.t)
    cursor.last = frame.last
    return frame.data


async def event_stream(
    store: Store, hub: StreamHub, run_id: int, after: int, keepalive_s: float = KEEPALIVE_S
) -> AsyncIterator[bytes]:
    """The SSE byte stream of one run for one reader, from seq ``after + 1`` to ``done``."""
    cursor = _Cursor(min(max(0, after), MAX_SQLITE_INT))
    while True:  # old lines from the store, until the in-memory frames take over
        held = hub.ring_first(run_id)
        if held is not None and held <= cursor.last + 1:
            break
        sent = False
        async for chunk in _replay_batch(store, hub.replay_cache, run_id, cursor):
            sent = True
            yield chunk
        if not sent:
            break
    sub = hub.subscribe(run_id)
    backlog = hub.recent(run_id) if sub is not None else []  # same tick: no frame in between
    try:
        if sub is None:  # finished, or live in another process: follow what it stores
            async for chunk in _follow_stored(store, hub, run_id, cursor, keepalive_s):
                yield chunk
            return
        for frame in backlog:
            async for chunk in _deliver(store, hub, run_id, frame, cursor):
                yield chunk
        async for chunk in _replay_recs(store, run_id, cursor):
            yield chunk
        async for chunk in _follow(store, hub, run_id, sub, cursor, keepalive_s):
            yield chunk
    finally:
        if sub is not None:
            hub.unsubscribe(run_id, sub)


async def _follow_stored(
    store: Store, hub: StreamHub, run_id: int, cursor: _Cursor, keepalive_s: float
) -> AsyncIterator[bytes]:
    """Replay from the store until the run is over, then ``done`` — never ``done`` for a run
    still running elsewhere (``attune runs start``, another dashboard on this home or, on the
    team store, on another machine: its ``NOTIFY`` wakes this reader within milliseconds)."""
    loop = asyncio.get_running_loop()
    quiet = 0.0
    with store.watch_lines(run_id) as watch:
        while True:
            watch.arm()  # before reading: a commit from now on ends the wait below
            run = await asyncio.to_thread(store.get_run, run_id)
            async for chunk in _replay(store, hub.replay_cache, run_id, cursor):
                quiet = 0.0
                yield chunk
            async for chunk in _replay_recs(store, run_id, cursor):
                yield chunk
            if run is None or run.finished:
                if run is not None:
                    yield encode_done(run)
                return
            began = loop.time()
            await watch.wait(keepalive_s - quiet)
            quiet += loop.time() - began
            if quiet >= keepalive_s:
                quiet = 0.0
                yield KEEPALIVE


async def _deliver(
    store: Store, hub: StreamHub, run_id: int, frame: Frame, cursor: _Cursor
) -> AsyncIterator[bytes]:
    """One in-memory frame for this reader: fill any gap from the store, skip what it has."""
    if frame.kind == "lines" and frame.first > cursor.last + 1:
        async for chunk in _replay(store, hub.replay_cache, run_id, cursor):
            yield chunk
    data = _live_bytes(frame, cursor)
    if data is not None:
        yield data


async def _follow(
    store: Store,
    hub: StreamHub,
    run_id: int,
    sub: Subscriber,
    cursor: _Cursor,
    keepalive_s: float,
) -> AsyncIterator[bytes]:
    while True:
        frame = await sub.next(keepalive_s)
        if frame is None:
            if sub.overflowed:
                return  # cut off; the client reconnects with Last-Event-ID
            yield KEEPALIVE
            continue
        async for chunk in _deliver(store, hub, run_id, frame, cursor):
            yield chunk
        if frame.kind == "done":
            return

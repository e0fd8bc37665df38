"""One reader's SSE stream of a run: stored lines, then the live frames, none lost or repeated.

Replay versus live: :func:`event_stream` replays old lines from the store until the run's
in-memory ring of recent frames (runs/live.py) covers what comes next (or it has caught up),
then subscribes and takes the ring's frames in the same event-loop step (so no frame falls in
between), sends them and then live frames, skipping any line whose seq it has already sent and
filling any gap from the store. Lines are published after they are committed, except while the
store is away: then the run keeps them in memory (runs/unstored.py) and publishes them anyway,
so the store may lag behind what a client was sent. A gap that neither memory nor the store can
fill is therefore never skipped (:func:`_fill`), and a first reader while the store is away gets
what memory holds when it reaches back far enough.
A run live in another process (or, on the team store, another machine) is followed in the
store, each read woken by the store's :class:`~attune.ops.store.database.LineWatch`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from attune.ops.errors import StoreUnavailable
from attune.ops.runs.live import (
    KEEPALIVE,
    Frame,
    StreamHub,
    Subscriber,
    encode_done,
    encode_lines,
    encode_recommendation,
)
from attune.ops.runs.replay_cache import ReplayCache
from attune.ops.runs.unstored import is_away
from attune.ops.store.database import LineWatch, Store
from attune.ops.store.runs import MAX_SQLITE_INT

__all__ = ["GAP_WAIT_S", "KEEPALIVE_S", "event_stream"]

KEEPALIVE_S = 15.0
REPLAY_CHUNKS = 4
GAP_WAIT_S = 5.0  # how long a reader waits for the store to make progress on lines it lacks


class _Behind(Exception):
    """The store does not hold the next lines of this reader yet: end without ``done``."""


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


async def _replay_recs(
    store: Store, run_id: int, cursor: _Cursor, away_ok: bool = False
) -> AsyncIterator[bytes]:
    """The stored recommendations not sent yet; none while the store is away if ``away_ok``
    (a live run's next ones come as frames)."""
    try:
        found = await asyncio.to_thread(store.recommendations, run_id)
    except StoreUnavailable as exc:
        if away_ok and is_away(exc):
            return
        raise
    for index, payload in found:
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
        async for chunk in _stored(store, hub.replay_cache, run_id, cursor):
            sent = True
            yield chunk
        if not sent:  # caught up, or the store is away: memory may hold the rest
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
        async for chunk in _replay_recs(store, run_id, cursor, away_ok=True):
            yield chunk
        async for chunk in _follow(store, hub, run_id, sub, cursor, keepalive_s):
            yield chunk
    except _Behind:
        return  # no ``done``: the client reconnects and resumes by id (EventSource does)
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
    with _watching(store, hub, run_id) as watch:
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
            if watch.interrupted:
                return  # the server stops: no ``done``, the client resumes by id later
            quiet += loop.time() - began
            if quiet >= keepalive_s:
                quiet = 0.0
                yield KEEPALIVE


async def _deliver(
    store: Store, hub: StreamHub, run_id: int, frame: Frame, cursor: _Cursor
) -> AsyncIterator[bytes]:
    """One in-memory frame for this reader: fill any gap from the store, skip what it has."""
    if frame.kind == "lines" and frame.first > cursor.last + 1:
        async for chunk in _fill(store, hub, run_id, frame.first - 1, cursor):
            yield chunk
    data = _live_bytes(frame, cursor)
    if data is not None:
        yield data


async def _fill(
    store: Store, hub: StreamHub, run_id: int, through: int, cursor: _Cursor
) -> AsyncIterator[bytes]:
    """The stored lines up to seq ``through``, which memory no longer holds for this reader.

    While the store is away the run keeps its lines in memory and writes them when it is back,
    so the store may not hold them yet. Sending the next frame anyway would skip lines the
    client never sees again (it resumes after that frame's id). So this waits, woken by the
    store's watch, for as long as the store makes progress, or up to :data:`GAP_WAIT_S`
    without any; then it raises :class:`_Behind` and the stream ends without ``done``: the
    client reconnects by itself with ``Last-Event-ID`` and resumes exactly there, later.
    Waiting longer would hold a stream (and its queue) open on a store that may be away for
    minutes, with no way to tell the client why.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GAP_WAIT_S
    with _watching(store, hub, run_id) as watch:
        while cursor.last < through:
            watch.arm()
            before = cursor.last
            async for chunk in _stored(store, hub.replay_cache, run_id, cursor):
                yield chunk
            if cursor.last > before:
                deadline = loop.time() + GAP_WAIT_S
            elif loop.time() >= deadline or watch.interrupted:
                raise _Behind
            else:
                await watch.wait(deadline - loop.time())


@contextmanager
def _watching(store: Store, hub: StreamHub, run_id: int) -> Iterator[LineWatch]:
    """The store's watch of ``run_id``, interrupted when the server stops."""
    with store.watch_lines(run_id) as watch:
        hub.watching(watch)
        try:
            yield watch
        finally:
            hub.unwatch(watch)


async def _stored(
    store: Store, cache: ReplayCache, run_id: int, cursor: _Cursor
) -> AsyncIterator[bytes]:
    """One batch of :func:`_replay_batch`; nothing (no error) while the store is away."""
    try:
        async for chunk in _replay_batch(store, cache, run_id, cursor):
            yield chunk
    except StoreUnavailable as exc:
        if not is_away(exc):
            raise


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

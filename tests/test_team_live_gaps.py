"""A live run's lines reach readers from memory while the store is away (runs/unstored.py keeps
them until it is back), so the store may hold less than a client was sent. A reader whose next
lines are neither in the run's in-memory ring nor in the store never skips them: it waits for
the store (woken by its watch), or its stream ends without ``done`` and it resumes by id later;
a first reader gets what memory holds when it reaches back far enough. In process, on a store
whose log reads fail while it is away, with a ring smaller than the lines held in memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from attune.ops.errors import StoreUnavailable
from attune.ops.runs import stream
from attune.ops.runs.live import Frame, StreamHub, encode_done
from attune.ops.store.database import Store
from tests.sse_client import RunTranscript, _parse

PER_FRAME = 10
RING_BYTES = 1000  # about four frames of ten lines: far fewer than the lines held in memory


class AwayStore(Store):
    """A store whose log and recommendation reads fail as the team store's do while it is
    ``away`` (``StoreUnavailable``, unreachable); it counts the reads of the log."""

    away = False
    log_reads = 0

    def _gate(self) -> None:
        if self.away:
            raise StoreUnavailable("the team database is unavailable (test)", unreachable=True)

    def timed_chunk_refs(
        self, run_id: int, after_seq: int, limit: int
    ) -> list[tuple[int, int, int, float | None]]:
        self.log_reads += 1
        self._gate()
        return super().timed_chunk_refs(run_id, after_seq, limit)

    def recommendations(self, run_id: int) -> list[tuple[int, dict[str, Any]]]:
        self._gate()
        return super().recommendations(run_id)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AwayStore]:
    s = AwayStore(tmp_path / "ops.db")
    yield s
    s.close()


def _lines(first: int, last: int) -> list[str]:
    return [f"line {i:05d}" for i in range(first, last + 1)]


def _batches(first: int, last: int) -> Iterator[tuple[int, list[str]]]:
    for seq in range(first, last + 1, PER_FRAME):
        yield seq, _lines(seq, min(seq + PER_FRAME - 1, last))


def _publish(
    store: Store, hub: StreamHub, run_id: int, first: int, last: int, stored: bool
) -> None:
    """What the run's pump does: store each batch (unless the store is away), then publish it."""
    for seq, batch in _batches(first, last):
        if stored:
            store.append_lines(run_id, seq, batch)
        hub.publish(run_id, Frame.of_lines(seq, batch))


def _store_kept(store: Store, run_id: int, first: int, last: int) -> None:
    """The store is back: the pump writes the lines it kept in memory."""
    for seq, batch in _batches(first, last):
        store.append_lines(run_id, seq, batch)


def _end(store: Store, hub: StreamHub, run_id: int) -> None:
    hub.close(run_id, Frame("done", encode_done(store.finish_run(run_id, "succeeded", 0, 1.0))))


async def _read(events: AsyncIterator[bytes]) -> RunTranscript:
    """Everything one stream sends, until it ends."""
    text = ""
    async with asyncio.timeout(60):
        async for chunk in events:
            text += chunk.decode()
    transcript = RunTranscript()
    for event in _parse(iter(text.split("\n"))):
        transcript.take(event)
    return transcript


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("how", ["reads fail", "reads find nothing"])
async def test_a_resumed_reader_waits_for_the_store_instead_of_skipping_lines(
    store: AwayStore, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setattr(stream, "GAP_WAIT_S", 60.0)  # the store is back long before
    run = store.create_run("w", None, ["w"])
    hub = StreamHub(ring_bytes=RING_BYTES)
    hub.open(run.id)
    _publish(store, hub, run.id, 1, 10, stored=True)
    # The store goes away: 90 lines are sent from memory only, the ring keeps the newest few.
    store.away = how == "reads fail"
    _publish(store, hub, run.id, 11, 100, stored=False)
    assert (hub.ring_first(run.id) or 0) > 11
    reader = asyncio.create_task(_read(stream.event_stream(store, hub, run.id, 10, 0.05)))
    await _until(lambda: store.log_reads >= 3)  # it has asked the store, more than once
    assert not reader.done()  # waiting: nothing past line 10 was skipped to
    store.away = False
    _store_kept(store, run.id, 11, 100)
    _publish(store, hub, run.id, 101, 110, stored=True)
    _end(store, hub, run.id)
    got = await reader
    assert got.seqs == list(range(11, 111))  # every line once, in order
    assert got.lines == _lines(11, 110) and got.done is not None


async def test_a_reader_whose_lines_stay_unstored_ends_without_done_and_resumes_by_id(
    store: AwayStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "GAP_WAIT_S", 0.3)
    run = store.create_run("w", None, ["w"])
    hub = StreamHub(ring_bytes=RING_BYTES)
    hub.open(run.id)
    _publish(store, hub, run.id, 1, 10, stored=True)
    store.away = True
    _publish(store, hub, run.id, 11, 100, stored=False)
    cut = await _read(stream.event_stream(store, hub, run.id, 10, 0.05))
    assert cut.seqs == [] and cut.done is None  # no line skipped, no ``done``: it reconnects
    first = await _read(stream.event_stream(store, hub, run.id, 0, 0.05))
    assert first.seqs == [] and first.done is None  # a first reader too: memory starts too late

    store.away = False
    _store_kept(store, run.id, 11, 100)
    resumed = asyncio.create_task(_read(stream.event_stream(store, hub, run.id, 10, 0.05)))
    await _until(lambda: hub.subscriber_count(run.id) == 1)
    _publish(store, hub, run.id, 101, 110, stored=True)
    _end(store, hub, run.id)
    got = await resumed
    assert got.seqs == list(range(11, 111)) and got.done is not None


async def test_a_first_reader_gets_what_memory_holds_while_the_store_is_away(
    store: AwayStore,
) -> None:
    run = store.create_run("w", None, ["w"])
    store.add_recommendation(run.id, 0, {"kind": "open-url", "url": "https://example.com/"})
    hub = StreamHub()  # the ring still holds every line
    hub.open(run.id)
    store.away = True
    _publish(store, hub, run.id, 1, 30, stored=False)
    reader = asyncio.create_task(_read(stream.event_stream(store, hub, run.id, 0, 0.05)))
    await _until(lambda: hub.subscriber_count(run.id) == 1)
    _publish(store, hub, run.id, 31, 40, stored=False)
    store.away = False
    _store_kept(store, run.id, 1, 40)
    _end(store, hub, run.id)
    got = await reader
    assert got.seqs == list(range(1, 41)) and got.done is not None

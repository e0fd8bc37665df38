"""Live across machines, at the store: a commit on one team store wakes the readers of that run
on another (``LISTEN``/``NOTIFY``, store/pg_notify.py), a lost listener connection loses no
line, and SQLite keeps its short poll."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from attune.ops.store import pg_notify
from attune.ops.store.database import Store
from attune.ops.store.pg_notify import CHANNEL, LISTENER_NAME, RunListener, parse_payload
from attune.ops.store.postgres import PostgresStore
from tests.postgres_cluster import PostgresCluster

WAIT_S = 30.0  # far above the safety poll: a True wait was woken by a notification


@pytest.fixture
def two_stores(postgres_url: str) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    """Two dashboards' stores on one database: ``a`` writes the run, ``b`` follows it."""
    a = PostgresStore(postgres_url)
    b = PostgresStore(postgres_url)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


async def _woken_by(store: Store, run_id: int, write: Callable[[], object]) -> bool:
    """Arm a watch of ``run_id`` on ``store``, do ``write`` (elsewhere), wait for the wake."""
    with store.watch_lines(run_id) as watch:
        await watch.wait(0)  # starts the listener; its first connection wakes every watch
        await _settled(store, watch)  # only the write below can end the wait now
        watch.arm()
        await asyncio.to_thread(write)
        return await watch.wait(WAIT_S)


async def _settled(store: Store, watch: Any, listening: bool = True, sent: int = 0) -> None:
    """The listener is (or is not) listening, it has sent ``watch`` more than ``sent`` wakes
    if asked to, and every wake it sent has arrived: none is on its way (no sleep guesses)."""
    listener: RunListener = getattr(store, "_listener")
    await _until(
        lambda: (
            listener.listening is listening
            and watch.wakes_sent >= sent
            and watch.wakes == watch.wakes_sent
        )
    )


async def _until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def test_a_write_notifies_its_run_id_and_last_seq_on_commit_only(
    two_stores: tuple[PostgresStore, PostgresStore], postgres_url: str
) -> None:
    a, _ = two_stores
    run = a.create_run("demo", None, ["demo"])
    with psycopg.connect(postgres_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        a.append_lines(run.id, 1, ["one", "two", "three"])
        with pytest.raises(RuntimeError), a.write() as conn:  # rolled back: no notification
            conn.execute("UPDATE runs SET line_count = 99 WHERE id = ?", (run.id,))
            raise RuntimeError("abandoned")
        a.append_note(run.id, "[attune] a note")
        a.finish_run(run.id, "succeeded", 0, 1.0)
        payloads = [n.payload for n in listener.notifies(timeout=2.0)]
    assert payloads == [f"{run.id}:3", f"{run.id}:4", f"{run.id}:4"]
    assert parse_payload(payloads[0]) == (run.id, 3)
    assert parse_payload("junk") is None and parse_payload("1:") is None


async def test_every_write_of_a_run_wakes_its_readers_on_another_store(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two_stores
    run = a.create_run("demo", None, ["demo"])
    assert await _woken_by(b, run.id, lambda: a.append_lines(run.id, 1, ["one", "two"]))
    assert [text for _, text in b.read_lines(run.id)] == ["one", "two"]
    assert await _woken_by(b, run.id, lambda: a.add_recommendation(run.id, 0, {"kind": "x"}))
    assert await _woken_by(b, run.id, lambda: a.append_note(run.id, "note"))
    assert await _woken_by(b, run.id, lambda: a.finish_run(run.id, "failed", 1, 2.0))
    assert b.get_run(run.id).finished  # type: ignore[union-attr]

    other = a.create_run("demo", None, ["demo"])
    assert await _woken_by(
        b, other.id, lambda: a.mark_interrupted("[attune] interrupted", lambda r: True)
    )
    assert b.get_run(other.id).status == "interrupted"  # type: ignore[union-attr]


async def test_a_write_of_another_run_does_not_wake_a_reader(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two_stores
    followed = a.create_run("demo", None, ["demo"])
    other = a.create_run("demo", None, ["demo"])
    with b.watch_lines(followed.id) as watch:
        await watch.wait(0)
        await _settled(b, watch)
        watch.arm()
        received = b._listener.received
        a.append_lines(other.id, 1, ["elsewhere"])
        await _until(lambda: b._listener.received > received)
        assert not await watch.wait(0.2)  # the notification named another run


async def test_lines_written_while_the_listener_is_cut_off_are_not_lost(
    two_stores: tuple[PostgresStore, PostgresStore],
    postgres_url: str,
    postgres_cluster: PostgresCluster,
) -> None:
    a, b = two_stores
    run = a.create_run("demo", None, ["demo"])
    name = postgres_url.rsplit("/", 1)[1]
    admin = psycopg.connect(postgres_cluster.url("postgres"), autocommit=True)
    with admin, b.watch_lines(run.id) as watch:
        await watch.wait(0)
        await _settled(b, watch)
        sent = getattr(watch, "wakes_sent")
        # The listener's connection dies and no new one is let in (the pools keep theirs).
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (LISTENER_NAME,),
            )
            # the wake of every watch on the way down has arrived
            await _settled(b, watch, listening=False, sent=sent + 1)
            watch.arm()
            a.append_lines(run.id, 1, ["while", "nobody", "listened"])  # a NOTIFY to nobody
            assert not await watch.wait(WAIT_S)  # back after a short poll, not WAIT_S
            assert [text for _, text in b.read_lines(run.id)] == ["while", "nobody", "listened"]
            watch.arm()
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await _until(lambda: b._listener.connects == 2 and b._listener.listening)
        assert await watch.wait(WAIT_S)  # listening again: every watch was woken to read once more
        assert await _woken_by(b, run.id, lambda: a.append_lines(run.id, 4, ["back"]))
    assert b.read_lines(run.id, after_seq=3) == [(4, "back")]


async def test_sqlite_watch_polls(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.db")
    try:
        run = store.create_run("demo", None, ["demo"])
        with store.watch_lines(run.id) as watch:
            watch.arm()
            store.append_lines(run.id, 1, ["one"])
            assert not await watch.wait(WAIT_S)  # no notifications: back after one short poll
        assert store.read_lines(run.id) == [(1, "one")]
    finally:
        store.close()


async def test_the_listener_outlives_a_failure_of_its_own_and_close_ends_it(
    two_stores: tuple[PostgresStore, PostgresStore],
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = two_stores
    run = a.create_run("demo", None, ["demo"])
    failures = 2  # a bug in the listen loop (not a psycopg error), twice

    def failing(payload: str) -> tuple[int, int] | None:
        nonlocal failures
        if failures:
            failures -= 1
            raise ValueError("a bug in the listen loop")
        return parse_payload(payload)

    monkeypatch.setattr(pg_notify, "parse_payload", failing)
    listener = b._listener
    with caplog.at_level(logging.INFO, logger=pg_notify.__name__), b.watch_lines(run.id) as w:
        await w.wait(0)
        await _settled(b, w)
        for seq, connects in ((1, 2), (2, 3)):
            a.append_lines(run.id, seq, [f"line {seq}"])  # its notification meets the bug
            await _until(lambda: listener.connects == connects and listener.listening)
        assert await _woken_by(b, run.id, lambda: a.append_lines(run.id, 3, ["line 3"]))
    assert failures == 0 and b.read_lines(run.id, after_seq=2) == [(3, "line 3")]
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert len(logged) == 1 and "a bug in the listen loop" in caplog.text  # said once

    thread = listener._thread
    assert thread is not None and thread.daemon and thread.is_alive()
    b.close()
    assert not thread.is_alive()  # stopped within close(), its connection closed on the way
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as admin:

        def listeners() -> int:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                "AND datname = %s",
                (LISTENER_NAME, name),
            ).fetchone()
            return int(row[0]) if row else -1

        await _until(lambda: listeners() == 0)

"""The usage writer's fast paths give what the general ones gave: files started in one batch
as one by one, new rows rolled up as the general difference does, lines merged as before, and
a big pass's page cache given back. Both store backends; real genai-prices data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attune.ops.spend.usage.pricing import PriceBook
from attune.ops.store.database import Store
from attune.ops.store.usage import ChunkWrite, NewFile, UsageStore
from attune.ops.store.usage_rollups import Rollup
from attune.ops.store.usage_rows import DAY_MS, MessageRow, merge

T0 = 1_767_225_600_000  # 2026-01-01, UTC


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test that takes it runs on both store backends (SQLite, then PostgreSQL)."""
    return any_store


def row(n: int, **fields: object) -> MessageRow:
    base = MessageRow(
        key=f"msg_{n:04d}",
        request_id=f"req_{n}",
        ts=T0 + n * 61_000,
        session_id=f"s{n % 3}",
        cwd=f"/code/p{n % 2}",
        model="claude-sonnet-4-5",
        git_branch="main",
        version="2.0.1",
        sidechain=False,
        speed="fast" if n % 4 == 0 else None,
        input_tokens=n,
        output_tokens=2 * n,
        cache_creation_tokens=3 * n,
        cache_5m_tokens=None,
        cache_1h_tokens=None,
        cache_read_tokens=4 * n,
        web_searches=0,
    )
    return base._replace(**fields)  # type: ignore[arg-type]


def test_files_started_together_are_what_one_by_one_made(store: Store) -> None:
    usage = UsageStore(store)
    alone = usage.start_file("/c/a.jsonl", "/c", "-code-a", 1, 10, 5)
    together = usage.start_files(
        [NewFile(f"/c/{n}.jsonl", "/c", "-code", 1, 20 + n, 7) for n in range(600)]
    )
    assert len(together) == 600  # more than one IN list's worth
    assert together["/c/599.jsonl"].inode == 619
    assert together["/c/0.jsonl"].id > alone.id
    assert usage.files()["/c/7.jsonl"] == together["/c/7.jsonl"]
    assert usage.start_files([]) == {}


def test_a_file_started_again_reads_from_its_first_byte(store: Store) -> None:
    usage = UsageStore(store)
    prices = PriceBook()
    state = usage.start_file("/c/a.jsonl", "/c", "-code-a", 1, 10, 5)
    assert usage.commit_chunk(ChunkWrite(state, 500, 500, 6, [row(1)]), prices, prices.source)
    assert usage.files()["/c/a.jsonl"].read_offset == 500
    again = usage.start_files([NewFile("/c/a.jsonl", "/c", "-code-a", 1, 11, 9)])["/c/a.jsonl"]
    assert (again.id, again.read_offset, again.size, again.inode) == (state.id, 0, 0, 11)


@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=60, unique=True))
def test_new_rows_roll_up_as_the_general_difference_does(numbers: list[int]) -> None:
    general, fast = Rollup(), Rollup()
    for n in numbers:
        r = row(n, ts=(n - 200) * 7_200_000)  # days on both sides of 1970-01-01
        cost = None if n % 5 == 0 else n * 1000
        general.add(r, n % 2, cost, n, +1)
        fast.add_new(r, n % 2, cost, n)
    assert fast.daily == general.daily
    assert fast.sessions == general.sessions
    assert all(type(v) is int for vs in fast.daily.values() for v in vs)


def test_a_row_before_1970_falls_on_its_floor_day() -> None:
    fast = Rollup()
    fast.add_new(row(1, ts=-1), 0, 1, 0)
    assert list(fast.daily) == [(-1, 0, "claude-sonnet-4-5")]
    assert -1 // DAY_MS == -1


def test_lines_merge_field_by_field() -> None:
    early = row(1, ts=T0, input_tokens=5, output_tokens=1, request_id=None, sidechain=True)
    late = row(1, ts=T0 + 10, input_tokens=3, output_tokens=9, cache_5m_tokens=4, git_branch="x")
    merged = merge(late, early)
    assert merged == early._replace(
        request_id=late.request_id,
        output_tokens=9,
        cache_5m_tokens=4,
        sidechain=False,
    )
    assert merge(early, late) == merged


def test_a_big_pass_gives_its_page_cache_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    try:
        usage = UsageStore(store)
        with store.write() as conn:
            before = conn.execute("PRAGMA cache_size").fetchone()[0]
        with usage.bulk_writes():
            prices = PriceBook()
            state = usage.start_file("/c/a.jsonl", "/c", "-code-a", 1, 10, 5)
            rows = [row(n) for n in range(200)]
            random.Random(3).shuffle(rows)
            assert usage.commit_chunk(ChunkWrite(state, 9, 9, 6, rows), prices, prices.source)
            with store.write() as conn:
                assert conn.execute("PRAGMA cache_size").fetchone()[0] < before
        with store.write() as conn:
            assert conn.execute("PRAGMA cache_size").fetchone()[0] == before
    finally:
        store.close()


def _sums(store: Store) -> tuple[list[int], list[int], list[int]]:
    """Token sums from the rows, from the daily roll-up and from the session roll-up."""
    cols = "sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), count(*)"
    with store.read() as conn:
        rows = list(conn.execute(f"SELECT {cols} FROM usage_messages").fetchone())
        daily = list(
            conn.execute(
                "SELECT sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), "
                "sum(messages) FROM usage_daily"
            ).fetchone()
        )
        sessions = list(
            conn.execute(
                "SELECT sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), "
                "sum(messages) FROM usage_sessions"
            ).fetchone()
        )
    return rows, daily, sessions


def test_keys_known_to_be_new_are_looked_up_again_once_another_writer_wrote(
    store: Store, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The first writer on an empty table skips lookups by key; once another writer (a second
    dashboard, ``attune usage``) writes, a row it stored merges instead of counting twice."""
    if backend == "sqlite":
        other = Store(store.path)  # type: ignore[attr-defined]
    else:
        from attune.ops.store.postgres import PostgresStore

        other = PostgresStore(request.getfixturevalue("postgres_url"))
    try:
        prices = PriceBook()
        mine, theirs = UsageStore(store), UsageStore(other)
        bulk = mine.bulk_writes()
        bulk.__enter__()
        a = mine.start_file("/c/a.jsonl", "/c", "-code", 1, 10, 5)
        assert mine.commit_chunk(ChunkWrite(a, 9, 9, 6, [row(1), row(2)]), prices, prices.source)
        # known (nothing looked up) on SQLite, whose writes hold its lock; never on a team store,
        # where another member's row can be committed between two statements of a transaction
        assert mine._fresh == ({"msg_0001", "msg_0002"} if backend == "sqlite" else None)
        b = theirs.start_file("/c/b.jsonl", "/c", "-code", 1, 11, 5)
        bigger = row(3, output_tokens=50)
        assert theirs.commit_chunk(ChunkWrite(b, 9, 9, 6, [bigger]), prices, prices.source)
        c = mine.start_file("/c/c.jsonl", "/c", "-code", 1, 12, 5)
        again = [row(3), row(1, output_tokens=7), row(4)]  # msg_0003 is theirs now
        assert mine.commit_chunk(ChunkWrite(c, 9, 9, 6, again), prices, prices.source)
        assert mine._fresh is None  # someone else wrote: every key is looked up from now on
        bulk.__exit__(None, None, None)
        rows, daily, sessions = _sums(store)
        assert rows == daily == sessions
        assert rows[3] == 4  # msg_0001..4, each once
        with store.read() as conn:
            found = conn.execute(
                "SELECT key, output_tokens FROM usage_messages ORDER BY key"
            ).fetchall()
        assert [tuple(r) for r in found] == [
            ("msg_0001", 7),
            ("msg_0002", 4),
            ("msg_0003", 50),
            ("msg_0004", 8),
        ]
    finally:
        other.close()


def test_known_keys_skip_the_lookups_and_still_merge_across_commits(
    store: Store, backend: str
) -> None:
    prices = PriceBook()
    usage = UsageStore(store)
    with usage.bulk_writes():
        a = usage.start_file("/c/a.jsonl", "/c", "-code", 1, 10, 5)
        assert usage.commit_chunk(ChunkWrite(a, 9, 9, 6, [row(1), row(2)]), prices, prices.source)
        b = usage.start_file("/c/b.jsonl", "/c", "-code", 1, 11, 5)
        later = [row(2, output_tokens=99), row(5)]  # one key already stored by this store
        assert usage.commit_chunk(ChunkWrite(b, 9, 9, 6, later), prices, prices.source)
        known = {"msg_0001", "msg_0002", "msg_0005"}
        assert usage._fresh == (known if backend == "sqlite" else None)
    assert usage._fresh is None  # the pass is over: nothing held
    c = usage.start_file("/c/c.jsonl", "/c", "-code", 1, 12, 5)
    assert usage.commit_chunk(ChunkWrite(c, 9, 9, 6, [row(6)]), prices, prices.source)
    assert usage._fresh is None  # a small pass looks its keys up and holds none
    rows, daily, sessions = _sums(store)
    assert rows == daily == sessions and rows[3] == 4 and rows[1] == 2 + 99 + 10 + 12

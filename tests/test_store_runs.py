"""Runs in the store: chunks and seqs, filters, cursor pages, full-text search, recovery.

Every test that takes ``store`` runs on both backends (SQLite and PostgreSQL, the ``backend``
fixture); the ones about SQLite's own file and FTS5 indexes take ``sqlite_store``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from attune.ops.store.database import Store


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "ops.db")
    yield s
    s.close()


def _finished(store: Store, workflow: str, status: str, lines: list[str]) -> int:
    run = store.create_run(workflow, None, [workflow])
    store.append_lines(run.id, 1, lines)
    store.finish_run(run.id, status, 0 if status == "succeeded" else 1, 0.5)
    store.index_run(run.id)
    return run.id


def test_schema_has_the_run_migrations(store: Store) -> None:
    assert store.schema_version >= 2


def test_lines_keep_their_seq_across_chunks(store: Store) -> None:
    run = store.create_run("w", "src", ["python", "x"], trigger="cli")
    store.append_lines(run.id, 1, ["a", "b", "c"])
    store.append_lines(run.id, 4, ["d", ""])
    store.append_lines(run.id, 6, ["f"])
    assert store.read_lines(run.id) == [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, ""), (6, "f")]
    assert store.read_lines(run.id, after_seq=2, limit=2) == [(3, "c"), (4, "d")]
    assert store.read_lines(run.id, after_seq=6) == []
    got = store.get_run(run.id)
    assert got is not None and got.line_count == 6 and got.status == "running"
    body = got.to_json()
    assert body["command"] == ["python", "x"] and body["trigger"] == "cli" and body["path"] == "src"
    assert datetime.fromisoformat(body["started_at"]).tzinfo is not None


def test_finish_records_status_and_times(store: Store) -> None:
    run = store.create_run("w", None, ["w"])
    done = store.finish_run(run.id, "failed", 3, 1.25)
    assert (done.status, done.exit_code, done.duration_s) == ("failed", 3, 1.25)
    assert done.finished_at is not None and done.finished_at >= done.started_at


def test_filters_and_stable_cursor(store: Store) -> None:
    ids = [
        _finished(store, f"w{i % 2}", ("succeeded", "failed")[i % 3 == 0], ["x"]) for i in range(7)
    ]
    page, cursor = store.list_runs(limit=3)
    assert [r.id for r in page] == ids[::-1][:3] and cursor == ids[4]
    _finished(store, "w0", "succeeded", ["new"])  # a new run does not shift the next page
    page2, cursor2 = store.list_runs(limit=3, before=cursor)
    assert [r.id for r in page2] == ids[::-1][3:6]
    page3, cursor3 = store.list_runs(limit=3, before=cursor2)
    assert [r.id for r in page3] == [ids[0]] and cursor3 is None
    w1, _ = store.list_runs(workflow="w1")
    assert {r.workflow for r in w1} == {"w1"} and len(w1) == 3
    failed, _ = store.list_runs(statuses=["failed"])
    assert {r.id for r in failed} == {ids[0], ids[3], ids[6]}
    both, _ = store.list_runs(statuses=["failed", "succeeded"], workflow="w0")
    assert len(both) == 5


def test_full_text_search_finds_the_run(store: Store) -> None:
    a = _finished(store, "t", "failed", ["starting", "ERROR: database is locked", "bye"])
    _finished(store, "t", "succeeded", ["all good"])
    live = store.create_run("t", None, ["t"])
    store.append_lines(live.id, 1, ["ERROR: database is locked, again"])
    hits, _ = store.list_runs(q="database is locked")
    assert [r.id for r in hits] == [live.id, a]  # the running (unindexed) run is found too
    assert store.list_runs(q='say "hi" OR )(')[0] == []  # user text is never FTS syntax
    assert [r.id for r in store.list_runs(q="locked", statuses=["failed"])[0]] == [a]


def test_search_finds_prefixes_and_substrings_like_the_run_page(store: Store) -> None:
    pip = _finished(store, "deps", "succeeded", ["Collecting itsdangerous==2.1.2", "done"])
    key = _finished(store, "secrets", "failed", ["found AKIAIOSFODNN7EXAMPLE in .env"])
    err = _finished(store, "tests", "failed", ["TypeError: 'NoneType' object", "100% of module_17"])
    other = _finished(store, "tests", "succeeded", ["moduleX17 ok", "errors: none"])

    def found(q: str) -> list[int]:
        return sorted(r.id for r in store.list_runs(q=q)[0])

    assert found("itsdanger") == [pip]  # a prefix of a word
    assert found("AKIA") == [key] == found("akia")  # any case, like the run page
    assert found("IOSFODNN") == [key]  # the middle of a word
    assert found("error") == [err, other]  # TypeError and errors both hold it
    assert found("module_17") == [err]  # _ and % are themselves, not wildcards
    assert found("0%") == [err] and found("%") == [err]
    assert found("connection reset") == []
    # "Quoted" text is whole words and phrases, from the word index.
    assert found('"error"') == []
    assert found('"typeerror"') == [err] and found('"Collecting itsdangerous"') == [pip]
    # Shorter than a trigram: runs are scanned for it, newest first.
    assert found("ok") == [other] and found("Ty") == [err] and found("zq") == []


def test_an_older_database_gets_the_trigram_index_in_the_background(tmp_path: Path) -> None:
    import sqlite3

    from attune.ops.store.database import APPLICATION_ID, MIGRATIONS, _statements
    from attune.ops.store.indexer import SearchIndexer

    db = tmp_path / "ops.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for version, script in enumerate(MIGRATIONS[:3], start=1):  # as version 3 left it
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (version,))
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    for n in range(20):
        run_id = conn.execute(
            "INSERT INTO runs (workflow, status, command, started_at, line_count, indexed) "
            "VALUES ('w', 'succeeded', '[]', '2024-01-01T00:00:00+00:00', 1, 1)"
        ).lastrowid
        text = f"Collecting itsdangerous-{n}" if n == 7 else f"line of run {n}"
        chunk = conn.execute(
            "INSERT INTO run_chunks (run_id, first_seq, last_seq, text) VALUES (?, 1, 1, ?)",
            (run_id, text),
        ).lastrowid
        conn.execute("INSERT INTO run_chunks_fts (rowid, text) VALUES (?, ?)", (chunk, text))
        conn.execute("UPDATE runs SET indexed_upto = ? WHERE id = ?", (chunk, run_id))
    conn.close()

    store = Store(db)
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert len(store.unindexed_finished_runs()) == 20  # the migration only made the index
        assert [r.id for r in store.list_runs(q="itsdanger")[0]] == [8]  # found by a scan
        SearchIndexer(store, lambda: False).run_pending()
        assert store.unindexed_finished_runs() == []
        with store.read() as conn:
            hits = conn.execute(
                "SELECT count(*) FROM run_chunks_trigram WHERE run_chunks_trigram MATCH 'dan'"
            ).fetchone()[0]
            assert hits == 1
            conn.execute(
                "INSERT INTO run_chunks_trigram(run_chunks_trigram) VALUES('integrity-check')"
            )
        assert [r.id for r in store.list_runs(q="itsdanger")[0]] == [8]  # now from the index
        assert [r.id for r in store.list_runs(q='"itsdangerous"')[0]] == [8]
    finally:
        store.close()


def test_mark_interrupted_spares_live_servers(store: Store) -> None:
    mine = store.create_run("w", None, ["w"])
    store.append_lines(mine.id, 1, ["one", "two"])
    left = store.mark_interrupted("[attune] interrupted", lambda run: run.server_pid == os.getpid())
    assert [r.id for r in left] == [mine.id]
    run = store.get_run(mine.id)
    assert run is not None and run.status == "interrupted" and run.finished_at
    assert store.read_lines(mine.id)[-1] == (3, "[attune] interrupted")
    other = store.create_run("w", None, ["w"])
    assert store.mark_interrupted("x", lambda run: False) == []
    assert store.get_run(other.id).status == "running"  # type: ignore[union-attr]


def test_retention_deletes_old_finished_runs(store: Store) -> None:
    old = _finished(store, "w", "succeeded", ["old text"])
    new = _finished(store, "w", "succeeded", ["new text"])
    running = store.create_run("w", None, ["w"])
    with store.write() as conn:
        past = (datetime.now(UTC) - timedelta(days=40)).isoformat()
        conn.execute("UPDATE runs SET started_at = ? WHERE id IN (?, ?)", (past, old, running.id))
    assert store.delete_runs_older_than(0) == 0
    assert store.delete_runs_older_than(30) == 1
    assert store.get_run(old) is None and store.read_lines(old) == []
    assert store.get_run(new) is not None and store.get_run(running.id) is not None
    assert [r.id for r in store.list_runs(q="text")[0]] == [new]  # the index forgot it too
    if store.backend != "sqlite":
        return  # PostgreSQL's index is on the chunks themselves
    with store.read() as conn:
        for table in ("run_chunks_fts", "run_chunks_trigram"):
            assert conn.execute(f"INSERT INTO {table}({table}) VALUES('integrity-check')")


def test_recommendations_are_kept_in_order(store: Store) -> None:
    run = store.create_run("w", None, ["w"])
    store.add_recommendation(run.id, 0, {"kind": "open-url", "url": "https://a"})
    store.add_recommendation(run.id, 1, {"kind": "open-url", "url": "https://b"})
    assert [p["url"] for _, p in store.recommendations(run.id)] == ["https://a", "https://b"]


def test_workflow_stats(store: Store) -> None:
    for status in ("succeeded", "failed", "succeeded", "succeeded"):
        _finished(store, "w", status, ["x"])
    stats = store.workflow_stats("w", last=3)
    assert [r["status"] for r in stats["recent"]] == ["failed", "succeeded", "succeeded"]
    assert stats["success_rate"] == pytest.approx(2 / 3)


def test_indexer_indexes_in_the_background_and_waits_for_live_runs(sqlite_store: Store) -> None:
    from attune.ops.store.indexer import SearchIndexer

    store = sqlite_store
    run = store.create_run("w", None, ["w"])
    for first in range(1, 40, 10):
        store.append_lines(run.id, first, [f"needle {first + i}" for i in range(10)])
    store.finish_run(run.id, "succeeded", 0, 1.0)
    busy = [True]
    indexer = SearchIndexer(store, lambda: busy[0], pause_s=0.01)
    indexer.start()
    try:
        time.sleep(0.1)
        assert store.unindexed_finished_runs() == [run.id]  # a live run: it waits
        busy[0] = False
        deadline = time.monotonic() + 5
        while store.unindexed_finished_runs() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.unindexed_finished_runs() == []
        with store.read() as conn:
            hits = conn.execute(
                "SELECT count(*) FROM run_chunks_fts WHERE run_chunks_fts MATCH 'needle'"
            ).fetchone()[0]
        assert hits == 4  # every chunk indexed exactly once
        store.append_note(run.id, "[attune] a late note")  # re-opens indexing of the rest
        indexer.notify()
        deadline = time.monotonic() + 5
        while not store.list_runs(q="late note")[0] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [r.id for r in store.list_runs(q="late note")[0]] == [run.id]
    finally:
        indexer.stop()


def test_an_ending_that_cannot_be_written_is_shown_and_written_later(sqlite_store: Store) -> None:
    import sqlite3

    store = sqlite_store
    run = store.create_run("w", None, ["w"])
    store.append_lines(run.id, 1, ["partial"])
    store._writer.execute("PRAGMA query_only = 1")  # the disk refuses writes from now on
    with pytest.raises(sqlite3.OperationalError):
        store.finish_run(run.id, "failed", 1, 2.5, "the run's output could not be stored")
    # Every read of this store already tells the truth: the run is over.
    shown = store.get_run(run.id)
    assert shown is not None
    assert (shown.status, shown.exit_code, shown.duration_s) == ("failed", 1, 2.5)
    assert shown.error == "the run's output could not be stored"
    assert store.list_runs()[0][0].status == "failed"
    with pytest.raises(sqlite3.OperationalError):
        store.create_run("w", None, ["w"])  # still refused: nothing is lost meanwhile
    store._writer.execute("PRAGMA query_only = 0")  # space again
    store.create_run("w", None, ["w"])
    with store.read() as conn:
        status = conn.execute("SELECT status FROM runs WHERE id = ?", (run.id,)).fetchone()[0]
    assert status == "failed"  # written to disk by the next write that succeeded


def test_a_batch_is_stamped_with_the_writers_clock(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a team store the database server's clock may differ from the machine that runs the
    # workflow (and stamped its start): lines' times come from the writer, on both backends.
    import attune.ops.store.runs as runs_module

    run = store.create_run("w", None, ["w"])
    monkeypatch.setattr(runs_module.time, "time", lambda: 1_000_000_000.25)
    store.append_lines(run.id, 1, ["a", "b"])
    store.append_note(run.id, "[attune] a note")
    times = [ref[3] for ref in store.timed_chunk_refs(run.id, 0, 10)]
    assert times == [pytest.approx(1_000_000_000.25)] * 2

"""Benchmark: history search at 1,000,000 log lines (issue 12, item 25).

Seeds a store as ``bench/history.py`` does (50,000 runs x 10 lines + 500 runs x 1,000 lines by
default), builds the word index and the trigram index in bulk (what a migration would cost, with
the writer locked), and prints:

- the size of the log text, the word index and the trigram index (SQLite's ``dbstat``);
- p50 of ``Store.list_runs(q=…, limit=50)`` for a word, a common word, a prefix, a substring, a
  "quoted" phrase and a 2-character text, and the same word searches with the SQL the store
  used before the trigram index (word index only) — the before/after of a word query;
- an upgraded database: search p50 while its trigram index is still empty (runs are scanned),
  and how long the background indexer takes to fill it;
- the start-up ``quick_check`` of the file.

Usage: ``.venv/bin/python bench/search.py [--small N] [--large N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from attune.ops.store.database import Store
from attune.ops.store.indexer import SearchIndexer
from attune.ops.store.search import fts_phrase
from history import seed

T = TypeVar("T")

# The search condition of the store before migration 4: the word index for finished runs.
BEFORE_SQL = (
    "SELECT id FROM runs WHERE (id IN (SELECT c.run_id FROM run_chunks c WHERE c.id IN "
    "(SELECT rowid FROM run_chunks_fts WHERE run_chunks_fts MATCH ?)) "
    "OR (indexed = 0 AND id IN (SELECT run_id FROM run_chunks "
    "WHERE run_id IN (SELECT id FROM runs WHERE indexed = 0) AND instr(text, ?) > 0))) "
    "ORDER BY id DESC LIMIT 50"
)

QUERIES = (
    ("word", "connection"),
    ("word, in most runs", "compiled"),
    ("word with _, many hits", "module_17"),
    ("prefix", "itsdanger"),
    ("substring", "IOSFODNN"),
    ('"quoted phrase" (word index)', '"connection reset by peer"'),
    ("2 characters (scan, newest first)", "ok"),
)


def p50_ms(call: Callable[[], list[T]], repeat: int) -> tuple[float, list[T]]:
    result = call()  # warm the page cache
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def sizes(store: Store) -> dict[str, float]:
    """MB on disk of the log text, the word index and the trigram index."""
    groups = {"log text (run_chunks)": 0, "word index": 0, "trigram index": 0}
    with store.read() as conn:
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            if name.startswith("run_chunks_fts"):
                groups["word index"] += size
            elif name.startswith("run_chunks_trigram"):
                groups["trigram index"] += size
            elif name.startswith("run_chunks"):
                groups["log text (run_chunks)"] += size
    return {k: v / 1e6 for k, v in groups.items()}


def bulk_index(store: Store) -> None:
    for table in ("run_chunks_fts", "run_chunks_trigram"):
        t0 = time.monotonic()
        with store.write() as conn:
            conn.execute(f"INSERT INTO {table} (rowid, text) SELECT id, text FROM run_chunks")
        print(f"  bulk-built {table:<20} in {time.monotonic() - t0:5.1f} s")
    with store.write() as conn:
        conn.execute(
            "UPDATE runs SET indexed = 1, trigram_indexed = 1, "
            "indexed_upto = (SELECT max(id) FROM run_chunks WHERE run_id = runs.id), "
            "trigram_upto = (SELECT max(id) FROM run_chunks WHERE run_id = runs.id)"
        )


def search_table(store: Store, repeat: int, before: bool) -> None:
    for label, q in QUERIES:
        ms, runs = p50_ms(lambda q=q: store.list_runs(q=q, limit=50)[0], repeat)
        line = f"  {label:<36} q={q!r:<30} p50 {ms:8.2f} ms  ({len(runs)} runs)"
        if before and not q.startswith('"') and len(q) >= 3:
            old_ms, old = p50_ms(lambda q=q: _before(store, q), repeat)
            line += f"   before: {old_ms:7.2f} ms ({len(old)} runs)"
        print(line)


def _before(store: Store, q: str) -> list[int]:
    with store.read() as conn:
        return [int(r[0]) for r in conn.execute(BEFORE_SQL, (fts_phrase(q), q))]


def backfill(store: Store, repeat: int) -> None:
    """As after migration 4 on an existing database: an empty trigram index, filled later."""
    with store.write() as conn:
        conn.execute("INSERT INTO run_chunks_trigram (run_chunks_trigram) VALUES ('delete-all')")
        conn.execute("UPDATE runs SET trigram_indexed = 0, trigram_upto = 0")
    print("upgraded database, trigram index not built yet (finished runs are scanned):")
    for label, q in QUERIES[3:5]:
        ms, runs = p50_ms(lambda q=q: store.list_runs(q=q, limit=50)[0], max(3, repeat // 5))
        print(f"  {label:<36} q={q!r:<30} p50 {ms:8.2f} ms  ({len(runs)} runs)")
    t0 = time.monotonic()
    SearchIndexer(store, lambda: False).run_pending()
    left = len(store.unindexed_finished_runs())
    print(f"  the background indexer filled it in {time.monotonic() - t0:.1f} s ({left} runs left)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=50_000)
    parser.add_argument("--large", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="attune-search-") as tmp:
        db = Path(tmp) / "ops.db"
        seed(db, args.small, args.large, index=False)
        store = Store(db)
        try:
            bulk_index(store)
            print("on disk:")
            for name, mb in sizes(store).items():
                print(f"  {name:<24} {mb:7.1f} MB")
            print(f"Store.list_runs(q=…, limit=50), p50 of {args.repeat}:")
            search_table(store, args.repeat, before=True)
            t0 = time.monotonic()
            result = store.check_integrity(None)
            print(f"quick_check of the whole file: {result!r} in {time.monotonic() - t0:.2f} s")
            backfill(store, args.repeat)
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The store's files under fault: owner-only modes, a path that is a directory, a damaged file.

The damaged file is real: a store with many runs and big logs, closed, then some of its pages
overwritten in place (found with SQLite's ``dbstat`` table), as a disk fault would leave it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.config import Config
from attune.ops.errors import StoreUnavailable
from attune.ops.store.database import Store

SMALL_RUNS = 30
CHUNKS = 10
LINES = 100
BIG_CHUNKS = 40
BIG_LINES = 600
GARBAGE = b"\xde\xad\xbe\xef"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- modes -------------------------------------------------------------------------------------


def test_a_new_store_is_owner_only(tmp_path: Path) -> None:
    ops = tmp_path / "home" / "ops"
    store = Store(ops / "ops.db")
    try:
        store.create_run("w", None, ["w"])  # the -wal and -shm files exist now
        assert _mode(ops) == 0o700
        for name in ("ops.db", "ops.db-wal", "ops.db-shm"):
            assert _mode(ops / name) == 0o600, name
    finally:
        store.close()


def test_an_existing_store_is_tightened_at_open(tmp_path: Path) -> None:
    ops = tmp_path / "ops"
    Store(ops / "ops.db").close()
    ops.chmod(0o755)
    (ops / "ops.db").chmod(0o644)
    for name in ("ops.db-wal", "ops.db-shm"):  # left behind by a crash, readable by all
        (ops / name).write_bytes(b"")
        (ops / name).chmod(0o644)
    store = Store(ops / "ops.db")
    try:
        assert _mode(ops) == 0o700
        assert {name: _mode(ops / name) for name in ("ops.db", "ops.db-wal", "ops.db-shm")} == {
            "ops.db": 0o600,
            "ops.db-wal": 0o600,
            "ops.db-shm": 0o600,
        }
    finally:
        store.close()


def test_a_store_in_a_shared_folder_never_closes_the_folder(tmp_path: Path) -> None:
    # A database put straight into a folder like /tmp (sticky, writable by all) keeps its own
    # file owner-only but must never make the folder 0700: that would lock everyone else out.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    Store(shared / "mine.db").close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert _mode(shared / "mine.db") == 0o600
    open_to_all = tmp_path / "open"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    Store(open_to_all / "mine.db").close()
    assert stat.S_IMODE(open_to_all.stat().st_mode) == 0o777


def test_the_cost_cache_and_server_file_are_owner_only(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    from attune.ops.server_file import write_server_file
    from attune.ops.spend.cache import cache_path, read_cache, write_cache
    from attune.ops.spend.report import CostSummary

    config = make_config(port=8765)
    config.ops_dir.mkdir(parents=True, exist_ok=True)
    write_server_file(config, "token")
    assert _mode(config.ops_dir / "server.json") == 0o600
    now = datetime.now(UTC)
    zero = Decimal(0)
    days = [(now.date() - timedelta(days=30 - i), zero) for i in range(1, 31)]
    summary = CostSummary(zero, zero, zero, zero, days, [], [], now)
    fresh_home = tmp_path / "fresh-home"  # the cache may be the first file of a home
    assert write_cache(cache_path(fresh_home), summary)
    assert _mode(cache_path(fresh_home)) == 0o600
    assert _mode(cache_path(fresh_home).parent) == 0o700
    assert read_cache(cache_path(fresh_home)).summary is not None


# -- a path that cannot be a database ----------------------------------------------------------


def test_a_directory_at_the_database_path_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "ops" / "ops.db"
    db.mkdir(parents=True)
    with pytest.raises(StoreUnavailable) as err:
        Store(db)
    assert str(db) in err.value.message and "is a directory" in err.value.message
    assert "move it aside" in err.value.message
    assert db.is_dir()  # nothing of the user's is touched


def test_attune_ops_says_one_line_when_the_database_is_a_directory(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    (home / "ops" / "ops.db").mkdir(parents=True)
    project.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "attune", "ops", "--project", str(project), "--port", "0",
         "--no-browser"],
        env={**os.environ, "ATTUNE_HOME": str(home)},
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "ops.db is a directory" in lines[0] and "Traceback" not in done.stderr


# -- a partly damaged file ---------------------------------------------------------------------


@dataclass(frozen=True)
class Damaged:
    db: Path
    small: list[int]  # runs with logs of CHUNKS x LINES lines
    big: int  # a run whose log is longer than the first batch of a download


def _build(db: Path) -> tuple[list[int], int]:
    store = Store(db)
    small = []
    for i in range(SMALL_RUNS):
        run = store.create_run("w", None, ["w"])
        for k in range(CHUNKS):
            text = f"run {run.id} chunk {k} line {{}} filler text for a longer line"
            lines = [text.format(j) for j in range(LINES)]
            store.append_lines(run.id, k * LINES + 1, lines)
        store.append_lines(run.id, CHUNKS * LINES + 1, [f"unique-marker-{i:03d}"])
        store.finish_run(run.id, "succeeded", 0, 1.0)
        store.index_run(run.id)
        small.append(run.id)
    big = store.create_run("w", None, ["w"])
    for k in range(BIG_CHUNKS):
        lines = [f"big chunk {k} line {j} " + "x" * 60 for j in range(BIG_LINES)]
        store.append_lines(big.id, k * BIG_LINES + 1, lines)
    store.finish_run(big.id, "succeeded", 0, 1.0)
    store.index_run(big.id)
    store.close()
    assert not db.with_name(db.name + "-wal").exists()  # every page is in the file itself
    return small, big.id


def _overwrite(db: Path, markers: list[bytes]) -> None:
    """Overwrite, for each marker, the first page of the file holding it (a page of that log
    text: found by content, so the test never depends on how SQLite laid the rows out)."""
    conn = sqlite3.connect(db)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    data = db.read_bytes()
    with db.open("r+b") as fh:
        for marker in markers:
            at = data.index(marker)
            fh.seek(at // page_size * page_size)
            fh.write(GARBAGE * (page_size // len(GARBAGE)))


@pytest.fixture(scope="module")
def damaged_template(tmp_path_factory: pytest.TempPathFactory) -> Damaged:
    db = tmp_path_factory.mktemp("damaged") / "ops.db"
    small, big = _build(db)
    # One page in the middle of the small runs' logs, and one near the end of the big log.
    middle = small[len(small) // 2]
    _overwrite(
        db, [f"run {middle} chunk {CHUNKS // 2} line 50 ".encode(), b"big chunk 38 line 300 "]
    )
    return Damaged(db, small, big)


@pytest.fixture
def damaged(damaged_template: Damaged, tmp_path: Path) -> Damaged:
    """A fresh copy of the damaged file at the path a config of this test uses."""
    db = tmp_path / "attune-home" / "ops" / "ops.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(damaged_template.db.read_bytes())
    return Damaged(db, damaged_template.small, damaged_template.big)


def _unreadable(store: Store, run_ids: list[int]) -> dict[int, StoreUnavailable]:
    found = {}
    for run_id in run_ids:
        try:
            store.read_lines(run_id)
        except StoreUnavailable as exc:
            found[run_id] = exc
    return found


def test_a_damaged_file_is_kept_and_its_damage_recorded(damaged: Damaged) -> None:
    store = Store(damaged.db)
    try:
        assert store.moved_aside is None  # most of the history still reads
        assert store.integrity not in ("ok", "unchecked")
        assert "page" in store.integrity  # quick_check's first finding
        bad = _unreadable(store, damaged.small)
        assert 1 <= len(bad) <= 2 and len(bad) < len(damaged.small)
        for run_id, exc in bad.items():
            assert f"the log of run {run_id} cannot be read" in exc.message
            assert "attune ops doctor" in exc.message and exc.extra["run_id"] == run_id
            assert "filler" not in exc.message  # never the stored text
        healthy = next(r for r in damaged.small if r not in bad)
        assert len(store.read_lines(healthy)) == CHUNKS * LINES + 1
        assert store.get_run(healthy) is not None
        # A search that must read the damaged big log says so; one that does not, answers.
        with pytest.raises(StoreUnavailable) as err:
            store.list_runs(q="big chunk")
        assert "attune ops doctor" in err.value.message and err.value.status == 503
        marker = damaged.small.index(healthy)
        hits, _ = store.list_runs(q=f"unique-marker-{marker:03d}")
        assert [r.id for r in hits] == [healthy]
    finally:
        store.close()


def test_the_background_indexer_skips_an_unreadable_run(damaged: Damaged) -> None:
    from attune.ops.store.indexer import SearchIndexer

    store = Store(damaged.db)
    try:
        with store.write() as conn:  # as after an upgrade: everything still to index
            conn.execute("UPDATE runs SET trigram_indexed = 0, trigram_upto = 0")
            conn.execute(
                "INSERT INTO run_chunks_trigram (run_chunks_trigram) VALUES ('delete-all')"
            )
        SearchIndexer(store, lambda: False).run_pending()
        left = set(store.unindexed_finished_runs())
        assert left and left <= {damaged.big, *damaged.small}
        assert len(left) <= 3  # the runs with a damaged page, no more
    finally:
        store.close()


def test_the_start_check_is_bounded(damaged_template: Damaged, tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    _build(db)
    assert Store(db, integrity_budget_s=0).integrity == "unchecked"
    assert Store(db, integrity_budget_s=1e-9).integrity == "unchecked"
    store = Store(db)
    try:
        assert store.integrity == "ok"
        assert store.check_integrity(None) == "ok"  # what a doctor runs: no time limit
    finally:
        store.close()


async def test_the_api_answers_damage_with_a_clear_503(
    damaged: Damaged, make_app: Callable[[Config], Any], config: Config
) -> None:
    assert config.db_path == damaged.db
    app = make_app(config)
    assert app.state.services.store.integrity not in ("ok", "unchecked")
    bad = _unreadable(app.state.services.store, damaged.small)
    broken, healthy = next(iter(bad)), next(r for r in damaged.small if r not in bad)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as c:
        r = await c.get(f"/api/runs/{broken}/log")
        assert r.status_code == 503
        error = r.json()["error"]
        assert error["code"] == "store_unavailable" and error["run_id"] == broken
        assert f"run {broken}" in error["message"] and "attune ops doctor" in error["message"]
        r = await c.get(f"/api/runs/{healthy}/log?ansi=0")
        assert r.status_code == 200 and r.text.count("\n") == CHUNKS * LINES + 1
        r = await c.get("/api/runs", params={"q": "big chunk"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
        r = await c.get("/api/runs", params={"q": "unique-marker"})
        assert r.status_code == 200
        # The big log is damaged after what the first batch sends: the status line is out, so
        # the body ends with a line saying the rest could not be read (not a cut connection).
        r = await c.get(f"/api/runs/{damaged.big}/log")
        assert r.status_code == 200
        lines = r.text.splitlines()
        assert lines[0] == "big chunk 0 line 0 " + "x" * 60
        assert lines[-1].startswith("[attune] the rest of this log (after line ")
        assert "could not be read" in lines[-1] and "attune ops doctor" in lines[-1]
        assert BIG_LINES < len(lines) < BIG_CHUNKS * BIG_LINES

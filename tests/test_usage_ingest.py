"""Claude Code transcripts into the store: dedup exactly as the reference says, incremental
reading by device, inode, size and offset, truncated / replaced / deleted files, hostile lines
counted as skipped, config roots, and no content ever stored. Real files on tmp_path, a real
SQLite store, the real genai-prices data."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from attune.ops.spend.usage.ingest import Ingester
from attune.ops.spend.usage.pricing import PriceBook
from attune.ops.spend.usage.sources import Transcript, config_roots
from attune.ops.store import usage_queries as q
from attune.ops.store.database import Store
from attune.ops.store.usage import UsageStore
from tests.usage_lines import assistant, at, transcript, user, write

SECRET = "sk-ant-api03-PLANTEDSECRET-0123456789abcdefghijklmnop"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "claude-config"
    (path / "projects").mkdir(parents=True)
    return path


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test that takes it runs on both store backends (SQLite, then PostgreSQL)."""
    return any_store


def shared_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    """Another store on the same SQLite file or PostgreSQL database (a second dashboard)."""
    if backend == "sqlite":
        return Store(tmp_path / "shared.db")
    from attune.ops.store.postgres import PostgresStore

    return PostgresStore(request.getfixturevalue("postgres_url"))


def ingester(store: Store, root: Path, project: Path) -> Ingester:
    return Ingester(UsageStore(store), PriceBook(), project, roots=lambda: [root])


def totals(store: Store, where: str = "1 = 1") -> dict[str, int]:
    with store.read() as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
            "coalesce(sum(cache_creation_tokens), 0), coalesce(sum(cache_read_tokens), 0) "
            f"FROM usage_messages WHERE {where}"
        ).fetchone()
    return dict(zip(("messages", "input", "output", "creation", "read"), row, strict=True))


def test_a_response_written_as_several_lines_counts_once_with_its_largest_values(
    store: Store, root: Path, project: Path
) -> None:
    cwd = str(project)
    path = transcript(root, cwd, "s1")
    write(
        path,
        [
            user("fix the parser", ts=at(0), cwd=cwd),
            # a streamed answer: the first block carries a partial output count
            assistant("msg_A", ts=at(1), cwd=cwd, output_tokens=2, creation=90, read=1000),
            assistant("msg_A", ts=at(1.1), cwd=cwd, output_tokens=57, creation=100, read=1000),
            assistant("msg_A", ts=at(1.2), cwd=cwd, output_tokens=120, creation=100, read=900),
            assistant("msg_B", ts=at(3), cwd=cwd, output_tokens=10, request_id="req_2"),
        ],
    )
    result = ingester(store, root, project).run_once()
    assert result.rows == 4 and result.skipped == 0
    assert totals(store) == {
        "messages": 2,
        "input": 6,
        "output": 130,
        "creation": 100,
        "read": 1000,
    }


def test_a_sidechain_replay_a_subagent_copy_and_synthetic_answers_count_once_or_never(
    store: Store, root: Path, project: Path
) -> None:
    cwd = str(project)
    main = transcript(root, cwd, "s1")
    write(
        main,
        [
            assistant("msg_A", ts=at(1), cwd=cwd, output_tokens=40),
            # /btw replays the answer on a sidechain: same message id, a new request id
            assistant(
                "msg_A", ts=at(5), cwd=cwd, output_tokens=40, request_id="req_9", sidechain=True
            ),
            assistant("msg_S", ts=at(6), cwd=cwd, model="<synthetic>", output_tokens=0),
            # no message id: the request id keys it, then the line's uuid
            assistant(None, ts=at(7), cwd=cwd, request_id="req_x", output_tokens=4),
            assistant(None, ts=at(7.1), cwd=cwd, request_id="req_x", output_tokens=9),
            assistant(None, ts=at(8), cwd=cwd, request_id=None, uuid="u-only", output_tokens=1),
        ],
    )
    sub = main.parent / "s1" / "subagents" / "agent-1.jsonl"
    write(sub, [assistant("msg_A", ts=at(1), cwd=cwd, output_tokens=40, sidechain=True)])
    ingester(store, root, project).run_once()
    assert totals(store)["messages"] == 3
    assert totals(store)["output"] == 40 + 9 + 1
    with store.read() as conn:
        keys = sorted(r[0] for r in conn.execute("SELECT key FROM usage_messages"))
        sidechain = conn.execute(
            "SELECT sidechain FROM usage_messages WHERE key = 'msg_A'"
        ).fetchone()[0]
    assert keys == ["msg_A", "req:req_x", "uuid:u-only"]
    assert sidechain == 0  # seen on the main thread: not a sidechain response


def test_a_session_is_read_incrementally_and_an_unchanged_one_is_not_opened(
    store: Store, root: Path, project: Path
) -> None:
    cwd = str(project)
    path = transcript(root, cwd, "s1")
    write(path, [assistant("msg_1", ts=at(1), cwd=cwd)])
    ingest = ingester(store, root, project)
    first = ingest.run_once()
    assert first.files_read == 1 and first.bytes_read == path.stat().st_size
    assert ingest.run_once().files_read == 0  # a stat only
    before = path.stat().st_size
    write(path, [assistant("msg_2", ts=at(2), cwd=cwd, request_id="req_2")], append=True)
    second = ingest.run_once()
    assert second.bytes_read == path.stat().st_size - before  # only what was appended
    assert totals(store)["messages"] == 2
    state = UsageStore(store).files()[str(path)]
    assert (state.dev, state.inode, state.size, state.read_offset) == (
        path.stat().st_dev,
        path.stat().st_ino,
        path.stat().st_size,
        path.stat().st_size,
    )


def test_a_half_written_last_line_waits_for_its_end(
    store: Store, root: Path, project: Path
) -> None:
    cwd = str(project)
    path = transcript(root, cwd, "s1")
    line = assistant("msg_1", ts=at(1), cwd=cwd, output_tokens=77)
    write(path, [assistant("msg_0", ts=at(0), cwd=cwd), line[:60]], newline=False)
    ingest = ingester(store, root, project)
    result = ingest.run_once()
    assert result.skipped == 0 and totals(store)["messages"] == 1
    with path.open("a") as handle:
        handle.write(line[60:] + "\n")
    assert ingest.run_once().skipped == 0
    assert totals(store) == {**totals(store), "messages": 2, "output": 177}
    # complete JSON without its newline yet: counted now, and not again once the newline comes
    write(
        path, [assistant("msg_2", ts=at(2), cwd=cwd, output_tokens=5)], append=True, newline=False
    )
    ingest.run_once()
    assert totals(store)["messages"] == 3
    with path.open("a") as handle:
        handle.write("\n")
    ingest.run_once()
    assert totals(store)["messages"] == 3 and totals(store)["output"] == 182


def test_truncated_replaced_and_deleted_transcripts_never_count_a_message_twice(
    store: Store, root: Path, project: Path
) -> None:
    cwd = str(project)
    path = transcript(root, cwd, "s1")
    lines = [assistant(f"msg_{i}", ts=at(i), cwd=cwd, request_id=f"r{i}") for i in range(5)]
    write(path, lines)
    ingest = ingester(store, root, project)
    ingest.run_once()
    assert totals(store)["messages"] == 5
    write(path, lines[:2])  # truncated (smaller than the offset): read again from the start
    assert ingest.run_once().files_read == 1
    assert totals(store)["messages"] == 5  # history kept, nothing doubled
    write(path, [*lines[:2], assistant("msg_9", ts=at(9), cwd=cwd, request_id="r9"), *lines[:1]])
    ingest.run_once()  # grown again past the offset, its first lines the same: read on
    assert totals(store)["messages"] == 6
    replacement = path.with_suffix(".new")
    write(replacement, [*lines, assistant("msg_10", ts=at(10), cwd=cwd, request_id="r10")])
    replacement.replace(path)  # another inode at the same path
    ingest.run_once()
    assert totals(store)["messages"] == 7
    path.unlink()  # Claude Code's 30-day clean-up
    assert ingest.run_once().gone == 1
    assert totals(store)["messages"] == 7
    assert q.usage_stats(store).gone_files == 1


def test_hostile_lines_are_skipped_and_counted_and_never_break_the_ingest(
    store: Store, root: Path, project: Path
) -> None:
    cwd = str(project)
    path = transcript(root, cwd, "s1")
    good = assistant("msg_ok", ts=at(1), cwd=cwd, output_tokens=5)
    hostile = [
        '{"type":"assistant","message":{"usage":{"input_tokens":1}',  # not JSON
        assistant("msg_n", ts=at(2), cwd=cwd, output_tokens=-4),
        assistant("msg_b", ts=at(3), cwd=cwd, input_tokens=10**9 + 1),
        assistant("msg_f", ts=at(4), cwd=cwd, read=1.5),
        assistant("msg_s", ts=at(5), cwd=cwd, creation="12"),
        assistant("msg_t", ts=at(6), cwd=cwd, output_tokens=True),
        assistant("msg_d", ts="yesterday", cwd=cwd),
        assistant("msg_m", ts=at(7), cwd=cwd, model=""),
        assistant(None, ts=at(8), cwd=cwd, request_id=None, uuid=""),
        assistant("msg_x", ts=at(9), cwd=cwd, split=(-1, 0)),
    ]
    big = assistant("msg_big", ts=at(10), cwd=cwd, text="x" * (10 << 20), output_tokens=7)
    write(path, [good, *hostile, big, "", "[1,2,3]", "null"])
    with path.open("ab") as handle:  # invalid UTF-8 in a line's content: its usage still counts
        handle.write(
            assistant("msg_u", ts=at(11), cwd=cwd, text="@@").encode().replace(b"@@", b"\xff\xfe")
            + b"\n"
        )
    ingest = ingester(store, root, project)
    result = ingest.run_once()
    assert result.skipped == len(hostile)
    assert sorted(r for r in _keys(store)) == ["msg_big", "msg_ok", "msg_u"]
    stats = q.usage_stats(store)
    assert stats.skipped_lines == len(hostile) and stats.last_skip
    assert ingest.run_once().skipped == 0  # counted once, not at every pass
    assert q.usage_stats(store).skipped_lines == len(hostile)


def test_a_fifo_and_a_symlink_are_reported_not_followed(
    store: Store, root: Path, project: Path, tmp_path: Path
) -> None:
    cwd = str(project)
    folder = transcript(root, cwd, "s1").parent
    os.mkfifo(folder / "pipe.jsonl")
    outside = tmp_path / "elsewhere.jsonl"
    write(outside, [assistant("msg_out", ts=at(1), cwd=cwd)])
    (folder / "link.jsonl").symlink_to(outside)
    write(folder / "s1.jsonl", [assistant("msg_in", ts=at(1), cwd=cwd)])
    result = ingester(store, root, project).run_once()
    assert result.unreadable == {
        str(folder / "pipe.jsonl"): "not a regular file",
        str(folder / "link.jsonl"): "a symbolic link (not followed)",
    }
    assert _keys(store) == ["msg_in"]


def test_a_transcript_gone_before_it_is_opened_is_passed_over(
    store: Store, root: Path, project: Path
) -> None:
    from attune.ops.spend.usage.ingest import IngestResult

    missing = Transcript(root / "projects" / "x" / "gone.jsonl", root, "x")
    result = IngestResult()
    assert ingester(store, root, project)._plan(missing, None, result) is None
    assert result.unreadable == {} and result.files_read == 0


def test_no_word_of_a_transcript_is_stored(
    store: Store, root: Path, project: Path, tmp_path: Path
) -> None:
    cwd = str(project)
    path = transcript(root, cwd, "s1")
    write(
        path,
        [
            user(f"my key is {SECRET}", ts=at(0), cwd=cwd),
            assistant("msg_1", ts=at(1), cwd=cwd, text=f"Found {SECRET} in .env"),
        ],
    )
    ingester(store, root, project).run_once()
    assert _keys(store) == ["msg_1"]
    if store.backend != "sqlite":  # the database's files are the server's: read every row
        with store.read() as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
            for (table,) in tables:
                rows = conn.execute(f"SELECT CAST(t AS TEXT) FROM {table} t").fetchall()
                data = " ".join(r[0] for r in rows)
                assert SECRET not in data and "Found" not in data and "my key" not in data
        return
    files = list(tmp_path.glob("ops.db*"))  # the database and its write-ahead log
    assert files
    for file in files:
        data = file.read_bytes()
        assert SECRET.encode() not in data and b"Found" not in data and b"my key" not in data


def test_two_readers_at_once_count_every_line_once(
    tmp_path: Path, root: Path, project: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    cwd = str(project)
    for s in range(6):
        lines = [
            assistant(f"msg_{s}_{i}", ts=at(i), cwd=cwd, session=f"s{s}", request_id=f"r{s}{i}")
            for i in range(300)
        ]
        write(transcript(root, cwd, f"s{s}"), [*lines, '{broken json with "usage"'])
    stores = [shared_store(backend, tmp_path, request) for _ in range(2)]
    try:
        passes = [ingester(s, root, project) for s in stores]
        threads = [threading.Thread(target=p.run_once) for p in passes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert totals(stores[0])["messages"] == 6 * 300
        assert q.usage_stats(stores[0]).skipped_lines == 6
    finally:
        for s in stores:
            s.close()


def test_config_roots_are_the_listed_folders_or_both_defaults_merged(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        (folder / "projects").mkdir(parents=True)
    listed = f"{a}, {b / 'projects'},{tmp_path / 'missing'},{a}"
    assert config_roots({"CLAUDE_CONFIG_DIR": listed}) == [a, b]
    home = tmp_path / "home"
    (home / ".claude" / "projects").mkdir(parents=True)
    (home / ".config" / "claude" / "projects").mkdir(parents=True)
    assert config_roots({"HOME": str(home)}) == [home / ".claude", home / ".config" / "claude"]
    xdg = tmp_path / "xdg"
    (xdg / "claude" / "projects").mkdir(parents=True)
    assert config_roots({"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)}) == [
        home / ".claude",
        xdg / "claude",
    ]
    assert config_roots({"HOME": str(tmp_path / "nobody")}) == []


def test_a_relative_config_folder_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cfg" / "projects").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert config_roots({"CLAUDE_CONFIG_DIR": "cfg"}) == [tmp_path / "cfg"]


def _keys(store: Store) -> list[str]:
    with store.read() as conn:
        return sorted(str(r[0]) for r in conn.execute("SELECT key FROM usage_messages"))


def test_a_quick_pass_sees_recent_and_new_transcripts_only(
    store: Store, root: Path, project: Path
) -> None:
    cwd = str(project)
    old, live = transcript(root, cwd, "old"), transcript(root, cwd, "live")
    write(old, [assistant("m_old", ts=at(1), cwd=cwd, session="old")])
    write(live, [assistant("m_live", ts=at(2), cwd=cwd, session="live")])
    long_ago = 1_700_000_000
    os.utime(old, (long_ago, long_ago))  # untouched for long: left to the full passes
    ingest = ingester(store, root, project)
    ingest.run_once()
    write(old, [assistant("m_old2", ts=at(3), cwd=cwd, session="old", request_id="r")], append=True)
    os.utime(old, (long_ago + 1, long_ago + 1))
    write(
        live, [assistant("m_live2", ts=at(4), cwd=cwd, session="live", request_id="r")], append=True
    )
    sub = live.parent / "live" / "subagents" / "agent-1.jsonl"
    write(sub, [assistant("m_agent", ts=at(5), cwd=cwd, session="live", request_id="ra")])
    fresh = transcript(root, cwd, "new")
    write(fresh, [assistant("m_new", ts=at(6), cwd=cwd, session="new", request_id="rn")])
    quick = ingest.run_hot()
    assert quick.files_read == 3  # live grew, its subagent and a new session appeared
    assert _keys(store) == ["m_agent", "m_live", "m_live2", "m_new", "m_old"]
    ingest.run_once()  # the full pass catches the old file's late line
    assert "m_old2" in _keys(store)


def test_a_quick_pass_sees_the_subagents_of_a_session_it_finds_new(
    store: Store, root: Path, project: Path
) -> None:
    cwd = str(project)
    ingest = ingester(store, root, project)
    ingest.run_once()  # nothing yet
    fresh = transcript(root, cwd, "new")
    write(fresh, [assistant("m_new", ts=at(1), cwd=cwd, session="new")])
    long_ago = 1_700_000_000
    os.utime(fresh, (long_ago, long_ago))  # copied in with an old time: not "written lately"
    sub = fresh.parent / "new" / "subagents" / "agent-1.jsonl"
    write(sub, [assistant("m_agent", ts=at(2), cwd=cwd, session="new", request_id="ra")])
    quick = ingest.run_hot()
    assert quick.files_read == 2  # not left to the next full pass, up to 20 s later
    assert _keys(store) == ["m_agent", "m_new"]


def test_a_lone_surrogate_or_a_deep_line_never_stops_a_pass(
    store: Store, root: Path, project: Path
) -> None:
    """JSON may carry ``\\ud800`` (no database takes it: stored as U+FFFD) or nest 3,000
    levels deep (a skip); the lines around them are counted and the offset moves on."""
    cwd = str(project)
    path = transcript(root, cwd, "s1")
    odd = assistant("msg_odd@@", ts=at(1), cwd=cwd, branch="b@@").replace("@@", "\\ud800")
    deep = assistant("msg_deep", ts=at(2), cwd=cwd, text="@@").replace(
        '"@@"', "[" * 3000 + "]" * 3000
    )
    write(path, [odd, deep, assistant("msg_ok", ts=at(3), cwd=cwd)])
    ingest = ingester(store, root, project)
    result = ingest.run_once()
    assert result.skipped == 1 and _keys(store) == ["msg_odd\ufffd", "msg_ok"]
    with store.read() as conn:
        branch = conn.execute("SELECT git_branch FROM usage_messages WHERE key != 'msg_ok'")
        assert branch.fetchone()[0] == "b\ufffd"
    assert ingest.run_once().files_read == 0  # read once, its offset at the end

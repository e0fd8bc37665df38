"""A big ingest pass reads transcripts in worker processes while this process writes: the
store ends up exactly as after a pass that reads every file itself (rows, roll-ups, offsets,
skipped lines), a file that changed after it was planned is read by the writer, and no worker
outlives the pass or sees a key of the caller's environment. Real files on tmp_path, real SQLite
stores, real child processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from attune.ops.spend.usage.ingest import Ingester, IngestResult
from attune.ops.spend.usage.pool import ReadTask, read_file
from attune.ops.spend.usage.pricing import PriceBook
from attune.ops.store.database import Store
from attune.ops.store.usage import UsageStore
from tests.usage_lines import assistant, at, transcript, user, write

BOOK = PriceBook()


def corpus(root: Path, cwd: str) -> None:
    """Eight sessions; responses written as several lines, one shared by two files (a
    subagent's copy), a hostile line, a long tool result, a half-written last line."""
    for n in range(8):
        lines = [user("x" * 300_000, ts=at(n * 10), cwd=cwd, session=f"s{n}")]
        for m in range(40):
            for output in (3, 50 + m, 90 + m):
                lines.append(
                    assistant(
                        f"msg_{n}_{m}",
                        ts=at(n * 10 + m / 10 + output / 10_000),
                        cwd=cwd,
                        session=f"s{n}",
                        output_tokens=output,
                        read=1000 * m,
                        request_id=f"req_{n}_{m}",
                    )
                )
        lines.append(assistant("msg_shared", ts=at(n), cwd=cwd, output_tokens=n + 1))
        lines.append('{"type":"assistant","message":{"usage":{"output_tokens":-5}}}')
        write(transcript(root, cwd, f"s{n}"), lines)
    half = transcript(root, cwd, "s0").parent / "s0" / "subagents" / "agent-1.jsonl"
    half.parent.mkdir(parents=True)
    write(half, [assistant("msg_shared", ts=at(0), cwd=cwd, output_tokens=99)], newline=False)


def ingest(tmp_path: Path, root: Path, project: Path, name: str, **kw: int) -> IngestResult:
    store = Store(tmp_path / f"{name}.db")
    try:
        usage = UsageStore(store)
        return Ingester(usage, BOOK, project, roots=lambda: [root], **kw).run_once()
    finally:
        store.close()


def dump(db: Path) -> list[list[tuple[object, ...]]]:
    store = Store(db)
    try:
        with store.read() as conn:
            return [
                conn.execute(sql).fetchall()
                for sql in (
                    "SELECT m.*, f.path FROM usage_messages m "
                    "JOIN usage_files f ON f.id = m.file_id ORDER BY key",
                    "SELECT * FROM usage_daily ORDER BY day, cwd_id, model",
                    "SELECT * FROM usage_sessions ORDER BY session_id, cwd_id",
                    "SELECT path, size, read_offset, skipped, last_skip FROM usage_files "
                    "ORDER BY path",
                )
            ]
    finally:
        store.close()


def children() -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == os.getpid():
            found.add(int(entry))
    return found


def test_workers_read_a_big_pass_and_the_store_is_as_if_read_here(
    tmp_path: Path, project: Path
) -> None:
    root = tmp_path / "claude"
    (root / "projects").mkdir(parents=True)
    corpus(root, str(project))
    before = children()
    here = ingest(tmp_path, root, project, "here", workers=0)
    pooled = ingest(tmp_path, root, project, "pooled", workers=2, pool_min_bytes=0)
    assert here.files_read_by_workers == 0
    assert pooled.files_read_by_workers == pooled.files_read == 9
    for field in ("files_read", "bytes_read", "rows", "skipped", "transcripts"):
        assert getattr(pooled, field) == getattr(here, field), field
    assert here.skipped == 8 and here.rows == 8 * 121 + 1
    assert dump(tmp_path / "pooled.db") == dump(tmp_path / "here.db")
    assert children() == before  # every worker stopped with the pass


def test_a_file_rewritten_after_it_was_planned_is_left_to_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    write(path, [assistant("msg_1", ts=at(0), cwd="/p")])
    info = os.stat(path)
    task = ReadTask(str(path), info.st_dev, info.st_ino, 0, "s", info.st_size)
    read = read_file(task)
    assert read is not None and [len(c.rows) for c in read.chunks] == [1]
    replaced = tmp_path / "new.jsonl"
    write(replaced, [assistant("msg_2", ts=at(1), cwd="/p")])
    replaced.replace(path)  # another inode under the same name
    assert read_file(task) is None
    moved = ReadTask(str(path), os.stat(path).st_dev, os.stat(path).st_ino, 7, "s", 1)
    assert read_file(moved) is None  # the byte before the offset is no longer a newline
    path.unlink()
    assert read_file(task) is None


def test_a_reader_process_gets_no_key_of_the_callers_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from attune.ops.spend.usage.pool import _child_env

    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", "sk-ant-admin01-planted")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_planted")
    env = _child_env("/opt/attune/src")
    assert env["PYTHONPATH"] == "/opt/attune/src" and env.get("PATH") == os.environ["PATH"]
    assert "planted" not in repr(env)


def test_a_reader_that_does_not_exit_is_killed_at_the_deadline() -> None:
    import subprocess
    import time

    from attune.ops.spend.usage.pool import _Worker

    worker = _Worker()
    worker.close(time.monotonic() + 5)  # a real one exits as soon as its input closes
    assert worker.proc.returncode == 0
    stuck = _Worker()
    stuck.stop()
    stuck.proc.wait()
    assert stuck.proc.stdout is not None
    stuck.proc.stdout.close()
    stuck.proc = subprocess.Popen(  # one that ignores its input and holds its stdout open
        ["sleep", "60"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    started = time.monotonic()
    stuck.close(started + 0.3)
    assert time.monotonic() - started < 5 and stuck.proc.returncode == -9

"""The transcript reader at every block boundary: lines split across blocks, a block that
starts or ends exactly on a newline, a line longer than several blocks, a line over the size
bound passed over, a half-written tail — each gives what parsing the lines one by one gives.
Real files on tmp_path; the block and line bounds made small so every case is crossed."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from attune.ops.spend.usage import reader
from attune.ops.spend.usage.lines import parse_line
from attune.ops.store.usage_rows import MessageRow, merge
from tests.usage_lines import assistant, at, user


def lines_for(seed: int) -> list[str]:
    """Assistant lines (some of one response), user lines and blank ones, of mixed lengths."""
    rng = random.Random(seed)
    out = []
    for n in range(60):
        text = "w" * rng.choice([0, 1, 5, 40, 200, 900])
        if rng.random() < 0.3:
            out.append(user(text, ts=at(n), cwd="/p"))
        elif rng.random() < 0.05:
            out.append("")
        else:
            out.append(
                assistant(
                    f"msg_{rng.randrange(25)}", ts=at(n), cwd="/p", text=text, output_tokens=n
                )
            )
    return out


def expected(lines: list[str]) -> dict[str, MessageRow]:
    rows: dict[str, MessageRow] = {}
    for line in lines:
        row = parse_line(line.encode(), "hint", "")
        if isinstance(row, MessageRow):
            rows[row.key] = merge(rows[row.key], row) if row.key in rows else row
    return rows


def read_all(path: Path, start: int = 0) -> tuple[dict[str, MessageRow], int, int]:
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = list(reader.read_chunks(fd, start, "hint", chunk_bytes=3000))
    finally:
        os.close(fd)
    rows: dict[str, MessageRow] = {}
    for chunk in chunks:
        for row in chunk.rows:
            rows[row.key] = merge(rows[row.key], row) if row.key in rows else row
    return rows, chunks[-1].offset, sum(c.skipped for c in chunks)


@pytest.mark.parametrize("block", [1, 7, 64, 333, 4096])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_block_size_reads_what_line_by_line_parsing_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, seed: int
) -> None:
    monkeypatch.setattr(reader, "BLOCK", block)
    lines = lines_for(seed)
    path = tmp_path / "t.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    rows, offset, skipped = read_all(path)
    assert rows == expected(lines) and rows
    assert offset == path.stat().st_size and skipped == 0


@pytest.mark.parametrize("block", [5, 64, 1000])
def test_a_line_over_the_bound_is_skipped_and_its_neighbours_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(reader, "BLOCK", block)
    monkeypatch.setattr(reader, "MAX_LINE", 2000)
    before = assistant("msg_a", ts=at(1), cwd="/p", output_tokens=1)
    huge = assistant("msg_huge", ts=at(2), cwd="/p", text="x" * 5000)
    after = assistant("msg_b", ts=at(3), cwd="/p", output_tokens=2, text='"usage" ' * 10)
    path = tmp_path / "t.jsonl"
    path.write_text(f"{before}\n{huge}\n{after}\n")
    rows, offset, skipped = read_all(path)
    assert sorted(rows) == ["msg_a", "msg_b"] and skipped == 1
    assert offset == path.stat().st_size


@pytest.mark.parametrize("block", [3, 50, 4096])
def test_a_half_written_tail_is_counted_but_the_offset_stays_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(reader, "BLOCK", block)
    done = assistant("msg_a", ts=at(1), cwd="/p")
    tail = assistant("msg_tail", ts=at(2), cwd="/p")
    path = tmp_path / "t.jsonl"
    path.write_text(f"{done}\n{tail}")
    rows, offset, _ = read_all(path)
    assert sorted(rows) == ["msg_a", "msg_tail"] and offset == len(done) + 1
    rows, offset, _ = read_all(path, offset)  # the next pass starts at the tail again
    assert sorted(rows) == ["msg_tail"] and offset == len(done) + 1

"""The benchmark's own parts: the workload, the SSE byte counter, the resuming client, the report.

They decide what ``bench/compare.py`` prints as "lines received" and "met"/"MISSED", so a
miscount here would be a wrong figure in docs/performance.md. No timing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.append(str(BENCH))  # after everything else: bench/ must shadow nothing

from _gen_lines import count_from  # noqa: E402
from _report import render  # noqa: E402
from _stream import read_stream, scan  # noqa: E402


def _ours_frames(n: int, per_frame: int) -> bytes:
    out = b""
    for first in range(1, n + 1, per_frame):
        lines = [f"BENCHLN {i:07d} x" for i in range(first, min(first + per_frame, n + 1))]
        data = json.dumps({"first": first, "lines": lines})
        out += f"event: lines\nid: {first + len(lines) - 1}\ndata: {data}\n\n".encode()
    return out + b": keep-alive\n\nevent: done\ndata: {}\n\n"


def _reference_frames(n: int) -> bytes:
    body = b"".join(b'event: line\ndata: "BENCHLN %07d x"\n\n' % i for i in range(1, n + 1))
    return b'event: line\ndata: "$ python gen"\n\n' + body + b"event: done\ndata: {}\n\n"


@pytest.mark.parametrize("payload", [_ours_frames(40, 7), _reference_frames(40)])
def test_scan_counts_every_marker_once_whatever_the_read_sizes(payload: bytes) -> None:
    for size in range(1, 80):
        tail, total, done = b"", 0, False
        for at in range(0, len(payload), size):
            tail, found, saw_done, _ = scan(tail, payload[at : at + size])
            total += found
            done = done or saw_done
        assert (total, done) == (40, True), f"read size {size}"


def test_scan_reports_the_last_event_id_only_for_streams_that_send_ids() -> None:
    *_, last_id = scan(b"", _ours_frames(40, 7)[:-60])
    assert last_id == 40
    *_, no_id = scan(b"", _reference_frames(40))
    assert no_id is None


def test_generator_prints_the_numbered_lines_asked_for(tmp_path: Path) -> None:
    gen = str(BENCH / "_gen_lines.py")
    for args, n in ((["2500"], 2500), (["n9000"], 9000), (["--path", str(tmp_path / "n3")], 3)):
        out = subprocess.run(
            [sys.executable, gen, *args], capture_output=True, check=True, timeout=30
        ).stdout.splitlines()
        assert len(out) == n
        assert out[0].startswith(b"BENCHLN 0000001 ")
        assert out[-1].startswith(b"BENCHLN %07d " % n)
        assert all(line.count(b"BENCHLN ") == 1 for line in out)
    assert count_from(["--path", "/x/proj/n100000/"]) == 100_000


async def _cut_then_resume_server(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: list[str | None]
) -> None:
    """First connection: lines 1..30 then close (a cut-off); reconnect: the rest after the id."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    resume = [h.split(": ", 1)[1] for h in head.split("\r\n") if h.startswith("Last-Event-ID")]
    seen.append(resume[0] if resume else None)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
    frames = _ours_frames(100, 10)
    blocks = frames.split(b"\n\n")
    if not resume:
        writer.write(b"\n\n".join(blocks[:3]) + b"\n\n")  # ids 10, 20, 30
    else:
        start = int(resume[0]) // 10
        writer.write(b"\n\n".join(blocks[start:]))
    await writer.drain()
    writer.close()


def test_stream_client_resumes_with_last_event_id_and_counts_each_line_once() -> None:
    seen: list[str | None] = []

    async def scenario() -> tuple[int, bool, int]:
        server = await asyncio.start_server(
            lambda r, w: _cut_then_resume_server(r, w, seen), "127.0.0.1", 0
        )
        port = server.sockets[0].getsockname()[1]
        async with server:
            result = await read_stream(port, "/events", time.perf_counter(), 10.0)
        return result.lines, result.done, result.resumes

    assert asyncio.run(scenario()) == (100, True, 1)
    assert seen == [None, "30"]


def test_stream_client_reports_a_close_without_ids_instead_of_retrying() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + _reference_frames(5)[:-25])  # no done
        await writer.drain()
        writer.close()

    async def scenario() -> tuple[int, bool, str | None, int]:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            result = await read_stream(port, "/stream", time.perf_counter(), 10.0)
        return result.lines, result.done, result.error, result.resumes

    assert asyncio.run(scenario()) == (5, False, "closed before done", 0)


def _cell(n: int, k: int, lines: int, done: int, median: float | None) -> dict[str, object]:
    return {
        "n": n,
        "clients": k,
        "rounds": 1,
        "min_lines": lines,
        "all_lines": lines == n,
        "done": done,
        "expected_done": k,
        "median_s": median,
        "lines_per_s": n / median if median else None,
        "server_cpu_s": None,
        "resumes": 0,
        "errors": [] if done == k else ["stalled 10 s"],
    }


def test_report_shows_missing_lines_and_judges_the_goals() -> None:
    results = {
        "machine": {
            "date": "d",
            "nproc": 2,
            "cpu": "c",
            "memory_gib": 1,
            "python": "3.11",
            "os": "linux",
            "load_avg": [0, 0, 0],
        },
        "cli": {
            "ours": {"median_s": 0.2, "min_s": 0.1, "cpu_s": 0.1, "rss_mib": 16, "samples": 4},
            "reference": {"median_s": 1.0, "min_s": 0.9, "cpu_s": 1, "rss_mib": 75, "samples": 4},
        },
        "pipe_floor": {"1000": {"median_s": 0.01, "lines_per_s": 100_000.0}},
        "stream": {
            "ours": {"1000x1": _cell(1000, 1, 1000, 1, 0.05)},
            "reference": {"1000x1": _cell(1000, 1, 400, 0, None)},
        },
    }
    text = render(results)
    assert "| 1,000 | 1 | 1,000 | 1/1 | 50.0 ms | 20,000 | 400 ✗ | 0/1 (stalled 10 s) |" in text
    assert "| wall time (median) | 200.0 ms | 1.00 s | 0.20 |" in text
    assert "- CLI start ≤ 0.15 s: 200.0 ms — MISSED" in text
    assert "N=1,000: 20 % — MISSED" in text
    assert "every line and `done` delivered at every N and K: met" in text


def _team_frame(first: int, seqs: list[int], texts: list[str] | None = None) -> bytes:
    from _team_stream import expected_line

    lines = texts if texts is not None else [expected_line(s) for s in seqs]
    data = json.dumps({"first": first, "lines": lines})
    return f"event: lines\nid: {first + len(lines) - 1}\ndata: {data}".encode()


def test_team_stream_check_counts_each_line_once_and_names_the_first_wrong_one() -> None:
    from _team_stream import Check

    good = Check()
    for frame in (_team_frame(1, [1, 2, 3]), b": keep-alive", _team_frame(4, [4, 5])):
        good.frame(frame)
    good.frame(b"event: done\ndata: {}")
    assert (good.lines, good.error, good.done) == (5, None, True)

    repeated = Check()
    repeated.frame(_team_frame(1, [1, 2]))
    repeated.frame(_team_frame(2, [2, 3]))
    assert repeated.error == "seq 2 arrived when 3 was next"

    wrong = Check()
    wrong.frame(_team_frame(1, [1, 2], ["line 0000000001 x", "line 0000000002 x"]))
    assert wrong.error is not None and wrong.error.startswith("line 1 is")


def test_team_stream_undoes_the_chunked_encoding_across_reads() -> None:
    from _team_stream import _dechunk

    buf = bytearray(b"5\r\nhello\r\n3\r")
    assert _dechunk(buf) == b"hello"
    assert _dechunk(buf) is None  # the next chunk has not fully arrived
    buf += b"\nabc\r\n0\r\n\r\n"
    assert (_dechunk(buf), _dechunk(buf)) == (b"abc", b"")

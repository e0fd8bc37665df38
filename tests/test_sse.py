"""Live run events over a real server: replay, resume, many clients, slow clients, keep-alive."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.runs.live import Frame, StreamHub, encode_done
from attune.ops.runs.stream import event_stream
from attune.ops.store.database import Store
from attune.ops.store.runs import Run
from tests.helpers import python_workflow, start_run, write_workflows


@pytest.fixture
def streaming_project(project: Path) -> Path:
    write_workflows(
        project,
        python_workflow(
            "many",
            "import sys\nsys.stdout.write(''.join(f'line {i}\\n' for i in range(1, 200001)))",
        ),
        python_workflow(
            "drip",
            "import time\nfor i in range(1, 301):\n    print(f'drip {i}', flush=True)\n"
            "    time.sleep(0.005)\n"
            'print(\'ATTUNE_REC {"kind": "open-url", "url": "https://example.com/x"}\')',
        ),
        python_workflow("hold", "import time\nprint('one', flush=True)\ntime.sleep(30)"),
        python_workflow(
            "big",
            "import sys\nsys.stdout.write(''.join(f'big line {i:08d} ' + 'z' * 50 + '\\n' "
            "for i in range(1, 600001)))",
        ),
    )
    return project


@dataclass
class Events:
    lines: list[tuple[int, str]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    recs: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] | None = None
    comments: int = 0


def parse(raw: Iterator[str], events: Events, stop_after_frames: int | None = None) -> Events:
    """Read SSE text lines into ``events`` (optionally stop after a number of line frames)."""
    kind, data, frames = "message", "", 0
    for line in raw:
        if line.startswith(":"):
            events.comments += 1
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("id: "):
            events.ids.append(int(line[4:]))
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            payload = json.loads(data)
            if kind == "lines":
                first = payload["first"]
                events.lines.extend((first + i, t) for i, t in enumerate(payload["lines"]))
                frames += 1
            elif kind == "recommendation":
                events.recs.append(payload)
            elif kind == "done":
                events.done = payload
                return events
            kind, data = "message", ""
            if stop_after_frames is not None and frames >= stop_after_frames:
                return events
    return events


def stream(url: str, headers: dict[str, str] | None = None, **kw: Any) -> Events:
    with httpx.stream("GET", url, headers=headers, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in r.headers
        return parse(r.iter_lines(), Events(), **kw)


def test_three_clients_get_200k_lines_whole_and_in_order(
    server_factory: Callable[..., Any], streaming_project: Path
) -> None:
    srv = server_factory(streaming_project)
    run_id = start_run(srv, "many")["id"]
    results: list[Events | BaseException] = []

    def client() -> None:
        try:
            results.append(stream(f"{srv.url}/api/runs/{run_id}/events"))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    expected = [(i, f"line {i}") for i in range(1, 200_001)]
    assert len(results) == 3
    for events in results:
        assert isinstance(events, Events), events
        assert events.lines == expected
        assert events.done is not None and events.done["status"] == "succeeded"
        assert events.done["line_count"] == 200_000
        assert events.ids == sorted(events.ids) and events.ids[-1] == 200_000


def test_finished_run_replays_and_resumes(
    server_factory: Callable[..., Any], streaming_project: Path
) -> None:
    srv = server_factory(streaming_project)
    run_id = start_run(srv, "drip")["id"]
    live = stream(f"{srv.url}/api/runs/{run_id}/events")
    assert [t for _, t in live.lines] == [f"drip {i}" for i in range(1, 301)]
    assert live.recs == [{"kind": "open-url", "url": "https://example.com/x"}]
    assert live.done is not None and live.done["status"] == "succeeded"
    replay = stream(f"{srv.url}/api/runs/{run_id}/events")
    assert replay.lines == live.lines and replay.recs == live.recs
    assert replay.done == live.done
    tail = stream(f"{srv.url}/api/runs/{run_id}/events?after=290")
    assert [s for s, _ in tail.lines] == list(range(291, 301)) and tail.done is not None
    by_header = stream(f"{srv.url}/api/runs/{run_id}/events", headers={"Last-Event-ID": "299"})
    assert by_header.lines == [(300, "drip 300")]


def test_resume_after_a_dropped_connection(
    server_factory: Callable[..., Any], streaming_project: Path
) -> None:
    srv = server_factory(streaming_project)
    run_id = start_run(srv, "drip")["id"]
    first = stream(f"{srv.url}/api/runs/{run_id}/events", stop_after_frames=3)
    assert first.done is None and first.ids  # dropped mid-run
    rest = stream(
        f"{srv.url}/api/runs/{run_id}/events", headers={"Last-Event-ID": str(first.ids[-1])}
    )
    seqs = [s for s, _ in first.lines + rest.lines]
    assert seqs == list(range(1, 301))  # nothing lost, nothing repeated
    assert rest.done is not None


def test_cancel_ends_the_stream_with_done(
    server_factory: Callable[..., Any], streaming_project: Path
) -> None:
    srv = server_factory(streaming_project)
    run_id = start_run(srv, "hold")["id"]
    result: list[Events] = []
    t = threading.Thread(
        target=lambda: result.append(stream(f"{srv.url}/api/runs/{run_id}/events"))
    )
    t.start()
    r = httpx.post(f"{srv.url}/api/runs/{run_id}/cancel", headers={"X-Attune-Token": srv.token})
    assert r.status_code == 202
    t.join(30)
    assert result and result[0].done is not None and result[0].done["status"] == "cancelled"
    # The last line says who cancelled, and the signal by name.
    assert result[0].lines == [
        (1, "one"),
        (2, "[attune] cancelled by a user in the dashboard; the process ended: killed by SIGTERM"),
    ]


def test_a_slow_reader_is_cut_off_and_resumes_by_id(
    server_factory: Callable[..., Any], streaming_project: Path
) -> None:
    srv = server_factory(streaming_project)
    run_id = start_run(srv, "big")["id"]
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect(("127.0.0.1", srv.port))
        sock.sendall(
            f"GET /api/runs/{run_id}/events HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode()
        )
        deadline = time.monotonic() + 60  # read nothing while the whole run streams
        while httpx.get(f"{srv.url}/api/runs/{run_id}").json()["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        received = bytearray()
        while chunk := sock.recv(1 << 20):
            received += chunk
    ids = [int(m) for m in re.findall(rb"\nid: (\d+)\n", bytes(received))]
    assert b"event: done" not in received  # it was cut off instead of buffered without bound
    assert ids and ids[-1] < 600_000
    rest = stream(f"{srv.url}/api/runs/{run_id}/events", headers={"Last-Event-ID": str(ids[-1])})
    assert rest.lines[0][0] == ids[-1] + 1 and rest.lines[-1][0] == 600_000
    assert [s for s, _ in rest.lines] == list(range(ids[-1] + 1, 600_001))
    assert rest.done is not None and rest.done["line_count"] == 600_000


# -- the hub, in process ----------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "ops.db")
    yield s
    s.close()


async def _collect(agen: Any, events: Events, limit_s: float = 5) -> Events:
    buf = b""
    async with asyncio.timeout(limit_s):
        async for chunk in agen:
            buf += chunk
    return parse(iter(buf.decode().split("\n")), events)


async def test_keepalive_while_idle_and_live_frames(store: Store) -> None:
    run = store.create_run("w", None, ["w"])
    store.append_lines(run.id, 1, ["stored"])
    hub = StreamHub()
    hub.open(run.id)
    events = Events()

    async def produce() -> None:
        await asyncio.sleep(0.2)
        store.append_lines(run.id, 2, ["live"])
        hub.publish(run.id, Frame.of_lines(2, ["live"]))
        done = store.finish_run(run.id, "succeeded", 0, 0.2)
        hub.close(run.id, Frame("done", encode_done(done)))

    task = asyncio.create_task(produce())
    await _collect(event_stream(store, hub, run.id, 0, keepalive_s=0.05), events)
    await task
    assert events.comments >= 1
    assert events.lines == [(1, "stored"), (2, "live")]
    assert events.done is not None and events.done["status"] == "succeeded"
    assert hub.subscriber_count(run.id) == 0


async def test_overlap_between_replay_and_live_is_not_repeated(store: Store) -> None:
    run = store.create_run("w", None, ["w"])
    hub = StreamHub()
    hub.open(run.id)
    store.append_lines(run.id, 1, ["a", "b"])
    sub_stream = event_stream(store, hub, run.id, 0, keepalive_s=0.05)
    first = await sub_stream.__anext__()  # replayed a, b; now subscribed
    assert b'"first":1' in first
    # a frame committed before the subscription but delivered after it, then a fresh one
    store.append_lines(run.id, 3, ["c"])
    hub.publish(run.id, Frame.of_lines(1, ["a", "b"]))
    hub.publish(run.id, Frame.of_lines(2, ["b", "c"]))  # partly sent already
    done = store.finish_run(run.id, "succeeded", 0, 0.1)
    hub.close(run.id, Frame("done", encode_done(done)))
    events = parse(iter(first.decode().split("\n")), Events())
    events = await _collect(sub_stream, events)
    assert events.lines == [(1, "a"), (2, "b"), (3, "c")]


async def test_slow_subscriber_is_cut_off_and_resumes(store: Store) -> None:
    run = store.create_run("w", None, ["w"])
    hub = StreamHub(max_bytes=4096)
    hub.open(run.id)
    sub = hub.subscribe(run.id)
    assert sub is not None
    seq = 1
    for _ in range(50):  # ~50 KB published while nobody reads
        lines = [f"x{seq + i:05d}" * 10 for i in range(10)]
        store.append_lines(run.id, seq, lines)
        hub.publish(run.id, Frame.of_lines(seq, lines))
        seq += 10
    assert sub.overflowed and await sub.next(0.01) is None  # cut off, memory released
    assert sub._bytes == 0
    done = store.finish_run(run.id, "succeeded", 0, 1.0)
    hub.close(run.id, Frame("done", encode_done(done)))
    resumed = await _collect(event_stream(store, hub, run.id, 120), Events())
    assert [s for s, _ in resumed.lines] == list(range(121, seq))
    assert resumed.done is not None


def test_done_frame_is_the_run_object() -> None:
    run = Run(1, "w", None, "succeeded", 0, ("w",), "t0", "t1", 1.0, 3, "web")
    assert encode_done(run).startswith(b"event: done\ndata: {")
    assert b"\nid:" not in encode_done(run)

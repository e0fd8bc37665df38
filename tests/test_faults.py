"""The fault suite: hostile children, crowds of flaky readers, a full disk, a hostile API.

Every test runs real processes on loopback, bounds every wait, and cleans up its processes.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import PY, pid_alive, python_workflow, start_run, wait_finished, write_workflows
from tests.sse_client import RunTranscript, aread_events, follow_run

# -- hostile children --------------------------------------------------------------------------

FLOOD_BYTES = 24 * 1024 * 1024


def test_flood_without_newlines_is_kept_whole(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    write_workflows(
        project,
        python_workflow(
            "flood",
            f"import sys\nfor _ in range({FLOOD_BYTES // 65536}):\n"
            "    sys.stdout.buffer.write(b'x' * 65536)\n",
        ),
    )
    srv = server_factory(project)
    run = start_run(srv, "flood")
    finished = wait_finished(srv, run["id"], timeout=120)
    assert finished["status"] == "succeeded"
    assert httpx.get(f"{srv.url}/healthz", timeout=10).status_code == 200
    log = httpx.get(f"{srv.url}/api/runs/{run['id']}/log", timeout=60).content
    assert log.replace(b"\n", b"") == b"x" * FLOOD_BYTES  # nothing lost, nothing invented
    assert finished["line_count"] >= 1


def test_child_that_closes_stdout_but_keeps_running(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    write_workflows(
        project,
        python_workflow(
            "closer",
            "import os, time\nprint('closing now', flush=True)\n"
            "os.close(1); os.close(2)\ntime.sleep(2)\nraise SystemExit(3)\n",
        ),
    )
    srv = server_factory(project)
    run = start_run(srv, "closer")
    time.sleep(0.8)
    assert httpx.get(f"{srv.url}/api/runs/{run['id']}").json()["status"] == "running"
    finished = wait_finished(srv, run["id"])
    # The run ends when the process does, with its real exit code, not at pipe EOF.
    assert (finished["status"], finished["exit_code"]) == ("failed", 3)
    assert finished["duration_s"] >= 1.5
    log = httpx.get(f"{srv.url}/api/runs/{run['id']}/log").text
    assert "closing now" in log


def test_grandchild_holding_the_pipe_does_not_hang_the_run(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    write_workflows(
        project,
        python_workflow(
            "forker",
            "import os, sys, time\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    time.sleep(120)\n"
            "    os._exit(0)\n"
            "print(f'grandchild {pid}', flush=True)\n",
        ),
    )
    srv = server_factory(project)
    run = start_run(srv, "forker")
    finished = wait_finished(srv, run["id"], timeout=60)
    assert finished["status"] == "succeeded"
    log = httpx.get(f"{srv.url}/api/runs/{run['id']}/log").text
    grandchild = int(log.split("grandchild ", 1)[1].split()[0])
    deadline = time.monotonic() + 10
    while pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(grandchild), "the orphaned grandchild was left running"


# -- a crowd of flaky readers ------------------------------------------------------------------

CROWD_LINES = 200_000


async def _stayer(base: str, run_id: int, delay: float) -> RunTranscript:
    await asyncio.sleep(delay)
    transcript = RunTranscript()
    async with httpx.AsyncClient(timeout=120) as client:
        async for event in aread_events(client, f"{base}/api/runs/{run_id}/events"):
            transcript.take(event)
            if event.event == "done":
                break
    return transcript


async def _flapper(base: str, run_id: int, rng: random.Random) -> RunTranscript:
    """Connects, reads a few frames, drops the connection, resumes by id; repeats."""
    transcript = RunTranscript()
    await asyncio.sleep(rng.uniform(0, 0.5))
    async with httpx.AsyncClient(timeout=120) as client:
        while transcript.done is None:
            budget = rng.randint(1, 6)
            headers = {"Last-Event-ID": str(transcript.last_seq)} if transcript.seqs else {}
            async for event in aread_events(
                client, f"{base}/api/runs/{run_id}/events", headers=headers
            ):
                transcript.take(event)
                budget -= 1
                if event.event == "done" or budget <= 0:
                    break
            await asyncio.sleep(rng.uniform(0, 0.05))
    return transcript


async def _crowd(base: str, run_id: int, seed: int) -> list[RunTranscript]:
    rng = random.Random(seed)
    tasks = []
    for i in range(50):
        if i % 2:
            tasks.append(_stayer(base, run_id, rng.uniform(0, 1.0)))
        else:
            tasks.append(_flapper(base, run_id, random.Random(rng.random())))
    return await asyncio.wait_for(asyncio.gather(*tasks), timeout=240)


def test_fifty_flaky_clients_each_get_every_line_in_order(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    write_workflows(
        project,
        python_workflow(
            "crowd",
            f"import sys\nw = sys.stdout.write\nfor i in range(1, {CROWD_LINES + 1}):\n"
            "    w(f'line {i:07d} ' + 'x' * 40 + '\\n')\n",
        ),
    )
    srv = server_factory(project)
    run = start_run(srv, "crowd")
    transcripts = asyncio.run(_crowd(srv.url, run["id"], seed=20261124))
    expected = list(range(1, CROWD_LINES + 1))
    for n, transcript in enumerate(transcripts):
        assert transcript.done is not None, f"client {n} never got done"
        assert transcript.seqs == expected, f"client {n} lost, repeated or reordered lines"
        assert transcript.lines[0].startswith("line 0000001 ")
        assert transcript.lines[-1].startswith(f"line {CROWD_LINES:07d} ")
    assert transcripts[0].done is not None and transcripts[0].done["line_count"] == CROWD_LINES


# -- a full disk -------------------------------------------------------------------------------


def _limited_server(project: Path, home: Path, log: Path, limit: int) -> ServerProcess:
    """``attune ops`` whose files may not grow past ``limit`` bytes (RLIMIT_FSIZE)."""
    from tests.conftest import free_port

    port = free_port()
    code = (
        "import resource, runpy, signal, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"sys.argv = ['attune', 'ops', '--project', {str(project)!r}, '--port', '{port}',"
        " '--no-browser']\n"
        "runpy.run_module('attune', run_name='__main__')\n"
    )
    env = {**os.environ, "ATTUNE_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    import subprocess

    with log.open("ab") as out:
        proc = subprocess.Popen(
            [PY, "-c", code],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
    srv = ServerProcess(proc, port, home, project, log, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            srv.token = httpx.get(f"{srv.url}/api/session", timeout=1).json()["token"]
            return srv
        except (httpx.HTTPError, ValueError):
            time.sleep(0.05)
    srv.kill()
    raise AssertionError(srv.output())


@pytest.fixture
def limited_server(project: Path, tmp_path: Path) -> Iterator[Callable[[int], ServerProcess]]:
    servers: list[ServerProcess] = []

    def start(limit: int) -> ServerProcess:
        srv = _limited_server(project, tmp_path / "home", tmp_path / "limited.log", limit)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.kill()


def test_full_disk_fails_the_run_clearly_and_keeps_the_database(
    limited_server: Callable[[int], ServerProcess], project: Path, tmp_path: Path
) -> None:
    write_workflows(
        project,
        python_workflow(
            "big", "import sys\nfor i in range(400000):\n    print(f'line {i} ' + 'y' * 60)\n"
        ),
    )
    srv = limited_server(3 * 1024 * 1024)
    run = start_run(srv, "big")
    transcript = follow_run(srv.url, run["id"], timeout=120)
    assert transcript.done is not None, "the stream hung instead of ending"
    assert transcript.done["status"] == "failed"
    shown = httpx.get(f"{srv.url}/api/runs/{run['id']}").json()
    assert shown["status"] == "failed"  # even when the ending itself could not be written
    assert "could not be stored" in shown["error"]
    assert httpx.get(f"{srv.url}/healthz").status_code == 200  # the server lives on
    srv.kill()
    db = tmp_path / "home" / "ops" / "ops.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs = [r[0] for r in conn.execute("SELECT last_seq FROM run_chunks ORDER BY last_seq")]
    # What was stored is a gap-free prefix of the output.
    assert seqs == sorted(seqs)


# -- a hostile Anthropic API -------------------------------------------------------------------


class HostileServer:
    """A raw TCP server on loopback that hangs, resets, or streams a gigabyte."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.stop = threading.Event()
        self.sent = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            if self.behaviour == "reset":
                conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                return
            if self.behaviour == "hang":
                self.stop.wait(30)
                return
            head = (
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                f"content-length: {1 << 30}\r\n\r\n"
            )
            conn.sendall(head.encode() + b'{"data": [')
            chunk = b'{"starting_at": "2026-01-01T00:00:00Z", "results": []},' * 1000
            try:
                while self.sent < (1 << 30) and not self.stop.is_set():
                    conn.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize(
    ("behaviour", "kind"), [("hang", "network"), ("reset", "network"), ("gigabyte", "bad_response")]
)
def test_hostile_anthropic_api_gives_a_typed_error(
    behaviour: str, kind: str, attune_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from attune.ops.spend.client import fetch_summary

    server = HostileServer(behaviour)
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", "sk-ant-admin01-" + "k" * 40)
    try:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        summary, error = fetch_summary(
            refresh=True, attune_home=attune_home, base_url=server.url, timeout=2, retry_delay=0
        )
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        server.close()
    assert summary is None
    assert error is not None and error.kind == kind, error
    assert "sk-ant-admin" not in error.message
    # Reading a gigabyte answer must stop early: peak memory grows by far less than 1 GB.
    assert (rss_after - rss_before) * 1024 < 200 * 1024 * 1024
    if behaviour == "gigabyte":
        assert server.sent < (1 << 30)


# -- a reader that stops reading ---------------------------------------------------------------


@pytest.fixture
def inprocess_server(
    make_app: Callable[[Any], Any], make_config: Callable[..., Any], project: Path
) -> Iterator[tuple[str, Any, Any]]:
    """The app served by uvicorn in a thread of this process (so a constant can be tuned)."""
    import uvicorn

    from attune.ops.cli.ops import bind_socket

    write_workflows(
        project,
        python_workflow(
            "endless", "import sys\nwhile True:\n    sys.stdout.write('z' * 200 + '\\n')\n"
        ),
    )
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    app = make_app(make_config(port=port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield base, app, server
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def test_a_reader_that_stops_reading_is_disconnected(
    inprocess_server: tuple[str, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from attune.ops.web.routes import runs as runs_routes

    monkeypatch.setattr(runs_routes, "SEND_TIMEOUT_S", 1.0)
    base, app, server = inprocess_server
    token = app.state.services.token
    run = httpx.post(
        f"{base}/api/runs", json={"workflow": "endless"}, headers={"X-Attune-Token": token}
    ).json()
    port = int(base.rsplit(":", 1)[1])
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.connect(("127.0.0.1", port))
    try:
        reader.sendall(
            f"GET /api/runs/{run['id']}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        )
        assert reader.recv(1024).startswith(b"HTTP/1.1 200")
        # A frozen tab from now on: it reads nothing while the run keeps writing. The server
        # must give up on it and free what it held for it (its request task and subscription;
        # the socket's own buffer is the kernel's, bounded, closed by TCP in time).
        tasks = server.server_state.tasks
        deadline = time.monotonic() + 20
        while tasks and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not tasks, "the stalled reader's stream is still being served"
        assert httpx.get(f"{base}/api/runs/{run['id']}").json()["status"] == "running"
    finally:
        reader.close()
        httpx.post(
            f"{base}/api/runs/{run['id']}/cancel", headers={"X-Attune-Token": token}, timeout=30
        )

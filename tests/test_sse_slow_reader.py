"""A reader that accepts nothing is let go: its connection is reset once a send waits too long.

A real ``attune ops`` process (its send bound patched from 30 s down to a few seconds), a raw
socket with a tiny receive buffer that sends its request and never reads, and a run printing
~0.5 MB/s. The kernel's buffers fill, then uvicorn's, then a send waits: the server must drop the
connection (a reset, so nothing stays queued) while a reader that reads on keeps streaming, and
its memory must stay flat meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.helpers import python_workflow, start_run, wait_until, write_workflows

BOUND_S = 3.0
# The real CLI, with the events route's send bound patched first (the product reads no env).
LAUNCH = """\
import sys
import attune.ops.web.routes.runs as runs
runs.SEND_TIMEOUT_S = float(sys.argv[1])
from attune.cli import main
sys.exit(main(sys.argv[2:]))
"""
LOUD = """\
import sys, time
end = time.monotonic() + 90
n = 0
while time.monotonic() < end:
    for _ in range(50):
        n += 1
        print(f"{n:08d} " + "x" * 92)
    sys.stdout.flush()
    time.sleep(0.01)
"""


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.token = ""


@pytest.fixture
def server(project: Path, tmp_path: Path) -> Iterator[Server]:
    """``attune ops`` with a ``BOUND_S`` send bound, in its own session, killed as a group."""
    write_workflows(project, python_workflow("loud", LOUD))
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    cli = ["ops", "--no-browser", "--project", str(project), "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(BOUND_S), *cli],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "ATTUNE_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    log.close()
    srv = Server(proc, port)
    try:

        def answers() -> bool:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                srv.token = httpx.get(f"{srv.url}/api/session", timeout=1).json()["token"]
            return bool(srv.token)

        wait_until(answers, timeout=30, message="the server did not start")
        yield srv
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def tcp_state(local_port: int, remote_port: int) -> str | None:
    """The kernel's state of a loopback TCP connection (``"01"``: established), else ``None``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.rsplit(":", 1)[1], 16) == local_port and (
            int(remote.rsplit(":", 1)[1], 16) == remote_port
        ):
            return fields[3]
    return None


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_reader_that_reads_nothing_is_reset_after_the_bound(server: Server) -> None:
    run_id = start_run(server, "loud")["id"]
    events = f"{server.url}/api/runs/{run_id}/events"
    # A reader that keeps up: it must not be the one cut.
    good = {"bytes": 0, "alive": True}

    def read_along() -> None:
        with contextlib.suppress(httpx.HTTPError), httpx.stream("GET", events, timeout=60) as r:
            for chunk in r.iter_raw():
                good["bytes"] += len(chunk)
        good["alive"] = False

    reader = threading.Thread(target=read_along, daemon=True)
    reader.start()
    rss_start = rss_kib(server.proc.pid)
    with socket.socket() as stuck:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", server.port))
        mine = stuck.getsockname()[1]
        request = f"GET /api/runs/{run_id}/events HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n"
        stuck.sendall(request.encode())
        started = time.monotonic()
        wait_until(lambda: tcp_state(server.port, mine) == "01", timeout=10)
        rss_peak = rss_start

        def let_go() -> bool:
            nonlocal rss_peak
            rss_peak = max(rss_peak, rss_kib(server.proc.pid))
            return tcp_state(server.port, mine) in (None, "07")  # gone, or CLOSE

        # Kernel buffers fill in seconds at this rate, then one send waits BOUND_S.
        wait_until(let_go, timeout=BOUND_S + 40, message="the stuck reader was never let go")
        took = time.monotonic() - started
        run = httpx.get(f"{server.url}/api/runs/{run_id}").json()
        print(
            f"stuck reader let go after {took:.1f} s (bound {BOUND_S} s); "
            f"server VmRSS {rss_start} -> peak {rss_peak} KiB"
        )
        assert run["status"] == "running"  # cut for not reading, not because the run ended
        stuck.settimeout(10)
        received = bytearray()
        with contextlib.suppress(ConnectionResetError):
            while chunk := stuck.recv(1 << 20):
                received += chunk
    assert b"event: done" not in received
    assert rss_peak - rss_start < 64 * 1024  # the queue is bounded; nothing piles up
    before = good["bytes"]
    wait_until(lambda: good["bytes"] > before, timeout=10, message="the good reader stalled")
    assert good["alive"]


def test_a_log_download_nobody_reads_is_let_go_too(server: Server) -> None:
    run_id = start_run(server, "loud")["id"]
    log = f"{server.url}/api/runs/{run_id}"
    # Enough stored log (~8 MB) to fill every buffer between the server and the socket.
    wait_until(lambda: httpx.get(log).json()["line_count"] > 80_000, timeout=60)
    with socket.socket() as stuck:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", server.port))
        mine = stuck.getsockname()[1]
        request = f"GET /api/runs/{run_id}/log HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n"
        stuck.sendall(request.encode())
        wait_until(lambda: tcp_state(server.port, mine) == "01", timeout=10)
        wait_until(
            lambda: tcp_state(server.port, mine) in (None, "07"),
            timeout=BOUND_S + 40,
            message="the stuck download was never let go",
        )
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_abort_connection_finds_the_socket_by_its_addresses() -> None:
    from attune.ops.web.connections import abort_connection

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname()[:2])
        conn, _ = listener.accept()
        with client, conn:
            other = {"server": ("127.0.0.1", 1), "client": client.getsockname()}
            assert not abort_connection(other)  # nothing else is touched
            conn.sendall(b"still open")
            scope = {"server": conn.getsockname(), "client": conn.getpeername()}
            assert abort_connection(scope)
            with pytest.raises(BrokenPipeError):  # the server's next write fails: it closes
                conn.sendall(b"more")
            client.settimeout(5)
            assert client.recv(100) == b"still open"
            assert client.recv(100) == b""

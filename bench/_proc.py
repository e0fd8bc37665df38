"""Processes for the benchmark: timed one-shot commands and dashboard servers on loopback.

Every wait is bounded; every server runs in its own session and is killed as a group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx


class BenchError(RuntimeError):
    """A step of the benchmark could not be done (a server never answered, a run never ended)."""


@dataclass(frozen=True)
class Measured:
    """One run of a command: wall seconds (fork to exit) and the child's peak RSS in KiB."""

    wall_s: float
    max_rss_kib: int
    returncode: int
    cpu_s: float = 0.0  # user + system


TIME = Path("/usr/bin/time")  # GNU time: the peak RSS of the command alone


def run_measured(cmd: Sequence[str], env: Mapping[str, str], timeout: float = 60.0) -> Measured:
    """Run ``cmd`` once: wall seconds from here, peak RSS and CPU seconds from GNU ``time``.

    ``wait4``'s ``ru_maxrss`` would count the pages of this benchmark process copied at fork
    time, so the RSS comes from ``/usr/bin/time``, a small C program (``make bench`` installs
    Debian's ``time`` package when it is missing).
    """
    if not TIME.exists():
        raise BenchError("/usr/bin/time is missing: apt-get install -y time (make bench does)")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        full = [str(TIME), "-f", "%M %U %S", "-o", report.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.run(
            full, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=timeout, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - start
        rss, user, system = report.read().strip().splitlines()[-1].split()
    return Measured(wall, int(rss), proc.returncode, float(user) + float(system))


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bind to 0 and read it back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A dashboard process on ``127.0.0.1:port``; use as a context manager."""

    def __init__(
        self, cmd: Sequence[str], env: Mapping[str, str], port: int, log: Path, cwd: Path
    ) -> None:
        self.cmd = list(cmd)
        self.env = dict(env)
        self.port = port
        self.log = log
        self.cwd = cwd
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        """Spawn the process (own session, output to the log file)."""
        with self.log.open("ab") as out:
            self.started_at = time.perf_counter()
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, path: str = "/", timeout: float = 60.0) -> float:
        """Poll ``GET path`` until a 200; seconds from spawn to that answer."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise BenchError(f"{self.cmd[0]} exited early; see {self.log}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(self.url + path).status_code == 200:
                        return time.perf_counter() - self.started_at
                time.sleep(0.005)
        raise BenchError(f"no 200 from {self.url}{path} within {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 5 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)  # anything the server left behind

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def time_requests(url: str, count: int, warmup: int = 3, timeout: float = 30.0) -> list[float]:
    """Seconds per ``GET url`` over one keep-alive connection; every answer must be a 200."""
    times: list[float] = []
    with httpx.Client(timeout=timeout) as client:
        for i in range(warmup + count):
            start = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                raise BenchError(
                    f"GET {url} answered {response.status_code}: {response.text[:200]}"
                )
            if i >= warmup:
                times.append(elapsed)
    return times

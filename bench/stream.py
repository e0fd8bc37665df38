"""Benchmark: live run streaming over real HTTP (issue 3, item 8).

Starts a real ``attune ops`` server on a loopback port, runs a workflow that prints N lines of
60 bytes (N = 1,000,000 by default) and reads its SSE stream with 1 and then 10 clients, each a
separate process (so the figure measures the server, not one client's GIL). Prints lines/s per
client, end-to-end seconds, p50/p99 latency of a line at 100 lines/s, the server's peak RSS
and its growth, and the floor: the same generator piped into ``cat > /dev/null``.

Usage: ``.venv/bin/python bench/stream.py [--lines N] [--clients 1,10] [--slow-lines 1000]``.
Targets: ≥150,000 lines/s to one client, ≥100,000 lines/s to each of 10, p99 ≤100 ms,
server RSS growth ≤100 MB.

The clients check that seqs arrive whole and in order from the frame headers (``id:`` and
``"first"``) without decoding every line, so a client process is not the bottleneck.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve()
LINE_BYTES = 60
FIRST_RE = re.compile(rb'data: \{"first":(\d+),')
ID_RE = re.compile(rb"\nid: (\d+)\n")


# -- the workloads (run as child programs) ----------------------------------------------------


def generate(n: int) -> None:
    """Print ``n`` lines of exactly 60 bytes (newline included) as fast as possible."""
    pad = "x" * (LINE_BYTES - 1 - 10 - 6)
    out = sys.stdout.buffer
    block = 4096
    for start in range(1, n + 1, block):
        stop = min(start + block, n + 1)
        out.write("".join(f"line {i:010d} {pad}\n" for i in range(start, stop)).encode())
    out.flush()


def drip(n: int, rate: float) -> None:
    """Print ``n`` lines at ``rate`` lines/s, each stamped with the wall time it was written."""
    period = 1.0 / rate
    start = time.monotonic()
    for i in range(n):
        target = start + i * period
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sys.stdout.write(f"t={time.time():.6f} {i}\n")
        sys.stdout.flush()


# -- a client (run as a child process) --------------------------------------------------------


HEADER_RE = re.compile(rb"\nid: (\d+)\ndata: \{\"first\":(\d+),")
DONE = b"event: done"


def fast_client(url: str) -> None:
    """A raw-socket SSE reader for throughput rounds: wait for a run id on stdin, read to done.

    It does not decode lines: it checks every frame header (``id`` = last seq, ``first``) so the
    seqs must arrive whole and in order, with C-speed regex scans, so that ten of these on two
    cores measure the server rather than the clients. Like a browser's EventSource, when the
    server cuts it off (too slow) it reconnects with ``Last-Event-ID``; reconnections are
    counted. Prints one JSON result line.
    """
    run_id = sys.stdin.readline().strip()
    host, port = url.removeprefix("http://").split(":")
    state = {"expected": 1, "lines": 0, "reconnects": -1}
    while state["reconnects"] < 100:
        state["reconnects"] += 1
        result = _fast_stream(host, int(port), run_id, state)
        if result is not None:
            print(json.dumps({**result, **state}))
            return
    print(json.dumps({"ok": False, "error": "too many reconnections", **state}))


def _fast_stream(host: str, port: int, run_id: str, state: dict[str, int]) -> dict | None:
    request = (
        f"GET /api/runs/{run_id}/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Last-Event-ID: {state['expected'] - 1}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=120) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.sendall(request)
        tail = b""
        while True:
            data = sock.recv(4 << 20)
            now = time.time()
            if not data:
                return None
            buf = tail + data
            end = 0
            for match in HEADER_RE.finditer(buf):
                last, first = int(match.group(1)), int(match.group(2))
                if first != state["expected"]:
                    return {"ok": False, "error": f"gap: {state['expected']} -> {first}"}
                state["expected"] = last + 1
                state["lines"] += last - first + 1
                end = match.end()
            if DONE in buf[end:]:
                return {"ok": True, "t_done": now}
            tail = buf[max(end, len(buf) - 64) :]


def client(url: str) -> None:
    """Wait for a run id on stdin, read its events to ``done``; print a JSON result line.

    Like a browser's EventSource, a client that the server cuts off (too slow) reconnects
    with ``Last-Event-ID`` and goes on; the reconnections are counted.
    """
    run_id = sys.stdin.readline().strip()
    state = {"expected": 1, "lines": 0, "reconnects": -1}
    latencies: list[float] = []
    with httpx.Client(timeout=120) as http:
        while state["reconnects"] < 100:
            state["reconnects"] += 1
            headers = {"Last-Event-ID": str(state["expected"] - 1)}
            with http.stream("GET", f"{url}/api/runs/{run_id}/events", headers=headers) as r:
                result = _read_stream(r, state, latencies)
            if result is not None:
                print(json.dumps({**result, **state, "latencies": latencies}))
                return
    print(json.dumps({"ok": False, "error": "too many reconnections", **state}))


def _read_stream(r: httpx.Response, state: dict[str, int], latencies: list[float]) -> dict | None:
    buf = b""
    for chunk in r.iter_raw():
        now = time.time()
        buf += chunk
        *frames, buf = buf.split(b"\n\n")
        for frame in frames:
            if frame.startswith(b"event: done"):
                return {"ok": True, "t_done": now}
            if not frame.startswith(b"event: lines"):
                continue
            first = int(FIRST_RE.search(frame).group(1))  # type: ignore[union-attr]
            last = int(ID_RE.search(frame).group(1))  # type: ignore[union-attr]
            if first != state["expected"]:
                return {"ok": False, "error": f"gap: {state['expected']} -> {first}"}
            state["expected"] = last + 1
            state["lines"] += last - first + 1
            if b'"t=' in frame:
                latencies.extend(now - float(t) for t in re.findall(rb'"t=([\d.]+) ', frame))
    return None


# -- the harness --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Server:
    def __init__(self, root: Path, n: int, slow: int) -> None:
        project = root / "project"
        project.mkdir()
        py = json.dumps(sys.executable)
        me = json.dumps(str(HERE))
        (project / "attune.toml").write_text(
            f'[workflows.gen]\ncommand = [{py}, {me}, "--generate", "{n}"]\n\n'
            f'[workflows.drip]\ncommand = [{py}, {me}, "--drip", "{slow}"]\n'
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "ATTUNE_HOME": str(root / "home")}
        self.log = (root / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "attune",
                "ops",
                "--project",
                str(project),
                "--port",
                str(self.port),
                "--no-browser",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.token = httpx.get(f"{self.url}/api/session", timeout=1).json()["token"]
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)

    def start(self, workflow: str) -> int:
        r = httpx.post(
            f"{self.url}/api/runs",
            json={"workflow": workflow},
            headers={"X-Attune-Token": self.token},
            timeout=10,
        )
        r.raise_for_status()
        return int(r.json()["id"])

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()


def stream_round(
    server: Server, workflow: str, clients: int, mode: str = "--fast-client"
) -> tuple[float, list[dict]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE), mode, server.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(clients)
    ]
    time.sleep(1.0)  # let every client import httpx before the clock starts
    t0 = time.time()
    run_id = server.start(workflow)
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(f"{run_id}\n")
        p.stdin.close()
    results = []
    for p in procs:
        assert p.stdout is not None
        out = p.stdout.read()
        p.wait(600)
        results.append(json.loads(out.strip().splitlines()[-1]))
    return t0, results


def raw_pipe(n: int) -> float:
    t0 = time.monotonic()
    gen = subprocess.Popen(
        [sys.executable, str(HERE), "--generate", str(n)], stdout=subprocess.PIPE
    )
    cat = subprocess.Popen(["cat"], stdin=gen.stdout, stdout=subprocess.DEVNULL)
    assert gen.stdout is not None
    gen.stdout.close()
    gen.wait()
    cat.wait()
    return time.monotonic() - t0


def report_round(n: int, t0: float, results: list[dict]) -> None:
    rates = []
    for r in results:
        if not r.get("ok") or r["lines"] != n:
            print(f"  client FAILED: {r.get('error')} ({r.get('lines')} lines)")
            continue
        rates.append(n / (r["t_done"] - t0))
    reconnects = sum(r.get("reconnects", 0) for r in results)
    if rates:
        end = max(r["t_done"] for r in results if r.get("ok")) - t0
        print(
            f"  lines/s per client: min {min(rates):,.0f}  median "
            f"{statistics.median(rates):,.0f}  max {max(rates):,.0f}"
        )
        print(
            f"  end-to-end: {end:.2f} s for {n:,} lines x {len(results)} client(s); "
            f"{reconnects} reconnection(s) after a slow-client cut-off"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--clients", default="1,10")
    parser.add_argument("--slow-lines", type=int, default=1000)
    parser.add_argument("--profile", help="record the server with py-spy into this SVG file")
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--drip", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--fast-client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        generate(args.generate)
        return 0
    if args.drip is not None:
        drip(args.drip, 100.0)
        return 0
    if args.client:
        client(args.client)
        return 0
    if args.fast_client:
        fast_client(args.fast_client)
        return 0
    n = args.lines
    print(
        f"attune ops stream benchmark: N={n:,} lines of {LINE_BYTES} bytes, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    floor = raw_pipe(n)
    print(f"raw pipe (generator | cat > /dev/null): {floor:.2f} s = {n / floor:,.0f} lines/s")
    with tempfile.TemporaryDirectory(prefix="attune-bench-") as tmp:
        server = Server(Path(tmp), n, args.slow_lines)
        try:
            base = rss_kib(server.proc.pid)
            print(f"server RSS at start: {base / 1024:.1f} MiB")
            spy = None
            if args.profile:
                spy = subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "-p",
                        str(server.proc.pid),
                        "-o",
                        args.profile,
                        "--threads",
                        "--nonblocking",
                        "--format",
                        "raw",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            for k in (int(c) for c in args.clients.split(",")):
                print(f"{k} SSE client(s):")
                t0, results = stream_round(server, "gen", k)
                report_round(n, t0, results)
                print(
                    f"  server RSS now {rss_kib(server.proc.pid) / 1024:.1f} MiB, peak "
                    f"{rss_kib(server.proc.pid, 'VmHWM') / 1024:.1f} MiB"
                )
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            print(f"latency at 100 lines/s ({args.slow_lines} lines, 1 client):")
            _, results = stream_round(server, "drip", 1, "--client")
            lat = sorted(results[0].get("latencies", []))
            if lat:
                p50 = lat[len(lat) // 2] * 1000
                p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
                print(
                    f"  p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {lat[-1] * 1000:.1f} ms "
                    f"({len(lat)} lines)"
                )
            peak = rss_kib(server.proc.pid, "VmHWM")
            print(
                f"server peak RSS: {peak / 1024:.1f} MiB (growth {(peak - base) / 1024:.1f} MiB "
                "over the start)"
            )
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

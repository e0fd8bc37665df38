"""Benchmark: run history at scale (issue 4, item 7).

Seeds a store with 100,000 runs of 10 lines and 1,000 runs of 1,000 lines (all finished and
in both search indexes), starts a real ``attune ops`` server on it and prints p50/p99 latency
over HTTP of: ``GET /api/runs?limit=50`` (first page, and a deep cursor near the oldest runs),
``q=`` log searches (a phrase, a common word, a prefix, a substring), a filtered list (status +
workflow) and the ``/runs`` page. ``bench/search.py`` measures the search itself, store-level.

Usage: ``.venv/bin/python bench/history.py [--small N] [--large N] [--requests N]``.
Targets: list p50 ≤ 20 ms, search p50 ≤ 200 ms, page p50 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from attune.ops.store.database import Store

WORKFLOWS = ("tests", "lint", "todo-scan", "secrets-scan", "build")
STATUSES = ("succeeded", "succeeded", "succeeded", "failed", "cancelled")


def seed(db: Path, small: int, large: int, *, index: bool = True) -> None:
    """Insert runs and their output in big transactions, then (``index``) build both indexes."""
    store = Store(db)
    start = datetime.now(UTC) - timedelta(days=25)
    step = timedelta(days=24) / max(1, small + large)
    t0 = time.monotonic()
    batch: list[tuple[int, int]] = [(10, i) for i in range(small)] + [
        (1000, small + i) for i in range(large)
    ]
    count = len(batch)
    batch.sort(key=lambda item: (item[1] * 7919) % count)  # big runs spread over time
    for offset in range(0, len(batch), 5000):
        with store.write() as conn:
            for position, (lines, n) in enumerate(batch[offset : offset + 5000], start=offset):
                _insert_run(conn, n, lines, start + step * position)
    with store.write() as conn:
        conn.execute("UPDATE runs SET indexed = 0, indexed_upto = 0")
    seeded = time.monotonic() - t0
    t0 = time.monotonic()
    if index:
        with store.write() as conn:
            for table in ("run_chunks_fts", "run_chunks_trigram"):
                conn.execute(f"INSERT INTO {table} (rowid, text) SELECT id, text FROM run_chunks")
            conn.execute(
                "UPDATE runs SET indexed = 1, trigram_indexed = 1, "
                "indexed_upto = (SELECT max(id) FROM run_chunks WHERE run_id = runs.id), "
                "trigram_upto = (SELECT max(id) FROM run_chunks WHERE run_id = runs.id)"
            )
    indexed = time.monotonic() - t0
    store.close()
    size = db.stat().st_size
    print(
        f"seeded {small:,} runs x 10 lines + {large:,} runs x 1,000 lines "
        f"({small * 10 + large * 1000:,} lines) in {seeded:.1f} s"
        + (f", indexed in {indexed:.1f} s" if index else "")
        + f"; database {size / 1e6:.0f} MB"
    )


def _insert_run(conn: object, n: int, lines: int, started: datetime) -> None:
    workflow = WORKFLOWS[n % len(WORKFLOWS)]
    status = STATUSES[(n // 7) % len(STATUSES)]
    text = "\n".join(_line(n, i) for i in range(lines))
    cur = conn.execute(  # type: ignore[attr-defined]
        "INSERT INTO runs (workflow, path, status, exit_code, command, started_at, finished_at, "
        "duration_s, line_count, trigger) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'web')",
        (
            workflow,
            f"src/pkg{n % 40}",
            status,
            0 if status == "succeeded" else 1,
            json.dumps([workflow]),
            started.isoformat(timespec="milliseconds"),
            (started + timedelta(seconds=3)).isoformat(timespec="milliseconds"),
            3.0,
            lines,
        ),
    )
    conn.execute(  # type: ignore[attr-defined]
        "INSERT INTO run_chunks (run_id, first_seq, last_seq, text) VALUES (?, 1, ?, ?)",
        (cur.lastrowid, lines, text),
    )


def _line(n: int, i: int) -> str:
    if i == 3 and n % 997 == 0:
        return f"ERROR: connection reset by peer while fetching shard {n}"
    if i == 5 and n % 991 == 0:
        return f"Collecting itsdangerous==2.1.{n % 9} (from flask>=2.2)"
    if i == 7 and n % 1009 == 0:
        return f"warning: an AWS key AKIAIOSFODNN7EXAMPLE{n % 10} is in .env"
    return f"[{i:04d}] step {i} of run {n}: compiled module_{(n + i) % 300} ok in {i % 97} ms"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(client: httpx.Client, url: str, n: int) -> tuple[float, float, int]:
    """p50 and p99 in ms of ``n`` sequential GETs (after 3 warm-ups), and the last status."""
    status = 0
    for _ in range(3):
        status = client.get(url).status_code
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        status = r.status_code
    times.sort()
    return statistics.median(times), times[min(n - 1, int(n * 0.99))], status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="attune-history-") as tmp:
        root = Path(tmp)
        (root / "project").mkdir()
        home = root / "home"
        seed(home / "ops" / "ops.db", args.small, args.large)
        port = free_port()
        log = (root / "server.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "attune", "ops", "--project", str(root / "project"),
             "--port", str(port), "--no-browser", "--runs-retention-days", "0"],
            env={**os.environ, "ATTUNE_HOME": str(home)},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base, proc)
            with httpx.Client(base_url=base, timeout=30) as client:
                first = client.get("/api/runs?limit=50").json()
                total = args.small + args.large
                deep = first["runs"][-1]["id"] - (total - 200) if first["runs"] else 1
                cases = [
                    ("GET /api/runs?limit=50 (first page)", "/api/runs?limit=50", 20),
                    (
                        "GET /api/runs?limit=50&before=<deep cursor>",
                        f"/api/runs?limit=50&before={max(deep, 60)}",
                        20,
                    ),
                    (
                        "GET /api/runs?status=failed&workflow=lint&limit=50",
                        "/api/runs?status=failed&workflow=lint&limit=50",
                        20,
                    ),
                    (
                        "GET /api/runs?q=connection reset by peer (substring)",
                        "/api/runs?q=connection+reset+by+peer&limit=50",
                        200,
                    ),
                    (
                        'GET /api/runs?q="connection reset by peer" (words)',
                        "/api/runs?q=%22connection+reset+by+peer%22&limit=50",
                        200,
                    ),
                    (
                        "GET /api/runs?q=module_17 (many hits)",
                        "/api/runs?q=module_17&limit=50",
                        200,
                    ),
                    ("GET /api/runs?q=itsdanger (prefix)", "/api/runs?q=itsdanger&limit=50", 200),
                    ("GET /api/runs?q=IOSFODNN (substring)", "/api/runs?q=IOSFODNN&limit=50", 200),
                    ("GET /runs (page)", "/runs", 50),
                ]
                print(f"{args.requests} sequential requests each, over HTTP on loopback:")
                for label, url, target in cases:
                    p50, p99, status = measure(client, url, args.requests)
                    verdict = "ok" if p50 <= target else "MISSED"
                    print(
                        f"  {label:<55} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  "
                        f"(HTTP {status}; target p50 ≤ {target} ms: {verdict})"
                    )
                hits = client.get("/api/runs?q=connection+reset+by+peer&limit=200").json()
                print(f"  the search found {len(hits['runs'])} runs (expected about "
                      f"{total // 997 + 1})")  # fmt: skip
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            log.close()
    return 0


def _wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


if __name__ == "__main__":
    sys.exit(main())

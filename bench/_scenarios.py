"""The benchmark's scenarios. Each runs ours and the reference alternately, round by round,
and returns plain data (JSON-ready) that ``compare.py`` prints and saves."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from _cost_fixture import seven_day_total
from _history import seed_ours, seed_reference
from _proc import BenchError, Server, free_port, run_measured, time_requests
from _products import GEN, GEN_PYTHON, OUR_WORKFLOW, REF_WORKFLOW, Ours, Product, wait_finished
from _stream import (
    StreamRound,
    StreamSummary,
    cpu_seconds,
    read_streams,
    stream_deadline,
)

HISTORY_RUNS = 10_000


@dataclass
class Plan:
    """How much to measure: rounds per scenario, line counts, client counts."""

    rounds: int
    stream_rounds: int
    counts: list[int]
    clients: tuple[int, ...] = (1, 10)
    requests: int = 30


def log(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _rss_mib(pid: int) -> float | None:
    """Resident memory high-water mark of a live process (``VmHWM``), MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cli_start(products: list[Product], plan: Plan) -> dict[str, Any]:
    """``attune --help``: wall seconds and the child's own peak RSS."""
    walls: dict[str, list[float]] = {p.name: [] for p in products}
    rss: dict[str, list[int]] = {p.name: [] for p in products}
    cpu: dict[str, list[float]] = {p.name: [] for p in products}
    for p in products:
        run_measured(p.cli_cmd(), p.env)  # warm the page cache and any bytecode
    for _ in range(plan.rounds * 2):
        for p in products:
            m = run_measured(p.cli_cmd(), p.env)
            if m.returncode != 0:
                raise BenchError(f"{p.name}: {p.cli_cmd()} exited {m.returncode}")
            walls[p.name].append(m.wall_s)
            rss[p.name].append(m.max_rss_kib)
            cpu[p.name].append(m.cpu_s)
    return {
        name: {
            "median_s": _median(walls[name]),
            "min_s": min(walls[name]),
            "rss_mib": _median([r / 1024 for r in rss[name]]),
            "cpu_s": _median(cpu[name]),
            "samples": len(walls[name]),
        }
        for name in walls
    }


@contextmanager
def serving(p: Product, work: Path, bench: bool = True) -> Iterator[Server]:
    """A running server of ``p`` (the bench harness for the reference when ``bench``)."""
    port = free_port()
    cmd = p.bench_server_cmd(port) if bench else p.server_cmd(port)
    log_file = work / f"{p.name}-server.log"
    with Server(cmd, p.env, port, log_file, cwd=p.box.project) as server:
        server.wait_ready("/", timeout=90)
        yield server


def server_start(products: list[Product], plan: Plan, work: Path) -> dict[str, Any]:
    """Process spawn to the first 200 of ``GET /`` with each product's real CLI."""
    times: dict[str, list[float]] = {p.name: [] for p in products}
    rss: dict[str, list[float]] = {p.name: [] for p in products}
    for _ in range(plan.rounds):
        for p in products:
            port = free_port()
            log_file = work / f"{p.name}-start.log"
            with Server(p.server_cmd(port), p.env, port, log_file, cwd=p.box.project) as server:
                times[p.name].append(server.wait_ready("/", timeout=90))
                assert server.proc is not None
                hwm = _rss_mib(server.proc.pid)
                if hwm is not None:
                    rss[p.name].append(hwm)
    return {
        name: {
            "median_s": _median(times[name]),
            "min_s": min(times[name]),
            "rss_mib": _median(rss[name]) if rss[name] else None,
            "samples": len(times[name]),
        }
        for name in times
    }


def pipe_floor(plan: Plan) -> dict[str, Any]:
    """The same generator into ``cat > /dev/null``: lines/s no dashboard can beat."""
    out: dict[str, Any] = {}
    for n in plan.counts:
        cmd = f"set -o pipefail; '{GEN_PYTHON}' '{GEN}' {n} | cat > /dev/null"
        walls = []
        for _ in range(max(3, plan.rounds)):
            start = time.perf_counter()
            subprocess.run(["bash", "-c", cmd], check=True, timeout=120)
            walls.append(time.perf_counter() - start)
        median = _median(walls)
        out[str(n)] = {"median_s": median, "lines_per_s": n / median}
    return out


def stream_once(p: Product, server: Server, n: int, clients: int) -> StreamRound:
    """Start one run of N lines and read it with ``clients`` SSE clients connected at once."""
    assert server.proc is not None
    with httpx.Client(timeout=30) as client:
        token = p.token(client, server.url)
        cpu_before = cpu_seconds(server.proc.pid)
        t0 = time.perf_counter()
        run_id = p.start_run(client, server.url, n, token)
        path = p.events_path(run_id)
        results = asyncio.run(read_streams(server.port, path, clients, t0, stream_deadline(n)))
        wait_finished(p, client, server.url, run_id, n)
        cpu_after = cpu_seconds(server.proc.pid)
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return StreamRound(results, cpu)


def streaming(products: list[Product], plan: Plan, work: Path) -> dict[str, Any]:
    """Every (N, clients) cell, ours and the reference alternating within each round."""
    cells: dict[str, dict[str, StreamSummary]] = {p.name: {} for p in products}
    with serving(products[0], work) as s0, serving(products[1], work) as s1:
        servers = {products[0].name: s0, products[1].name: s1}
        for n in plan.counts:
            for k in plan.clients:
                for _ in range(plan.stream_rounds):
                    for p in products:
                        log(f"stream {p.name}: {n:,} lines, {k} client(s)")
                        summary = cells[p.name].setdefault(f"{n}x{k}", StreamSummary(n, k))
                        summary.rounds.append(stream_once(p, servers[p.name], n, k))
    return {name: {key: s.to_json() for key, s in c.items()} for name, c in cells.items()}


def ensure_history(products: list[Product]) -> None:
    """Seed 10,000 runs into each product once (a marker file remembers it)."""
    for p in products:
        marker = p.box.home / ".bench-seeded"
        if marker.exists():
            continue
        log(f"seeding {HISTORY_RUNS:,} runs into {p.name}")
        if isinstance(p, Ours):
            seed_ours(p.box.home, p.box.project, OUR_WORKFLOW, HISTORY_RUNS)
        else:
            seed_reference(p.box.home, p.box.project, REF_WORKFLOW, HISTORY_RUNS)
        marker.touch()


def _timed_pages(
    products: list[Product], plan: Plan, work: Path, paths: dict[str, str], expect: str = ""
) -> dict[str, Any]:
    """``GET`` one path of each product, alternating; latency and server CPU per request."""
    times: dict[str, list[float]] = {p.name: [] for p in products}
    cpu: dict[str, float] = {p.name: 0.0 for p in products}
    sizes: dict[str, int] = {}
    found: dict[str, bool] = {}
    warmup = 3
    with serving(products[0], work) as s0, serving(products[1], work) as s1:
        servers = {products[0].name: s0, products[1].name: s1}
        per_round = max(1, plan.requests // plan.rounds)
        for p in products:  # the first answer warms caches
            body = httpx.get(servers[p.name].url + paths[p.name], timeout=60).text
            sizes[p.name] = len(body.encode())
            found[p.name] = expect in body
        for _ in range(plan.rounds):
            for p in products:
                server = servers[p.name]
                assert server.proc is not None
                before = cpu_seconds(server.proc.pid) or 0.0
                times[p.name] += time_requests(server.url + paths[p.name], per_round, warmup)
                cpu[p.name] += (cpu_seconds(server.proc.pid) or 0.0) - before
    return {
        name: {
            "path": paths[name],
            "median_s": _median(t),
            "p95_s": sorted(t)[max(0, int(len(t) * 0.95) - 1)],
            "cpu_per_request_s": cpu[name] / (plan.rounds * (per_round + warmup)),
            "bytes": sizes[name],
            "samples": len(t),
            "shows_expected": found[name],
        }
        for name, t in times.items()
    }


def history(products: list[Product], plan: Plan, work: Path) -> dict[str, Any]:
    """Listing runs with 10,000 stored: ours ``/api/runs?limit=50``, the reference's 20."""
    ensure_history(products)
    return _timed_pages(products, plan, work, {p.name: p.history_path for p in products})


def home(products: list[Product], plan: Plan, work: Path, fake_hits: Any) -> dict[str, Any]:
    """``GET /`` with a cached cost summary (and the 10,000 seeded runs in history)."""
    ensure_history(products)
    before = fake_hits()
    total = seven_day_total()
    out = _timed_pages(products, plan, work, {p.name: "/" for p in products}, expect=total)
    out["cost_report_fetches"] = fake_hits() - before
    out["seven_day_total"] = total
    return out

"""Benchmark: a 20,000-test JUnit report read and stored, and the Tests tab of that run.

Writes a pytest-style JUnit file of N cases (default 20,000; 2 % failing with a 30-line
traceback, 1 % skipped) and prints:

- parse + store: the time the run's end spends on it (``ReportCollector.collect``: read the
  file, parse it without entities, link failures to a 20,000-line log, store every case);
- the Tests tab's server time: ``GET /api/runs/{id}/tests`` (as the tab asks it: failed and
  errored cases, the 10 slowest, the comparison with the previous run of 20,000 tests), in
  process through the ASGI app, median and worst of 20.

Usage: ``.venv/bin/python bench/tests.py [--cases N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from attune.ops.config import build_config
from attune.ops.runs.reports import ReportCollector
from attune.ops.store.database import Store
from attune.ops.web.app import create_app

TRACE = "\n".join(f"    frame {i}: in function_{i} at tests/test_mod.py:{i}" for i in range(30))


def junit(cases: int, seed: int) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">']
    for i in range(cases):
        name = f"test_case_{i}[{i % 7}]"
        head = f'<testcase classname="tests.test_mod{i % 50}" name="{name}" '
        head += f'file="tests/test_mod{i % 50}.py" line="{i % 400 + 1}" '
        head += f'time="{(i * 37 % 1000) / 1000}"'
        if (i + seed) % 50 == 0:
            parts.append(f'{head}><failure message="assert {i} == 0">{TRACE}</failure></testcase>')
        elif i % 100 == 1:
            parts.append(f'{head}><skipped message="not today"/></testcase>')
        else:
            parts.append(f"{head}/>")
    parts.append("</testsuite></testsuites>")
    return "".join(parts).encode()


def stored_run(store: Store, root: Path, data: bytes, log_lines: int) -> tuple[int, float]:
    run = store.create_run("tests", None, ["pytest"], "web")
    lines = [f"tests/test_mod.py::test_case_{i} PASSED" for i in range(log_lines)]
    for start in range(0, len(lines), 8192):
        store.append_lines(run.id, start + 1, lines[start : start + 8192])
    report = root / "junit.xml"
    report.write_bytes(data)
    collector = ReportCollector(root, "tests", junit=report)
    started = time.perf_counter()
    collector.collect(store, run.id)
    elapsed = time.perf_counter() - started
    store.finish_run(run.id, "failed", 1, 1.0)
    return run.id, elapsed


async def tab_times(app: object, run_id: int, repeat: int) -> list[float]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    times = []
    base = f"http://127.0.0.1:{getattr(app, 'bench_port', 8765)}"
    async with httpx.AsyncClient(transport=transport, base_url=base, timeout=30) as client:
        url = f"/api/runs/{run_id}/tests?status=failed&status=error&limit=500"
        for _ in range(repeat):
            started = time.perf_counter()
            answer = await client.get(url)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        config = build_config(root, attune_home=Path(tmp) / "home")
        config.ops_dir.mkdir(parents=True, exist_ok=True)
        store = Store(config.db_path)
        first = junit(args.cases, 0)
        _, warm = stored_run(store, root, first, args.cases)
        second = junit(args.cases, 1)
        run_id, cold = stored_run(store, root, second, args.cases)
        size = len(second) / 1e6
        print(f"JUnit report: {args.cases:,} cases, {size:.1f} MB")
        print(f"parse + link + store: first run {warm:.2f} s, second run {cold:.2f} s")
        store.close()
        app = create_app(config)
        times = asyncio.run(tab_times(app, run_id, 20))
        ms = sorted(t * 1000 for t in times)
        print(
            f"Tests tab (GET /api/runs/{run_id}/tests, in process): "
            f"median {statistics.median(ms):.1f} ms, worst {ms[-1]:.1f} ms (20 requests)"
        )
        asyncio.run(app.state.services.stop())


if __name__ == "__main__":
    main()

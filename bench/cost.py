"""Benchmark the spend path: parsing, a live fetch over loopback, the cache, ``/api/cost``.

Run it with ``.venv/bin/python bench/cost.py`` (``--repeat N``). The Anthropic side is
``bench/_cost_fixture.py``'s loopback server (30 days × 7 rows grouped by description). Prints the
median of N runs for:

- ``summarise()`` of one 30-day report (pure parsing and arithmetic),
- ``fetch_summary(refresh=True)``: one live request over loopback, parse, atomic cache write,
- ``fetch_summary()`` answered by the fresh cache (no request),
- ``GET /api/cost`` in process (``httpx.ASGITransport`` against ``create_app``): cache hit,
- 20 concurrent ``GET /api/cost?refresh=1``: wall time and how many requests Anthropic saw.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _cost_fixture import FAKE_KEY, FakeAnthropic, cost_payload  # noqa: E402
from attune.ops.config import build_config  # noqa: E402
from attune.ops.spend.client import fetch_summary  # noqa: E402
from attune.ops.spend.report import summarise, window_for  # noqa: E402
from attune.ops.web.app import create_app  # noqa: E402


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def api_figures(home: Path, project: Path, repeat: int, fake: FakeAnthropic) -> None:
    app = create_app(build_config(project, attune_home=home))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as c:
        await c.get("/api/cost?refresh=1")
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            r = await c.get("/api/cost")
            times.append((time.perf_counter() - start) * 1000)
            assert r.json()["summary"]["source"] == "cache"
        print(f"GET /api/cost (cache hit, in process)      {statistics.median(times):8.2f} ms")
        before = fake.hits
        start = time.perf_counter()
        await asyncio.gather(*(c.get("/api/cost?refresh=1") for _ in range(20)))
        wall = (time.perf_counter() - start) * 1000
        print(
            f"20 concurrent GET /api/cost?refresh=1       {wall:8.2f} ms wall, "
            f"{fake.hits - before} request(s) to Anthropic"
        )
    await app.state.services.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    payload = cost_payload()
    now = datetime.now(UTC)
    rows = sum(len(b["results"]) for b in payload["data"])
    print(f"report: {len(payload['data'])} days, {rows} rows; median of {args.repeat} runs")
    parse_ms = median_ms(
        lambda: summarise(payload["data"], window_for(now), fetched_at=now), args.repeat
    )
    print(f"summarise() one 30-day report              {parse_ms:8.2f} ms")
    with tempfile.TemporaryDirectory() as tmp, FakeAnthropic() as fake:
        home, project = Path(tmp) / "home", Path(tmp) / "project"
        home.mkdir()
        project.mkdir()
        os.environ["ANTHROPIC_ADMIN_API_KEY"] = FAKE_KEY
        os.environ["ANTHROPIC_BASE_URL"] = fake.url
        live = median_ms(lambda: fetch_summary(refresh=True, attune_home=home), args.repeat)
        print(f"fetch_summary(refresh=True) over loopback  {live:8.2f} ms")
        cached = median_ms(lambda: fetch_summary(attune_home=home), args.repeat)
        print(f"fetch_summary() from the fresh cache       {cached:8.2f} ms")
        asyncio.run(api_figures(home, project, args.repeat, fake))


if __name__ == "__main__":
    main()

"""Benchmark the specs listing: 2,000 spec folders with 50 tasks each.

Run it with ``.venv/bin/python bench/specs.py`` (``--specs N`` / ``--tasks N`` to change the size,
``--http`` to also measure over a real uvicorn on a loopback port). Prints:

- cold ``GET /api/specs`` (first request of a fresh app: every file read and parsed),
- warm ``GET /api/specs`` (nothing changed: a stat per folder and per phase file, cached body),
- after one file changed (one spec re-read, the body re-encoded),
- ``detect_candidates(config)`` cold (no app: its own scan) and warm (the app's index),
- the same over HTTP with ``--http``.

In process means ``httpx.ASGITransport`` against ``create_app`` (the full middleware stack, no
socket). Targets: warm ≤ 50 ms, cold ≤ 1 s. The tree's mtimes are set one hour back, as in a
real repository: files changed in the last 2 s are re-read on every listing (coarse filesystem
timestamps could hide a second edit), which a freshly generated tree would otherwise measure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from attune.ops.config import build_config  # noqa: E402
from attune.ops.specs.candidates import detect_candidates  # noqa: E402
from attune.ops.web.app import create_app  # noqa: E402

STATUSES = ("🔄 In Progress", "Draft", "✅ Complete", "Requirements Phase", "in-progress")


def make_tree(project: Path, n_specs: int, n_tasks: int) -> None:
    """``n_specs`` docs/specs folders, each with requirements, design and ``n_tasks`` tasks."""
    root = project / "docs" / "specs"
    past = time.time() - 3600
    for i in range(n_specs):
        folder = root / f"{i:04d}-feature-{i}"
        folder.mkdir(parents=True)
        status = STATUSES[i % len(STATUSES)]
        done_upto = n_tasks if i % 4 == 0 else i % n_tasks
        lines = [f"# Tasks for feature {i}", ""]
        for t in range(n_tasks):
            mark = "x" if t < done_upto else " "
            indent = "  " if t % 5 else ""
            lines.append(f"{indent}- [{mark}] {t + 1}. Implement part {t + 1} of feature {i}")
        files = {
            "requirements.md": f"# Feature {i}\n\n**Status:** {status}\n\n## Goals\n\nText.\n",
            "design.md": f"# Design {i}\n\n```python\n- [ ] not a task\n```\n",
            "tasks.md": "\n".join(lines) + "\n",
        }
        for name, text in files.items():
            (folder / name).write_text(text)
            os.utime(folder / name, (past, past))
        os.utime(folder, (past, past))
    os.utime(root, (past, past))


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await fn()
    return (time.perf_counter() - start) * 1000


async def bench_in_process(project: Path, home: Path, rounds: int) -> None:
    config = build_config(project, attune_home=home)
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as c:

            async def listing() -> None:
                r = await c.get("/api/specs")
                r.raise_for_status()

            cold = await timed(listing)
            warm = [await timed(listing) for _ in range(rounds)]
            tasks = project / "docs" / "specs" / "0001-feature-1" / "tasks.md"
            tasks.write_text(tasks.read_text() + "- [x] one more\n")
            changed = await timed(listing)

            async def candidates() -> None:
                (await c.get("/api/specs/candidates")).raise_for_status()

            warm_cands = [await timed(candidates) for _ in range(rounds)]

            async def page() -> None:
                (await c.get("/specs")).raise_for_status()

            warm_page = [await timed(page) for _ in range(max(3, rounds // 4))]
            count = len((await c.get("/api/specs")).json()["specs"])
    finally:
        await app.state.services.stop()

    start = time.perf_counter()
    found = detect_candidates(config)
    detect_cold = (time.perf_counter() - start) * 1000

    print(f"specs listed: {count}, candidates: {len(found)}")
    print("in process (httpx.ASGITransport → create_app, full middleware):")
    print(f"  cold GET /api/specs              {cold:8.1f} ms   (target ≤ 1000 ms)")
    print(
        f"  warm GET /api/specs              {statistics.median(warm):8.1f} ms median, "
        f"{min(warm):.1f} min, {max(warm):.1f} max over {rounds}   (target ≤ 50 ms)"
    )
    print(f"  GET /api/specs after 1 change    {changed:8.1f} ms")
    print(f"  warm GET /api/specs/candidates   {statistics.median(warm_cands):8.1f} ms median")
    print(f"  warm GET /specs (HTML, all rows) {statistics.median(warm_page):8.1f} ms median")
    print(f"  detect_candidates(config), cold  {detect_cold:8.1f} ms   (no app: own scan)")


def bench_http(project: Path, home: Path, rounds: int) -> None:
    """The same listing over a real ``attune ops`` process on a free loopback port."""
    import signal
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ATTUNE_HOME": str(home)}
    cmd = [sys.executable, "-m", "attune", "ops", "--project", str(project), "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--no-browser"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        with httpx.Client(base_url=url, timeout=30) as c:
            start = time.perf_counter()
            c.get("/api/specs").raise_for_status()
            cold = (time.perf_counter() - start) * 1000
            warm = []
            for _ in range(rounds):
                start = time.perf_counter()
                c.get("/api/specs").raise_for_status()
                warm.append((time.perf_counter() - start) * 1000)
        print("over HTTP (uvicorn on 127.0.0.1, httpx client):")
        print(f"  cold GET /api/specs              {cold:8.1f} ms")
        print(f"  warm GET /api/specs              {statistics.median(warm):8.1f} ms median")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--http", action="store_true", help="also measure over a real server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="attune-bench-specs-") as tmp:
        project, home = Path(tmp) / "project", Path(tmp) / "home"
        project.mkdir()
        start = time.perf_counter()
        make_tree(project, args.specs, args.tasks)
        made = time.perf_counter() - start
        print(f"tree: {args.specs} specs x {args.tasks} tasks, written in {made:.1f} s")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work inflates figures)")
        asyncio.run(bench_in_process(project, home, args.rounds))
        if args.http:
            bench_http(project, home / "http", args.rounds)


if __name__ == "__main__":
    main()

"""Benchmark loading ``attune.toml``: 100 / 1,000 / 10,000 workflow entries, valid and broken.

Run it with ``.venv/bin/python bench/workflows.py`` (``--sizes 100,1000`` to change the sizes,
``--no-http`` to skip the server part). Prints:

- ``parse_workflows(text)`` and a cold ``WorkflowRegistry.load()`` (read, parse, validate) for
  each size, valid entries and broken ones (every entry has an unknown key and no command, so
  each error is located by file, line and key),
- over a real ``attune ops`` process on a loopback port: the ``/healthz`` latency (median and
  worst) while ``GET /api/workflows`` loads a freshly written 10,000-entry broken file, and how
  long that listing took. A dashboard that parses on its event loop answers nothing meanwhile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _proc import Server, free_port  # noqa: E402
from attune.ops.runs.workflows import WorkflowRegistry, parse_workflows  # noqa: E402


def valid_file(entries: int) -> str:
    """``entries`` valid ``[workflows.NAME]`` tables (10,000 of them stay under the 1 MiB cap)."""
    return "".join(
        f'[workflows.w{i}]\ncommand = ["make", "t{i}", "{{path}}"]\naccepts_path = true\n\n'
        for i in range(entries)
    )


def broken_file(entries: int) -> str:
    """``entries`` tables that each give two errors: an unknown key and a missing command."""
    return "".join(f'[workflows.w{i}]\ncomand = ["make", "t{i}"]\n\n' for i in range(entries))


def timed_s(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms" if seconds < 10 else f"{seconds:9.2f} s "


def bench_parse(project: Path, sizes: list[int]) -> None:
    print("entries  kind      size   parse_workflows  registry.load (cold)  workflows  errors")
    for size in sizes:
        for kind, text in (("valid", valid_file(size)), ("broken", broken_file(size))):
            parse = timed_s(parse_workflows, text, "attune.toml")
            (project / "attune.toml").write_text(text)
            registry = WorkflowRegistry(project)
            start = time.perf_counter()
            found = registry.load()
            load = time.perf_counter() - start
            print(
                f"{size:7d}  {kind:7s} {len(text) / 1024:5.0f} KiB {fmt(parse)}     {fmt(load)}"
                f"          {len(found.workflows):9d}  {len(found.errors):6d}"
            )


def _poll_health(url: str, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(timeout=600) as client:
        while not stop.is_set():
            start = time.perf_counter()
            client.get(f"{url}/healthz").raise_for_status()
            latencies.append(time.perf_counter() - start)
            time.sleep(0.01)


def bench_http(tmp: Path, entries: int) -> None:
    project, home = tmp / "http-project", tmp / "http-home"
    project.mkdir()
    port = free_port()
    cmd = [sys.executable, "-m", "attune", "ops", "--project", str(project), "--port", str(port)]
    env = {**os.environ, "ATTUNE_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    with Server([*cmd, "--no-browser"], env, port, tmp / "server.log", project) as server:
        server.wait_ready("/healthz")
        with httpx.Client(timeout=600) as client:
            client.get(f"{server.url}/api/workflows").raise_for_status()  # warm the routes
            idle: list[float] = []
            for _ in range(20):
                start = time.perf_counter()
                client.get(f"{server.url}/healthz").raise_for_status()
                idle.append(time.perf_counter() - start)
            (project / "attune.toml").write_text(broken_file(entries))
            stop, during = threading.Event(), []
            poller = threading.Thread(target=_poll_health, args=(server.url, stop, during))
            poller.start()
            time.sleep(0.05)
            start = time.perf_counter()
            body = client.get(f"{server.url}/api/workflows").json()
            listing = time.perf_counter() - start
            stop.set()
            poller.join(timeout=600)
    print(f"over HTTP (uvicorn on 127.0.0.1), {entries:,} broken entries written, then listed:")
    print(f"  GET /api/workflows (cold)        {fmt(listing)}  ({len(body['errors'])} errors)")
    print(f"  /healthz idle                    {fmt(statistics.median(idle))} median")
    if during:
        print(
            f"  /healthz during the load         {fmt(statistics.median(during))} median, "
            f"{fmt(max(during))} worst over {len(during)} requests"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--no-http", action="store_true", help="skip the real-server part")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work inflates figures)")
    with tempfile.TemporaryDirectory(prefix="attune-bench-workflows-") as name:
        tmp = Path(name)
        project = tmp / "project"
        project.mkdir()
        bench_parse(project, sizes)
        if not args.no_http:
            bench_http(tmp, max(sizes))


if __name__ == "__main__":
    main()

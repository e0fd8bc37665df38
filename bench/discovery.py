"""Benchmark zero-config workflows: the workflows page and ``GET /api/workflows`` of a project
with every task source and a Makefile of 500 targets, over a real ``attune ops`` process.

Run it with ``.venv/bin/python bench/discovery.py`` (``--targets 500 --runs 2000 --repeat 100``).
Prints, with the run history seeded with ``--runs`` finished runs over those workflows:

- ``WorkflowRegistry.load()`` in process: cold (every source read and parsed) and warm (one
  ``stat`` per watched file, nothing read);
- over HTTP on a loopback port: each answer cold (the Makefile touched before each request, so
  every source is read and parsed again, as after an edit) and warm (nothing changed), as
  median, p90 and worst. The issue's bound: cold ≤ 200 ms, warm p50 ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from tests.discovery_trees import write_all_sources  # noqa: E402

from _proc import Server, free_port  # noqa: E402
from attune.ops.runs.workflows import WorkflowRegistry  # noqa: E402
from attune.ops.store.database import Store  # noqa: E402
from attune.ops.store.runs import RunStatus  # noqa: E402


def build_project(root: Path, targets: int) -> None:
    write_all_sources(root)
    rules = "".join(f"target-{i}: ## target number {i}\n\t@echo {i}\n" for i in range(targets))
    (root / "Makefile").write_text(".PHONY: all\nall: ## everything\n\t@true\n" + rules)


def seed_runs(db: Path, names: list[str], count: int) -> None:
    store = Store(db)
    try:
        for i in range(count):
            run = store.create_run(names[i % len(names)], None, ["make", "x"], "web")
            status = RunStatus.SUCCEEDED if i % 5 else RunStatus.FAILED
            store.finish_run(run.id, status, 0 if i % 5 else 1, 0.01 * (i % 50), None)
    finally:
        store.close()


def figures(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   worst {ms[-1]:7.1f} ms"


def touch(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def in_process(root: Path, repeat: int) -> None:
    cold = []
    for _ in range(repeat):
        started = time.perf_counter()
        found = WorkflowRegistry(root).load()
        cold.append(time.perf_counter() - started)
    registry = WorkflowRegistry(root)
    registry.load()
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        registry.load()
        warm.append(time.perf_counter() - started)
    print(f"{len(found.workflows)} workflows, {len(found.errors)} error(s) in the files")
    print(f"  registry load, cold   {figures(cold)}")
    print(f"  registry load, warm   {figures(warm)}")


def over_http(root: Path, home: Path, repeat: int) -> None:
    port = free_port()
    env = {**os.environ, "ATTUNE_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "attune", "ops", "--project", str(root), "--port", str(port)]
    server = Server([*cmd, "--no-browser"], env, port, home / "server.log", root)
    server.start()
    try:
        server.wait_ready("/healthz")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for path in ("/api/workflows", "/workflows"):
                cold, warm = [], []
                for _ in range(repeat):
                    touch(root / "Makefile")
                    started = time.perf_counter()
                    assert client.get(path).status_code == 200
                    cold.append(time.perf_counter() - started)
                for _ in range(repeat):
                    started = time.perf_counter()
                    answer = client.get(path)
                    warm.append(time.perf_counter() - started)
                size = len(answer.content) / 1024
                print(f"  GET {path:<15} cold {figures(cold)}")
                print(f"  GET {path:<15} warm {figures(warm)}   ({size:,.0f} KiB)")
    finally:
        if server.proc is not None:
            os.killpg(server.proc.pid, 9)
            server.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=500)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="attune-bench-discovery-") as tmp:
        root, home = Path(tmp) / "project", Path(tmp) / "home"
        build_project(root, args.targets)
        names = sorted(WorkflowRegistry(root).load().names())
        seed_runs(home / "ops" / "ops.db", names, args.runs)
        print(f"project: every source, a Makefile of {args.targets + 1} targets, {args.runs} runs")
        in_process(root, args.repeat)
        over_http(root, home, args.repeat)


if __name__ == "__main__":
    main()

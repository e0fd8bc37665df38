"""Benchmark: team mode, SQLite beside PostgreSQL (issue 16's benchmark).

For each backend it seeds bench/history.py's history (100,000 runs of 10 lines and 1,000 of
1,000 lines, with a host and a user on each run), starts real ``attune ops`` processes over
HTTP on loopback and measures:

1. the history list: p50/p99 of ``GET /api/runs?limit=50`` (first page, a deep cursor page,
   ``status=failed&workflow=lint``, ``host=…``, ``user=…``) and of the ``/runs`` page;
2. log search over the seeded lines (2,000,000 by default): p50/p99 of ``q=`` as a substring,
   "quoted words", a many-hits text, a prefix and a 2-character scan;
3. a live stream: dashboard A runs a workflow printing ``--lines`` numbered lines as fast as it
   can; a client of dashboard B (another process, another ``ATTUNE_HOME`` and ``ATTUNE_HOST``,
   the same database) reads ``GET /api/runs/{id}/events`` and checks every line until ``done``.
   On SQLite, B is a second dashboard on the same home, which follows the run through the
   store too.

PostgreSQL is a throwaway PostgreSQL cluster on this machine (tests/postgres_cluster.py), run
twice: with the tests' settings (fsync, synchronous_commit and full_page_writes off: a commit
does not wait for the disk, and a crash may lose or corrupt data) and with PostgreSQL's
durable defaults (``--no-durable`` skips that column).

Usage: ``.venv/bin/python bench/team.py [--small N] [--large N] [--lines N] [--requests N]``
(``make bench-team ARGS=…``). Targets: list, filters and pages p50 ≤ 20 ms (the page 50 ms, as
in bench/history.py), search p50 ≤ 200 ms, stream ≥ 100,000 lines/s with every line.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from _proc import Server, free_port
from _team_explain import explain_case
from _team_report import Result, print_table, stream_row
from _team_seed import HOSTS, USERS, seed_postgres, seed_sqlite
from _team_stream import __file__ as STREAM_CLIENT
from history import measure

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "bench" / "stream.py"
BACKENDS = ("sqlite", "pg-fast", "pg-durable")
FSYNC_NOTE = """
PostgreSQL fsync off is the tests' cluster (tests/postgres_cluster.py): fsync, synchronous_commit
and full_page_writes off, so a COMMIT returns before its WAL reaches the disk and a crash of the
machine may lose or corrupt the database. Only writes feel it (the seeding and the live run's
batches of lines); reads come from memory either way. PostgreSQL fsync on keeps the defaults.
SQLite runs as the store always does: WAL with synchronous = NORMAL (a commit does not fsync)."""


def _postgres_cluster_module() -> Any:
    """tests/postgres_cluster.py (by path: bench/tests.py would shadow the tests folder)."""
    spec = importlib.util.spec_from_file_location(
        "postgres_cluster", ROOT / "tests" / "postgres_cluster.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def list_cases(first_id: int, total: int) -> list[tuple[str, str, float]]:
    deep = max(first_id - (total - 200), 60)
    return [
        ("list: first page", "/api/runs?limit=50", 20),
        ("list: deep cursor page", f"/api/runs?limit=50&before={deep}", 20),
        ("list: status=failed&workflow=lint", "/api/runs?status=failed&workflow=lint&limit=50", 20),
        (f"list: host={HOSTS[1]}", f"/api/runs?host={HOSTS[1]}&limit=50", 20),
        (f"list: user={USERS[2]}", f"/api/runs?user={USERS[2]}&limit=50", 20),
        ("page: /runs", "/runs", 50),
    ]


SEARCH_CASES = [
    ("search: connection reset by peer", "/api/runs?q=connection+reset+by+peer&limit=50", 200),
    ('search: "connection reset by peer"', "/api/runs?q=%22connection+reset+by+peer%22&limit=50",
     200),
    ("search: module_17 (many hits)", "/api/runs?q=module_17&limit=50", 200),
    ("search: itsdanger (prefix)", "/api/runs?q=itsdanger&limit=50", 200),
    ("search: IOSFODNN (substring)", "/api/runs?q=IOSFODNN&limit=50", 200),
    ("search: 'ok' (2-char scan)", "/api/runs?q=ok&limit=50", 200),
]  # fmt: skip


@contextlib.contextmanager
def database(
    backend: str, root: Path, args: argparse.Namespace
) -> Iterator[tuple[dict[str, str], Path | None]]:
    """The seeded store of ``backend``: yields the environment a dashboard needs for it and
    the PostgreSQL cluster's data folder (``None`` for SQLite)."""
    if backend == "sqlite":
        seed_sqlite(root / "home-a" / "ops" / "ops.db", args.small, args.large)
        yield {}, None
        return
    clusters = _postgres_cluster_module()
    with clusters.running_cluster(durable=backend == "pg-durable") as cluster:
        cluster.create_database("team")
        url = cluster.url("team")
        seed_postgres(url, args.small, args.large)
        yield {"ATTUNE_DATABASE_URL": url}, cluster.data_dir


def dashboard(root: Path, name: str, home: str, env: dict[str, str]) -> Server:
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k != "ATTUNE_DATABASE_URL"}
    full = {
        **base, **env, "ATTUNE_HOME": str(root / home), "ATTUNE_HOST": f"bench-{name}",
        "HOME": str(root / "user-home"),  # no Claude Code transcripts to ingest meanwhile
    }  # fmt: skip
    cmd = [sys.executable, "-m", "attune", "ops", "--project", str(root / "project"),
           "--port", str(port), "--no-browser", "--runs-retention-days", "0"]  # fmt: skip
    server = Server(cmd, full, port, root / f"server-{name}.log", root)
    server.start()
    server.wait_ready("/healthz", timeout=120)
    return server


def measure_http(server: Server, args: argparse.Namespace, out: dict[str, Result]) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        first = client.get("/api/runs?limit=50").json()["runs"]
        cases = list_cases(first[0]["id"] if first else 1, args.small + args.large)
        for label, url, target in cases + SEARCH_CASES:
            n = args.requests if label.startswith(("list", "page")) else args.search_requests
            p50, p99, status = measure(client, url, n)
            found = len(client.get(url).json()["runs"]) if url.startswith("/api") else None
            out[label] = Result(p50, p99, target, status, found)
            print(f"    {label:<36} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  (HTTP {status})",
                  flush=True)  # fmt: skip
            database_url = server.env.get("ATTUNE_DATABASE_URL")
            wanted = args.explain == "all" or (args.explain == "missed" and p50 > target)
            if database_url and wanted and url.startswith("/api"):
                plan = explain_case(database_url, url)
                print("      " + plan.replace("\n", "\n      "), flush=True)


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s(data_dir: Path | None) -> float:
    """CPU seconds of the cluster's postmaster and every backend it forked (alive now)."""
    if data_dir is None:
        return 0.0
    with contextlib.suppress(OSError, ValueError):
        root = int((data_dir / "postmaster.pid").read_text().split()[0])
        total = cpu_s(root)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == root:
                    total += cpu_s(int(stat.parent.name))
        return total
    return 0.0


def stream(
    a: Server, b: Server, n: int, profile: Path | None, data_dir: Path | None
) -> dict[str, Any]:
    """One run of ``n`` lines on A, read from B; what the client saw and the servers spent."""
    token = httpx.get(f"{a.url}/api/session", timeout=10).json()["token"]
    reader = subprocess.Popen(
        [sys.executable, STREAM_CLIENT, str(b.port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    spies = _spies(profile, a, b)
    assert a.proc is not None and b.proc is not None
    cpu0 = (cpu_s(a.proc.pid), cpu_s(b.proc.pid), postgres_cpu_s(data_dir))
    time.sleep(0.5)
    t0 = time.time()
    r = httpx.post(f"{a.url}/api/runs", json={"workflow": "gen"},
                   headers={"X-Attune-Token": token}, timeout=30)  # fmt: skip
    r.raise_for_status()
    run_id = int(r.json()["id"])
    try:
        out, _ = reader.communicate(f"{run_id}\n", timeout=60 + n / 2_000)
    finally:
        reader.kill()
    seen = json.loads(out.strip().splitlines()[-1])
    cpu = (
        cpu_s(a.proc.pid) - cpu0[0],
        cpu_s(b.proc.pid) - cpu0[1],
        postgres_cpu_s(data_dir) - cpu0[2],
    )
    for spy in spies:
        spy.send_signal(2)
        spy.wait(60)
    run = httpx.get(f"{a.url}/api/runs/{run_id}", timeout=10).json()
    run = run.get("run", run)
    return {**seen, "n": n, "seconds": seen["t_done"] - t0, "run_s": run.get("duration_s"),
            "status": run.get("status"), "cpu_a": cpu[0], "cpu_b": cpu[1],
            "cpu_pg": cpu[2]}  # fmt: skip


def _spies(profile: Path | None, *servers: Server) -> list[subprocess.Popen[bytes]]:
    if profile is None:
        return []
    profile.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                "py-spy",
                "record",
                "-p",
                str(s.proc.pid),
                "--nonblocking",
                "--format",
                "raw",
                "-o",
                str(profile / f"{time.strftime('%H%M%S')}-{s.env['ATTUNE_HOST']}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for s in servers
        if s.proc is not None
    ]


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Result]:
    print(f"{backend}:", flush=True)
    out: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix=f"attune-team-{backend}-") as tmp:
        root = Path(tmp)
        project = root / "project"
        project.mkdir()
        (root / "user-home").mkdir()
        cmd = [sys.executable, str(GENERATOR), "--generate", str(args.lines)]
        (project / "attune.toml").write_text(f"[workflows.gen]\ncommand = {json.dumps(cmd)}\n")
        with database(backend, root, args) as (env, data_dir):
            a = dashboard(root, "a", "home-a", env)
            try:
                measure_http(a, args, out)
                b = dashboard(root, "b", "home-a" if backend == "sqlite" else "home-b", env)
                try:
                    profile = args.profile / backend if args.profile else None
                    out["stream"] = stream_row(stream(a, b, args.lines, profile, data_dir))
                finally:
                    b.stop()
            finally:
                a.stop()
    return out


def describe_code() -> str:
    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    live = ["src/attune/ops/runs/live.py", "src/attune/ops/runs/process.py",
            "src/attune/ops/store/pg_notify.py", "src/attune/ops/store/postgres.py",
            "src/attune/ops/store/pg_search.py", "src/attune/ops/store/pg_schema.py",
            "src/attune/ops/store/pg_sql.py", "src/attune/ops/store/runs.py"]  # fmt: skip
    dirty = git("status", "--short", "--", *live)
    text = f"commit {git('rev-parse', '--short', 'HEAD')} ({git('log', '-1', '--format=%s')[:70]})"
    if dirty:
        done = subprocess.run(["git", "diff", "HEAD", "--", *live], cwd=ROOT, capture_output=True,
                              check=False)  # fmt: skip
        untracked = b"".join((ROOT / p).read_bytes() for p in live if p in dirty.split())
        digest = hashlib.sha1(done.stdout + untracked).hexdigest()[:10]
        text += f"\n  with uncommitted changes (sha1 of the diff: {digest}) in " + ", ".join(
            x.split()[-1] for x in dirty.splitlines()
        )
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=100_000, help="runs of 10 lines")
    parser.add_argument("--large", type=int, default=1_000, help="runs of 1,000 lines")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the live run")
    parser.add_argument("--requests", type=int, default=200, help="GETs per list case")
    parser.add_argument("--search-requests", type=int, default=50, help="GETs per search")
    parser.add_argument("--no-durable", action="store_true", help="skip PostgreSQL with fsync")
    parser.add_argument("--backends", default=",".join(BACKENDS), help=argparse.SUPPRESS)
    parser.add_argument("--profile", type=Path, help="py-spy the dashboards' stream into DIR")
    parser.add_argument(
        "--explain", choices=("missed", "all", "none"), default="missed",
        help="print PostgreSQL's EXPLAIN ANALYZE of the cases that missed (or all, or none)",
    )  # fmt: skip
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if not (args.no_durable and b == "pg-durable")]
    load = os.getloadavg()
    print(f"attune ops team benchmark: {os.cpu_count()} CPUs, load {load[0]:.1f} at start, "
          f"Python {sys.version.split()[0]}\n{describe_code()}")  # fmt: skip
    results = {backend: run_backend(backend, args) for backend in backends}
    print_table(results, args)
    print(FSYNC_NOTE)
    return 0


if __name__ == "__main__":
    sys.exit(main())

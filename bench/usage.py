"""Claude Code usage: attune ops side by side with ccusage 20.0.24 on the same transcripts.

``make bench-usage`` (or ``.venv/bin/python bench/usage.py [--mb 520] [--rounds 3]``):

1. generates a corpus of ``--mb`` megabytes of transcripts (``bench/_gen_transcripts.py``,
   cached under ``.bench/usage-corpus/``) and installs ``ccusage@20.0.24`` with npm into
   ``.bench/ccusage`` (once; never a dependency of this project);
2. times ccusage's ``claude session --json --offline`` and our cold ``attune usage --all --json``
   (a fresh store: the whole ingest), wall time, CPU time and peak RSS, ``--rounds`` each,
   alternating (medians and ranges: the machine is shared);
3. starts ``attune ops`` on an empty config folder, points it at the corpus and times its
   background ingest, with the server's memory growth (peak RSS less the RSS before);
4. warm ``GET /api/usage`` (p50, p95) and warm ``attune usage --json``;
5. appends a line to a transcript and times until the API shows it (5 times);
6. compares token totals per project and per session with ccusage's, and runs the cases where
   the two differ by design on a small corpus.

Everything is local (127.0.0.1, temporary homes); every wait is bounded; servers are killed as
process groups. Prints Markdown tables and writes ``.bench/usage.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gen_transcripts import encode, generate
from _proc import BenchError, Server, free_port, run_measured
from _usage_cases import edge_cases

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
CCUSAGE_VERSION = "20.0.24"
CCUSAGE_DIR = BENCH / "ccusage"
CCUSAGE = CCUSAGE_DIR / "node_modules" / ".bin" / "ccusage"
FIELDS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")
CC_FIELDS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")


def log(text: str) -> None:
    print(f"[bench usage] {text}", file=sys.stderr, flush=True)


def ensure_ccusage() -> None:
    stamp = CCUSAGE_DIR / ".installed"
    if stamp.exists() and stamp.read_text() == CCUSAGE_VERSION and CCUSAGE.exists():
        return
    log(f"installing ccusage@{CCUSAGE_VERSION} into {CCUSAGE_DIR} (npm)")
    CCUSAGE_DIR.mkdir(parents=True, exist_ok=True)
    npm = ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(CCUSAGE_DIR)]
    subprocess.run([*npm, f"ccusage@{CCUSAGE_VERSION}"], check=True, timeout=900)
    stamp.write_text(CCUSAGE_VERSION)


def ensure_corpus(mb: int) -> tuple[Path, list[str]]:
    """The corpus's config folder and its project roots (generated once per size)."""
    home = BENCH / "usage-corpus" / f"{mb}mb-seed7"
    stamp = home / "corpus.json"
    if stamp.exists():
        return home / "claude", json.loads(stamp.read_text())["roots"]
    shutil.rmtree(home, ignore_errors=True)
    log(f"generating {mb} MB of transcripts into {home}")
    made = generate(home / "claude", mb, 8, 7, base=str(home / "code"))
    roots = [str(r) for r in made["roots"]]  # type: ignore[union-attr]
    for root in roots:
        Path(root, "packages", "core").mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(made))
    return home / "claude", roots


def env_for(home: Path, claude: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE dropped: with it (set on some machines, these included) every
    # timed command compiles this project's modules again, which no installed copy does
    dropped = ("ANTHROPIC", "CLAUDE", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(ATTUNE_HOME=str(home), CLAUDE_CONFIG_DIR=str(claude), NO_COLOR="1")
    return env


def compile_sources() -> None:
    """Byte-compile ``src/`` once, as an installed copy is, before anything is timed."""
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "compileall", "-q", str(ROOT / "src")],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


CC_CMD = [str(CCUSAGE), "claude", "session", "--json", "--offline"]


def ccusage_body(claude: Path) -> dict[str, Any]:
    env = env_for(Path(tempfile.mkdtemp()), claude)
    out = subprocess.run(CC_CMD, env=env, capture_output=True, check=True, timeout=600).stdout
    body: dict[str, Any] = json.loads(out)
    return body


def cold_rounds(claude: Path, work: Path, rounds: int) -> tuple[list[Any], list[Any]]:
    """ccusage and our cold ingest, alternating (this machine is shared: a burst of other work
    then lands on both sides, not on one)."""
    theirs, ours = [], []
    cc_env = env_for(Path(tempfile.mkdtemp()), claude)
    for n in range(rounds):
        theirs.append(run_measured(CC_CMD, cc_env, timeout=600))
        env = env_for(work / f"cold-{n}", claude)
        ours.append(run_measured(attune_cmd("usage", "--all", "--json"), env, timeout=900))
    return theirs, ours


def attune_cmd(*args: str) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "attune"), *args]


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def serve_and_measure(claude: Path, project: str, expected: int, work: Path) -> dict[str, Any]:
    stage = work / "stage"
    (stage / "empty").mkdir(parents=True)
    (stage / "projects").symlink_to(stage / "empty")
    home = work / "server-home"
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "attune",
        "ops",
        "--project",
        project,
        "--port",
        str(port),
        "--no-browser",
    ]
    server = Server(cmd, env_for(home, stage), port, work / "server.log", Path(project))
    server.start()
    try:
        server.wait_ready("/healthz")
        time.sleep(1.5)  # a first (empty) ingest pass and the app's imports settle
        assert server.proc is not None
        pid = server.proc.pid  # python -m attune ops serves in this very process
        before = rss_kib(pid, "VmRSS")
        link = stage / "projects.new"
        link.symlink_to(claude / "projects")
        started = time.perf_counter()
        link.replace(stage / "projects")  # the corpus appears at once
        cold = _until(server.url, lambda b: b["totals"]["messages"] >= expected, 900)
        cold_s = time.perf_counter() - started
        peak = rss_kib(pid, "VmHWM")
        result = {
            "cold_ingest_s": cold_s,
            "rss_before_mib": before / 1024,
            "rss_peak_mib": peak / 1024,
            "rss_growth_mib": (peak - before) / 1024,
            "messages": cold["totals"]["messages"],
        }
        result.update(_warm_api(server.url))
        result.update(_warm_cli(home, stage, project))
        result["append_latency_s"] = _append_latency(server.url, claude, project)
        return result
    finally:
        server.stop()


def _until(url: str, check: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < deadline:
            body: dict[str, Any] = client.get(f"{url}/api/usage?project=all&limit=1").json()
            if check(body):
                return body
            time.sleep(0.01)
    raise BenchError("the server did not reach the expected usage in time")


def _warm_api(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(timeout=30) as client:
        for name, query in (("this", ""), ("all", "?project=all")):
            client.get(f"{url}/api/usage{query}")
            times = []
            for _ in range(50):
                start = time.perf_counter()
                assert client.get(f"{url}/api/usage{query}").status_code == 200
                times.append(time.perf_counter() - start)
            times.sort()
            out[f"api_{name}_p50_ms"] = times[len(times) // 2] * 1000
            out[f"api_{name}_p95_ms"] = times[int(len(times) * 0.95)] * 1000
    return out


def _warm_cli(home: Path, stage: Path, project: str) -> dict[str, Any]:
    env = {**env_for(home, stage), "PWD": project}
    runs = [
        run_measured(attune_cmd("usage", "--project", project, "--json"), env) for _ in range(10)
    ]
    return {
        "cli_warm_s": median([r.wall_s for r in runs]),
        "cli_warm_rss_mib": median([r.max_rss_kib / 1024 for r in runs]),
    }


def _append_latency(url: str, claude: Path, project: str) -> list[float]:
    folder = claude / "projects" / encode(project)
    path = folder / "bench-live-session.jsonl"
    latencies = []
    try:
        for i in range(5):
            before = _until(url, lambda b: True, 30)["totals"]["messages"]
            line = _live_line(project, i)
            start = time.perf_counter()
            with path.open("a") as handle:
                handle.write(line + "\n")
            _until(url, lambda b, n=before: b["totals"]["messages"] > n, 30)
            latencies.append(time.perf_counter() - start)
            time.sleep(0.3)
    finally:
        path.unlink(missing_ok=True)
    return latencies


def _live_line(project: str, i: int) -> str:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    usage = {
        "input_tokens": 3,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 100,
        "output_tokens": 9,
    }
    message = {
        "id": f"msg_bench_live_{i}_{time.time_ns()}",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "ok"}],
        "usage": usage,
    }
    line = {
        "cwd": project,
        "sessionId": "bench-live-session",
        "type": "assistant",
        "message": message,
        "requestId": f"req_live_{i}",
        "uuid": f"u{i}",
        "timestamp": now,
    }
    return json.dumps(line, separators=(",", ":"))


def ours_tokens(db: Path) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per session and per Claude Code project folder, straight from our store."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sums = ", ".join(f"sum({f})" for f in FIELDS)
        sessions = {
            r[0]: list(r[1:])
            for r in conn.execute(f"SELECT session_id, {sums} FROM usage_messages GROUP BY 1")
        }
        projects = {
            r[0]: list(r[1:])
            for r in conn.execute(
                f"SELECT f.project_dir, {sums} FROM usage_messages m "
                "JOIN usage_files f ON f.id = m.file_id GROUP BY 1"
            )
        }
    finally:
        conn.close()
    return sessions, projects


def theirs_tokens(body: dict[str, Any]) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    sessions: dict[str, list[int]] = {}
    projects: dict[str, list[int]] = {}
    for s in body["sessions"]:
        values = [int(s[f]) for f in CC_FIELDS]
        sessions[s["sessionId"]] = values
        total = projects.setdefault(s["projectPath"], [0, 0, 0, 0])
        for i, v in enumerate(values):
            total[i] += v
    return sessions, projects


def compare(
    ours: Path, theirs: dict[str, Any], roots: list[str], claude: Path, home_env: dict[str, str]
) -> dict[str, Any]:
    our_sessions, our_dirs = ours_tokens(ours)
    their_sessions, their_dirs = theirs_tokens(theirs)
    per_project = []
    for root in roots:
        name = encode(root)
        cli = subprocess.run(
            attune_cmd("usage", "--project", root, "--json"),
            env=home_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        totals = json.loads(cli.stdout)["totals"]
        per_project.append(
            {
                "project": root,
                "dir": name,
                "ours": [totals[f] for f in FIELDS],
                "ours_by_dir": our_dirs.get(name),
                "ccusage": their_dirs.get(name),
            }
        )
    equal_sessions = sum(1 for k, v in their_sessions.items() if our_sessions.get(k) == v)
    return {
        "projects": per_project,
        "sessions_ccusage": len(their_sessions),
        "sessions_ours": len(our_sessions),
        "sessions_equal": equal_sessions,
        "totals_ours": [sum(v[i] for v in our_sessions.values()) for i in range(4)],
        "totals_ccusage": [int(theirs["totals"][f]) for f in CC_FIELDS],
        "cost_ccusage": theirs["totals"]["totalCost"],
    }


def _ms(srv: dict[str, Any], name: str) -> str:
    return f"{srv[f'api_{name}_p50_ms']:.1f} / {srv[f'api_{name}_p95_ms']:.1f} ms"


def _spread(values: list[float]) -> str:
    return f"{median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def _four(values: list[int] | None) -> str:
    return " / ".join(f"{v:,}" for v in (values or [0, 0, 0, 0]))


def render(r: dict[str, Any]) -> str:
    """The figures as Markdown tables (for docs/performance.md)."""
    cc, cold, srv = r["ccusage"], r["ours_cold"], r["server"]
    corpus = r["corpus"]
    cc_s = median(cc["wall_s"])
    latency = srv["append_latency_s"]
    lines = [
        f"Corpus: {corpus['bytes'] / 1e6:.0f} MB, {corpus['files']} transcripts, "
        f"{corpus['lines']:,} lines, 8 projects; load average at start {r['load']}.",
        "",
        "| measure | attune ops | ccusage 20.0.24 |",
        "|---|--:|--:|",
        f"| cold, the whole corpus (median of {r['rounds']}, range) | "
        f"{_spread(cold['wall_s'])} (`attune usage --all --json`, empty store) | "
        f"{_spread(cc['wall_s'])} (`claude session --json --offline`) |",
        f"| CPU time of that command (median) | {median(cold['cpu_s']):.2f} s | "
        f"{median(cc['cpu_s']):.2f} s |",
        f"| peak RSS of that command | {median(cold['rss_mib']):.0f} MiB | "
        f"{median(cc['rss_mib']):.0f} MiB |",
        f"| cold ingest in the running server | {srv['cold_ingest_s']:.2f} s | — |",
        f"| server memory growth during it | {srv['rss_growth_mib']:.0f} MiB "
        f"({srv['rss_before_mib']:.0f} → {srv['rss_peak_mib']:.0f}) | — |",
        f"| warm `GET /api/usage` p50 / p95 | {_ms(srv, 'this')} "
        f"(`?project=all`: {_ms(srv, 'all')}) | re-reads every file: {cc_s:.2f} s a call |",
        f"| warm CLI (median of 10) | {srv['cli_warm_s']:.3f} s (`attune usage --json`) "
        f"| {cc_s:.2f} s |",
        f"| an appended line visible through the API | median {median(latency):.2f} s, "
        f"max {max(latency):.2f} s | — |",
        "",
        "| project | ours: input / output / cache write / cache read | ccusage | equal |",
        "|---|--:|--:|:-:|",
    ]
    t = r["tokens"]
    for p in t["projects"]:
        same = "yes" if p["ours"] == (p["ccusage"] or [0, 0, 0, 0]) else "NO"
        name = Path(p["project"]).name
        lines.append(f"| `{name}` | {_four(p['ours'])} | {_four(p['ccusage'])} | {same} |")
    same = "yes" if t["totals_ours"] == t["totals_ccusage"] else "NO"
    lines.append(f"| **all** | {_four(t['totals_ours'])} | {_four(t['totals_ccusage'])} | {same} |")
    lines += [
        "",
        f"Sessions: {t['sessions_equal']} of ccusage's {t['sessions_ccusage']} have equal "
        f"token totals in ours ({t['sessions_ours']} sessions).",
        "",
        "The cases where the rules differ (a one-session corpus each):",
        "",
        "| case | ours (output tokens) | ccusage | why |",
        "|---|--:|--:|---|",
    ]
    for case in r["edge_cases"]:
        lines.append(f"| {case['case']} | {case['ours']} | {case['ccusage']} | {case['why']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--mb", type=int, default=520)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "usage.json")
    args = parser.parse_args()
    ensure_ccusage()
    claude, roots = ensure_corpus(args.mb)
    compile_sources()
    corpus = json.loads((claude.parent / "corpus.json").read_text())
    results: dict[str, Any] = {
        "rounds": args.rounds,
        "corpus": corpus,
        "load": [round(x, 2) for x in os.getloadavg()],
    }
    work = Path(tempfile.mkdtemp(prefix="attune-bench-usage-"))
    try:
        log(f"cold: ccusage and attune usage, {args.rounds} rounds each, alternating")
        cc_runs, runs = cold_rounds(claude, work, args.rounds)
        cc_body = ccusage_body(claude)
        for name, measured in (("ccusage", cc_runs), ("ours_cold", runs)):
            results[name] = {
                "wall_s": [m.wall_s for m in measured],
                "rss_mib": [m.max_rss_kib / 1024 for m in measured],
                "cpu_s": [m.cpu_s for m in measured],
            }
        home = work / f"cold-{args.rounds - 1}"
        db = home / "ops" / "ops.db"
        expected = (
            sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            .execute("SELECT count(*) FROM usage_messages")
            .fetchone()[0]
        )
        log("the server: cold ingest, memory, warm API and CLI, appended lines")
        results["server"] = serve_and_measure(claude, roots[0], expected, work)
        log("token totals against ccusage")
        results["tokens"] = compare(db, cc_body, roots, claude, env_for(home, claude))
        results["edge_cases"] = edge_cases(work / "cases", str(CCUSAGE))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(render(results))
    print(f"\nraw figures: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark attune ops against the dashboard it replaces (PyPI ``attune-ai==16.4.0``).

Run it with ``make bench`` (or ``.venv/bin/python bench/compare.py``)::

    bench/compare.py                      # every scenario, full rounds, N up to 1,000,000
    bench/compare.py --quick              # fewer rounds, N up to 100,000 (for development)
    bench/compare.py --only stream        # one scenario: cli, start, stream, history, home
    bench/compare.py --show               # print the tables of the last run again

The reference is installed once into its own venv under ``.bench/ref`` (git-ignored; never a
dependency of this project). Servers listen on 127.0.0.1 only, every wait is bounded, every
server is killed as a process group. The tables are printed as Markdown (ready for
``docs/performance.md``) and the raw figures are written to ``.bench/last.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cost_fixture import FakeAnthropic
from _products import REF_VENV, ROOT, Ours, Reference, Sandbox
from _report import render
from _scenarios import (
    Plan,
    cli_start,
    history,
    home,
    log,
    pipe_floor,
    server_start,
    streaming,
)

REFERENCE_SPEC = "attune-ai[ops]==16.4.0"
REFERENCE_EXTRAS = ("radon",)  # the reference's `attune ops` will not start without it
SCENARIOS = ("cli", "start", "stream", "history", "home")


def ensure_reference() -> None:
    """Create ``.bench/ref`` and install the reference into it, once (a stamp file caches it)."""
    stamp = REF_VENV / ".installed"
    wanted = " ".join((REFERENCE_SPEC, *REFERENCE_EXTRAS))
    if stamp.exists() and stamp.read_text() == wanted:
        return
    log(f"installing the reference into {REF_VENV} ({wanted})")
    if not (REF_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True, timeout=300)
    pip = [str(REF_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, REFERENCE_SPEC, *REFERENCE_EXTRAS], check=True, timeout=1800)
    stamp.write_text(wanted)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/compare.py", description=__doc__.split("\n")[0] if __doc__ else None
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds, N up to 100,000")
    parser.add_argument("--only", choices=SCENARIOS, action="append", help="repeatable")
    parser.add_argument("--rounds", type=int, help="rounds per scenario (default 5, quick 2)")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "last.json")
    parser.add_argument(
        "--show", action="store_true", help="print the tables of the saved figures (--out) and stop"
    )
    return parser.parse_args(argv)


def plan_for(args: argparse.Namespace) -> Plan:
    if args.quick:
        counts = [1_000, 10_000, 100_000]
        return Plan(rounds=args.rounds or 2, stream_rounds=1, counts=counts, requests=20)
    counts = [1_000, 10_000, 100_000, 1_000_000]
    return Plan(rounds=args.rounds or 5, stream_rounds=3, counts=counts, requests=50)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    plan = plan_for(args)
    selected = args.only or list(SCENARIOS)
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "plan": vars(plan)}
    with FakeAnthropic() as fake:
        ours = Ours(Sandbox.make(work, "ours", plan.counts), fake.url)
        ref = Reference(Sandbox.make(work, "reference", plan.counts))
        products: list[Ours | Reference] = [ours, ref]
        for name in selected:
            log(f"scenario {name}")
            if name == "cli":
                results["cli"] = cli_start(products, plan)
            elif name == "start":
                results["start"] = server_start(products, plan, work)
            elif name == "stream":
                results["pipe_floor"] = pipe_floor(plan)
                results["stream"] = streaming(products, plan, work)
            elif name == "history":
                results["history"] = history(products, plan, work)
            elif name == "home":
                results["home"] = home(products, plan, work, lambda: fake.hits)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.show:
        print(render(json.loads(args.out.read_text())))
        return 0
    ensure_reference()
    work = Path(tempfile.mkdtemp(prefix="attune-bench-"))
    try:
        results = run(args, work)
    except Exception:
        print(f"benchmark failed; server logs kept in {work}", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(render(results))
    print(f"\nraw figures: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

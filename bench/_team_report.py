"""The team benchmark's table: one row per measurement, one column per backend, the target
and a verdict (``ok`` when every backend met it, else which ones missed)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

TITLES = {
    "sqlite": "SQLite",
    "pg-fast": "PostgreSQL fsync off",
    "pg-durable": "PostgreSQL fsync on",
}
STREAM_TARGET = 100_000


@dataclass(frozen=True)
class Result:
    """A latency case (p50/p99 in ms, HTTP status, runs found) or the stream (``stream`` set)."""

    p50: float
    p99: float
    target: float
    status: int
    found: int | None = None
    stream: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        if self.stream is not None:
            s = self.stream
            return (
                bool(s["done"])
                and not s["error"]
                and s["lines"] == s["n"]
                and (s["n"] / s["seconds"] >= STREAM_TARGET)
            )
        return self.status == 200 and self.p50 <= self.target

    @property
    def cell(self) -> str:
        if self.stream is not None:
            s = self.stream
            whole = "all lines" if s["lines"] == s["n"] and not s["error"] else "LOST LINES"
            return f"{s['n'] / s['seconds']:>9,.0f}/s {whole}"
        mark = "" if self.status == 200 else f" HTTP {self.status}"
        return f"{self.p50:7.1f} / {self.p99:7.1f}{mark}"

    @property
    def target_text(self) -> str:
        if self.stream is not None:
            return f"≥ {STREAM_TARGET:,}/s, all"
        return f"p50 ≤ {self.target:.0f} ms"


def stream_row(seen: dict[str, Any]) -> Result:
    return Result(0.0, 0.0, 0.0, 200, None, seen)


def print_table(results: dict[str, dict[str, Result]], args: argparse.Namespace) -> None:
    backends = list(results)
    labels: list[str] = []
    for out in results.values():
        labels += [label for label in out if label not in labels]
    width = max(len(label) for label in labels)
    lines = args.small * 10 + args.large * 1000
    print(
        f"\n{args.small + args.large:,} runs, {lines:,} lines searched; p50 / p99 in ms over "
        f"{args.requests} GETs a list case, {args.search_requests} a search; "
        f"stream of {args.lines:,} lines A -> B"
    )
    head = f"{'':<{width}} | " + " | ".join(f"{TITLES[b]:<22}" for b in backends)
    print(head + f" | {'target':<17} | verdict")
    print("-" * (len(head) + 32))
    for label in labels:
        cells = [results[b].get(label) for b in backends]
        target = next(c.target_text for c in cells if c is not None)
        missed = [TITLES[b] for b, c in zip(backends, cells, strict=True) if c and not c.ok]
        verdict = "ok" if not missed else "MISSED: " + ", ".join(missed)
        row = " | ".join(f"{c.cell if c else '-':<22}" for c in cells)
        print(f"{label:<{width}} | {row} | {target:<17} | {verdict}")
    print("\nruns found by each search (first page of 50):")
    for label in labels:
        found = [results[b].get(label) for b in backends]
        if label.startswith("search") and all(f is not None for f in found):
            print(f"  {label:<{width}} " + "  ".join(f"{TITLES[b]}: {f.found}"
                                                 for b, f in zip(backends, found, strict=True)
                                                 if f is not None))  # fmt: skip
    print("\nthe stream in detail:")
    for b in backends:
        r = results[b].get("stream")
        if r is None or r.stream is None:
            continue
        s = r.stream
        run_s = f"{s['run_s']:.1f} s" if s.get("run_s") else "?"
        print(
            f"  {TITLES[b]}: {s['lines']:,} of {s['n']:,} lines in {s['seconds']:.2f} s "
            f"(the run on A took {run_s}, ended {s['status']}); {s['reconnects']} reconnection(s);"
            f" CPU s: A {s['cpu_a']:.1f}, B {s['cpu_b']:.1f}, client {s['cpu_s']:.1f}"
            + (f", PostgreSQL {s['cpu_pg']:.1f}" if s.get("cpu_pg") else "")
            + (f"; error: {s['error']}" if s["error"] else "")
        )

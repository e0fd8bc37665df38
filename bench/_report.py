"""Markdown tables (and the goals of issue 8) from the figures ``compare.py`` collected."""

from __future__ import annotations

from typing import Any

GOAL_CLI_S = 0.15
GOAL_STREAM_SHARE = 0.30
GOAL_HISTORY_S = 0.020


def _s(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def _ratio(ours: float | None, ref: float | None) -> str:
    if not ours or not ref:
        return "—"
    return f"{ours / ref:.2f}"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _mib(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} MiB"


def _two_column(title: str, rows: list[tuple[str, Any, Any, str]]) -> list[str]:
    out = [f"### {title}", "", "| measure | ours | reference | ours/ref |", "|---|--:|--:|--:|"]
    for label, ours, ref, ratio in rows:
        out.append(f"| {label} | {ours} | {ref} | {ratio} |")
    return [*out, ""]


def _row(label: str, o: dict[str, Any], r: dict[str, Any], key: str, fmt: Any = _s) -> tuple:
    """A table row: the same figure of ours and of the reference, and their ratio."""
    return (label, fmt(o[key]), fmt(r[key]), _ratio(o[key], r[key]))


def _cli(data: dict[str, Any]) -> list[str]:
    o, r = data["ours"], data["reference"]
    return _two_column(
        f"CLI start: `attune --help` (median of {o['samples']})",
        [
            _row("wall time (median)", o, r, "median_s"),
            _row("wall time (fastest)", o, r, "min_s"),
            _row("CPU time, user + system (median)", o, r, "cpu_s"),
            _row("peak RSS", o, r, "rss_mib", _mib),
        ],
    )


def _start(data: dict[str, Any]) -> list[str]:
    o, r = data["ours"], data["reference"]
    return _two_column(
        f"Server start: spawn to the first 200 of `GET /` (median of {o['samples']})",
        [
            _row("time to first page (median)", o, r, "median_s"),
            _row("time to first page (fastest)", o, r, "min_s"),
            _row("RSS once serving", o, r, "rss_mib", _mib),
        ],
    )


def _cell(c: dict[str, Any]) -> tuple[str, str, str]:
    lines = f"{c['min_lines']:,}" + ("" if c["all_lines"] else " ✗")
    done = f"{c['done']}/{c['expected_done']}"
    if c.get("resumes"):
        done += f", {c['resumes']} resumed"
    if c["errors"]:
        done += " (" + "; ".join(c["errors"]) + ")"
    return lines, done, _s(c["median_s"])


def _stream(results: dict[str, Any]) -> list[str]:
    data, floor = results["stream"], results["pipe_floor"]
    out = [
        "### Live streaming: a run printing N lines, read over SSE by K clients",
        "",
        "Lines: the fewest any client received (✗: some client missed lines). Done: clients "
        "that got `done` (resumed: reconnections with `Last-Event-ID` after the server cut a "
        "slow client off). Time: POST to the last client's `done`, median of rounds. "
        "Lines/s: N / time. Floor: the generator into `cat > /dev/null`.",
        "",
        "| N | K | ours lines | ours done | ours time | ours lines/s | ref lines | ref done "
        "| ref time | ref lines/s | time ours/ref | floor lines/s | ours % of floor |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for key, o in data["ours"].items():
        r = data["reference"][key]
        f = floor[str(o["n"])]["lines_per_s"]
        share = f"{o['lines_per_s'] / f * 100:.0f} %" if o["lines_per_s"] else "—"
        ol, od, ot = _cell(o)
        rl, rd, rt = _cell(r)
        out.append(
            f"| {o['n']:,} | {o['clients']} | {ol} | {od} | {ot} | {_rate(o['lines_per_s'])} "
            f"| {rl} | {rd} | {rt} | {_rate(r['lines_per_s'])} "
            f"| {_ratio(o['median_s'], r['median_s'])} | {_rate(f)} | {share} |"
        )
    return [*out, ""]


def _pages(title: str, data: dict[str, Any]) -> list[str]:
    o, r = data["ours"], data["reference"]
    rows = [
        ("endpoint", f"`{o['path']}`", f"`{r['path']}`", ""),
        _row("median", o, r, "median_s"),
        _row("p95", o, r, "p95_s"),
        _row("server CPU per request", o, r, "cpu_per_request_s"),
        ("response size", f"{o['bytes']:,} B", f"{r['bytes']:,} B", ""),
    ]
    return _two_column(f"{title} (median of {o['samples']} requests)", rows)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _goals(results: dict[str, Any]) -> list[str]:
    out = ["### Goals (issue 8)", ""]
    if "cli" in results:
        v = results["cli"]["ours"]["median_s"]
        out.append(f"- CLI start ≤ {GOAL_CLI_S} s: {_s(v)} — {_verdict(v <= GOAL_CLI_S)}")
    if "stream" in results:
        ours = results["stream"]["ours"]
        every = all(c["all_lines"] and c["done"] == c["expected_done"] for c in ours.values())
        out.append(f"- every line and `done` delivered at every N and K: {_verdict(every)}")
        for c in ours.values():
            if c["clients"] != 1:
                continue
            floor = results["pipe_floor"][str(c["n"])]["lines_per_s"]
            share = (c["lines_per_s"] or 0) / floor
            out.append(
                f"- streaming to 1 client ≥ 30 % of the pipe floor, N={c['n']:,}: "
                f"{share * 100:.0f} % — {_verdict(share >= GOAL_STREAM_SHARE)}"
            )
    if "history" in results:
        v = results["history"]["ours"]["median_s"]
        out.append(
            f"- history list ≤ 20 ms at 10,000 runs: {_s(v)} — {_verdict(v <= GOAL_HISTORY_S)}"
        )
    if len(out) == 2:
        out.append("- no scenario with a goal was run (cli, stream, history)")
    return [*out, ""]


def render(results: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    m = results["machine"]
    out = [
        f"## attune ops vs attune-ai 16.4.0 — {m['date']}",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}, "
        f"{m['os']}; load average at start {m['load_avg']}."
        + (" Quick mode." if results.get("quick") else ""),
        "",
    ]
    if "cli" in results:
        out += _cli(results["cli"])
    if "start" in results:
        out += _start(results["start"])
    if "stream" in results:
        out += _stream(results)
    if "history" in results:
        out += _pages("History: list runs with 10,000 stored", results["history"])
    if "home" in results:
        home = results["home"]
        out += _pages("Home page with a cached cost summary", home)
        shown = {k: "yes" if home[k]["shows_expected"] else "NO" for k in ("ours", "reference")}
        out.append(
            f"The 7-day total ({home['seven_day_total']}) is on the page: ours {shown['ours']}, "
            f"reference {shown['reference']}. Requests our server made to the (fake) Admin API "
            f"during this scenario: {home['cost_report_fetches']} (at most 1: the first page of a "
            "run fills the cache, every later page reads it)."
        )
        out.append("")
    out += _goals(results)
    return "\n".join(out)

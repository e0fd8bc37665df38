"""``attune runs …``: the run history from the terminal, through the same store as the dashboard.

Reading (``list``, ``show``, ``log``, ``export``) opens the SQLite store directly (WAL lets it
read while ``attune ops`` writes). ``cancel`` goes through the running server's API with its
token (found in ``<attune_home>/ops/server.json``), because only the server owns the process.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from typing import TextIO

from attune.ops.cli.main import run_command
from attune.ops.config import Config, build_config
from attune.ops.errors import AttuneError, error_for_code
from attune.ops.runs.ansi import strip_ansi
from attune.ops.store.database import Store
from attune.ops.store.runs import Run, RunStatus
from attune.ops.web.run_costs import usage_texts

__all__ = ["cmd_runs"]

FOLLOW_POLL_S = 0.2


def cmd_runs(args: argparse.Namespace) -> int:
    """``attune runs list|show|log|cancel|export``. Example: ``attune runs log 12 --follow``."""
    if args.action is None:
        print("usage: attune runs {list,show,log,cancel,export} …", file=sys.stderr)
        return 2
    return run_command("runs", lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    config = build_config()
    if args.action == "cancel":
        return _cancel(config, args)
    store = Store(config.db_path, integrity_budget_s=0)  # the dashboard checks at its start
    try:
        return int(_ACTIONS[args.action](store, args))
    finally:
        store.close()


def _exit_text(run: Run, prefix: str = "") -> str:
    """``4``, ``-15 (SIGTERM)``, or ``-`` when the run has none (yet)."""
    if run.exit_code is None:
        return "-"
    return f"{prefix}{run.exit_code}" + (f" ({run.signal})" if run.signal else "")


def scope_label(path: str | None) -> str:
    """A run's scope as the web shows it: the path, or "whole project"."""
    return path or "whole project"


def format_time(stamp: str, *, utc: bool = False) -> str:
    """An ISO 8601 UTC time from the store, in the local zone with its offset (or in UTC)."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC if utc else None)
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def wants_colour(choice: str, stream: TextIO) -> bool:
    """ANSI colours for ``--color`` on ``stream``: auto is a terminal without ``$NO_COLOR``."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR", ""):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _list(store: Store, args: argparse.Namespace) -> int:
    known = {s.value for s in RunStatus}
    bad = [s for s in args.status if s not in known]
    if bad:
        raise AttuneError(f"unknown status {bad[0]!r} (one of: {', '.join(sorted(known))})")
    runs, next_cursor = store.list_runs(
        workflow=args.workflow,
        statuses=args.status,
        q=args.search,
        limit=args.limit,
        before=args.before,
    )
    if args.json:
        print(json.dumps({"runs": [r.to_json() for r in runs], "next": next_cursor}, indent=2))
        return 0
    if not runs:
        print("no runs")
        return 0
    print(f"{'ID':>6}  {'STATUS':<11} {'WORKFLOW':<20} {'STARTED':<25}  {'TIME':>7}  EXIT  SCOPE")
    for r in runs:
        code = "" if r.exit_code is None else str(r.exit_code)
        started = format_time(r.started_at, utc=args.utc)
        print(
            f"{r.id:>6}  {r.status:<11} {r.workflow[:20]:<20} {started:<25}  "
            f"{_duration(r.duration_s):>7}  {code:>4}  {scope_label(r.path)}"
        )
    if next_cursor is not None:
        print(f"… older runs: attune runs list --before {next_cursor}")
    return 0


def _show(store: Store, args: argparse.Namespace) -> int:
    run = store.require_run(args.id)
    recs = [payload for _, payload in store.recommendations(run.id)]
    if args.json:
        print(json.dumps({**run.to_json(), "recommendations": recs}, indent=2))
        return 0
    rows = [
        ("run", str(run.id)),
        ("workflow", run.workflow),
        ("scope", scope_label(run.path)),
        ("status", run.status),
        ("exit code", _exit_text(run)),
        ("command", shlex.join(run.command)),
        ("started", format_time(run.started_at, utc=args.utc)),
        ("finished", format_time(run.finished_at, utc=args.utc) if run.finished_at else "-"),
        ("duration", _duration(run.duration_s)),
        ("lines", str(run.line_count)),
        ("trigger", run.trigger),
    ]
    usage = usage_texts(run.to_json()["usage"])
    if usage:
        note = f" ({usage['note']})" if usage["note"] else ""
        rows += [("cost", f"{usage['cost']} estimated{note}"), ("tokens", usage["tokens"])]
    if run.error:
        rows.append(("error", run.error))
    for label, value in rows:
        # A multi-line value (a `python -c` script) keeps its lines under the value column.
        print(f"{label:>10}  " + value.replace("\n", "\n" + " " * 12))
    for rec in recs:
        target = rec.get("url") or f"{rec.get('workflow')} {rec.get('path') or '.'}"
        print(f"{'suggests':>10}  {rec['kind']}: {target}")
    return 0


def _print_lines(store: Store, run_id: int, after: int, plain: bool) -> int:
    out = sys.stdout
    for first, lines in store.iter_chunks(run_id, after):
        text = "".join(line + "\n" for line in lines)
        out.write(strip_ansi(text) if plain else text)
        after = first + len(lines) - 1
    out.flush()
    return after


def _log(store: Store, args: argparse.Namespace) -> int:
    run = store.require_run(args.id)
    args.plain = args.plain or not wants_colour(args.color, sys.stdout)
    after = _print_lines(store, run.id, 0, args.plain)
    if not args.follow:
        return 0
    while run.status == RunStatus.RUNNING:
        if not _server_alive(run):
            print(
                f"attune runs: the server running run {run.id} is gone; the run will be marked "
                "interrupted when attune ops starts again",
                file=sys.stderr,
            )
            return 1
        time.sleep(FOLLOW_POLL_S)
        after = _print_lines(store, run.id, after, args.plain)
        run = store.require_run(run.id)
    _print_lines(store, run.id, after, args.plain)
    code = "" if run.exit_code is None else f" ({_exit_text(run, prefix='exit ')})"
    print(f"run {run.id} {run.status}{code} in {_duration(run.duration_s)}", file=sys.stderr)
    if run.status == RunStatus.SUCCEEDED:
        return 0
    return run.exit_code if run.exit_code and 0 < run.exit_code < 256 else 1


def _server_alive(run: Run) -> bool:
    if not run.server_pid:
        return True
    try:
        os.kill(run.server_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _export(store: Store, args: argparse.Namespace) -> int:
    run = store.require_run(args.id)
    recs = [payload for _, payload in store.recommendations(run.id)]
    lines = [text for _, text in store.read_lines(run.id)]
    json.dump({"run": run.to_json(), "recommendations": recs, "lines": lines}, sys.stdout)
    sys.stdout.write("\n")
    return 0


def _cancel(config: Config, args: argparse.Namespace) -> int:
    """Ask the dashboard that owns the run (it holds the process) to cancel it."""
    import httpx

    from attune.ops.server_file import read_server_file

    owner = _owner(config, args.id)
    info = read_server_file(config, pid=owner)
    if info is None and owner is not None:
        raise AttuneError(
            f"run {args.id} belongs to the attune ops server with pid {owner}, which is not "
            "running here; only the server that started a run can cancel it"
        )
    if info is None:
        raise AttuneError(
            f"no attune ops server is running for {config.attune_home} "
            "(only the server that started a run can cancel it)"
        )
    try:
        r = httpx.post(
            f"{info.url}/api/runs/{args.id}/cancel",
            headers={"X-Attune-Token": info.token, "X-Attune-Client": "cli"},
            timeout=15,
        )
        body = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise AttuneError(f"the server at {info.url} did not answer: {exc}") from exc
    if r.status_code >= 400:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raise error_for_code(str(error.get("code", "")), str(error.get("message", r.status_code)))
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        print(f"run {body['id']} {body['status']}")
    return 0


def _owner(config: Config, run_id: int) -> int | None:
    """The pid of the server that started ``run_id``, when the store knows it."""
    store = Store(config.db_path, integrity_budget_s=0)  # the dashboard checks at its start
    try:
        run = store.get_run(run_id)
    finally:
        store.close()
    if run is not None and not run.finished and run.server_pid:
        return run.server_pid
    return None


_ACTIONS = {"list": _list, "show": _show, "log": _log, "export": _export}

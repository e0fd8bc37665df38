"""``attune runs …``: the run history from the terminal, through the same store as the dashboard.

Reading (``list``, ``show``, ``log``, ``export``) opens the SQLite store directly (WAL lets it
read while ``attune ops`` writes). ``cancel`` goes through the running server's API with its
token (found in ``<attune_home>/ops/server.json``), because only the server owns the process.
``start`` is in :mod:`attune.ops.cli.run_start`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import UTC, datetime

from attune.ops.cli.dashboard import post_to_dashboard
from attune.ops.cli.follow import (
    OwnerGone,
    exit_code_of,
    follow_run,
    outcome_line,
    print_lines,
    wants_colour,
)
from attune.ops.cli.follow import duration_text as _duration
from attune.ops.cli.follow import exit_text as _exit_text
from attune.ops.cli.main import run_command
from attune.ops.cli.run_start import cancel_in_terminal, start_workflow
from attune.ops.config import Config, build_config
from attune.ops.errors import AttuneError
from attune.ops.store.database import Store
from attune.ops.store.open import open_store
from attune.ops.store.run_origin import refuse_if_elsewhere
from attune.ops.store.runs import RunStatus
from attune.ops.web.run_costs import usage_texts

__all__ = ["cmd_runs"]


def cmd_runs(args: argparse.Namespace) -> int:
    """``attune runs list|show|log|start|cancel|export``. Example: ``attune runs log 12 -f``."""
    if args.action is None:
        print("usage: attune runs {list,show,log,start,cancel,export} …", file=sys.stderr)
        return 2
    return run_command("runs", lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    if args.action == "start":
        return start_workflow(args)
    config = build_config()
    if args.action == "cancel":
        return _cancel(config, args)
    # integrity_budget_s=0: the dashboard checks the store at its start
    store = open_store(config.db_path, config.database_url, integrity_budget_s=0)
    try:
        return int(_ACTIONS[args.action](store, args))
    finally:
        store.close()


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
        host=args.host,
        user=args.user,
    )
    if args.json:
        print(json.dumps({"runs": [r.to_json() for r in runs], "next": next_cursor}, indent=2))
        return 0
    if not runs:
        print("no runs")
        return 0
    # Who and where, once the runs come from more than one machine or person (a team store).
    origin = len({(r.host, r.user) for r in runs}) > 1 or bool(args.host or args.user)
    who = f"  {'WHO':<24}" if origin else ""
    print(
        f"{'ID':>6}  {'STATUS':<11} {'WORKFLOW':<20} {'STARTED':<25}  {'TIME':>7}  EXIT{who}  SCOPE"
    )
    for r in runs:
        code = "" if r.exit_code is None else str(r.exit_code)
        started = format_time(r.started_at, utc=args.utc)
        who = f"  {(r.user or '?') + '@' + (r.host or '?'):<24.24}" if origin else ""
        print(
            f"{r.id:>6}  {r.status:<11} {r.workflow[:20]:<20} {started:<25}  "
            f"{_duration(r.duration_s):>7}  {code:>4}{who}  {scope_label(r.path)}"
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


def _log(store: Store, args: argparse.Namespace) -> int:
    run = store.require_run(args.id)
    args.plain = args.plain or not wants_colour(args.color, sys.stdout)
    after = print_lines(store, run.id, 0, args.plain)
    if not args.follow:
        return 0
    try:
        run = follow_run(store, run, after=after, plain=args.plain)
    except OwnerGone:
        print(
            f"attune runs: the server running run {run.id} is gone; the run will be marked "
            "interrupted when attune ops starts again",
            file=sys.stderr,
        )
        return 1
    print(outcome_line(run), file=sys.stderr)
    return exit_code_of(run)


def _export(store: Store, args: argparse.Namespace) -> int:
    run = store.require_run(args.id)
    recs = [payload for _, payload in store.recommendations(run.id)]
    lines = [text for _, text in store.read_lines(run.id)]
    json.dump({"run": run.to_json(), "recommendations": recs, "lines": lines}, sys.stdout)
    sys.stdout.write("\n")
    return 0


def _cancel(config: Config, args: argparse.Namespace) -> int:
    """Ask the dashboard that owns the run (it holds the process) to cancel it."""
    from attune.ops.server_file import read_server_file

    owner = _owner(config, args.id)
    info = read_server_file(config, pid=owner)
    if info is None and owner is not None:
        ended = cancel_in_terminal(config, args.id, owner)  # a run `attune runs start` owns
        if ended is not None:
            print(
                json.dumps(ended.to_json(), indent=2)
                if args.json
                else f"run {ended.id} {ended.status}"
            )
            return 0
        raise AttuneError(
            f"run {args.id} belongs to the attune ops server with pid {owner}, which is not "
            "running here; only the server that started a run can cancel it"
        )
    if info is None:
        raise AttuneError(
            f"no attune ops server is running for {config.attune_home} "
            "(only the server that started a run can cancel it)"
        )
    body = post_to_dashboard(info, f"/api/runs/{args.id}/cancel", timeout=15)
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        print(f"run {body['id']} {body['status']}")
    return 0


def _owner(config: Config, run_id: int) -> int | None:
    """The pid of the server that started ``run_id``, when the store knows it; a run live on
    another machine (a team store) raises ``RunElsewhere`` naming that machine."""
    # integrity_budget_s=0: the dashboard checks the store at its start
    store = open_store(config.db_path, config.database_url, integrity_budget_s=0)
    try:
        run = store.get_run(run_id)
    finally:
        store.close()
    if run is not None and not run.finished:
        refuse_if_elsewhere(run)
    if run is not None and not run.finished and run.server_pid:
        return run.server_pid
    return None


_ACTIONS = {"list": _list, "show": _show, "log": _log, "export": _export}

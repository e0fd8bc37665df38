"""The ``attune`` command tree's arguments, declared without importing anything heavy.

``attune --help`` builds every parser, so this module imports only :mod:`argparse`; the code that
runs a command (``attune.ops.cli.ops``, ``attune.ops.cli.runs``) is imported once a command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_ops_parser", "add_runs_parser", "add_server_flags", "build_ops_parser"]

DESCRIPTION = "Serve the attune ops dashboard for the project in the current directory."
EPILOG = """examples:
  attune ops                          serve http://127.0.0.1:8765 and open the browser
  attune ops --port 9000 --no-browser
  attune ops --read-only              show everything, run nothing
  attune ops setup-billing            connect the Anthropic Admin API (spend panel)
  attune ops doctor                   diagnose this setup
"""


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """The flags shared by ``attune ops`` and ``attune ops doctor`` (DESIGN §4)."""
    parser.add_argument("--project", metavar="DIR", help="project root (default: current dir)")
    parser.add_argument("--host", metavar="H", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port", metavar="N", type=int, help="port to bind (default: $PORT, else 8765)"
    )
    parser.add_argument(
        "--read-only", action="store_true", help="show everything but refuse to start runs"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open a browser once serving"
    )
    parser.add_argument(
        "--specs-root",
        metavar="DIR",
        action="append",
        help="a folder of specs (repeatable; default: docs/specs, .kiro/specs, specs)",
    )
    parser.add_argument(
        "--no-specs-candidates",
        action="store_true",
        help="do not flag specs whose tasks are all done",
    )
    parser.add_argument(
        "--trusted-host",
        metavar="H",
        action="append",
        help="an extra Host header value to accept (repeatable; for non-loopback binds)",
    )
    parser.add_argument(
        "--runs-retention-days",
        metavar="N",
        type=int,
        help="delete runs older than N days (default 30; 0 keeps all)",
    )
    parser.add_argument(
        "--monthly-budget", metavar="USD", help="monthly Anthropic budget for the spend panel"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a team's PostgreSQL store, postgresql://user:pass@host/db "
        "(default: $ATTUNE_DATABASE_URL, else SQLite in the attune home)",
    )


def build_ops_parser(prog: str = "attune ops") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _fill_ops_parser(parser)
    return parser


def _fill_ops_parser(parser: argparse.ArgumentParser) -> None:
    add_server_flags(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    billing = actions.add_parser(
        "setup-billing",
        help="store the Anthropic admin key for the spend panel",
        description="Ask for the Anthropic admin key (no echo; or read it from stdin), check it "
        "with one request and store it with mode 0600. Example: attune ops setup-billing",
    )
    billing.add_argument("--remove", action="store_true", help="delete the stored key")
    doctor = actions.add_parser(
        "doctor",
        help="diagnose this setup: pass / warn / fail with the fix for each check",
        description="Run every diagnosis check. Example: attune ops doctor --json",
    )
    add_server_flags(doctor)
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")


def add_ops_parser(commands: Any) -> None:
    """Register ``ops`` under the top-level ``attune`` parser (for ``attune --help``)."""
    parser = commands.add_parser(
        "ops",
        help="serve the dashboard (and setup-billing, doctor)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _fill_ops_parser(parser)


def _run_runs(args: argparse.Namespace) -> int:
    from attune.ops.cli.runs import cmd_runs

    return cmd_runs(args)


def add_runs_parser(commands: Any) -> None:
    """Register ``runs`` under the top-level ``attune`` parser."""
    parser = commands.add_parser(
        "runs",
        help="start, list, show, follow, cancel and export workflow runs",
        description="Workflow runs of attune ops, from the terminal.",
    )
    parser.set_defaults(handler=_run_runs, action=None)
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    ls = sub.add_parser("list", help="runs, newest first (attune runs list --status failed)")
    ls.add_argument("--workflow", help="only runs of this workflow")
    ls.add_argument("--status", action="append", default=[], help="only this status (repeatable)")
    ls.add_argument("-q", "--search", help="only runs whose log contains this text")
    ls.add_argument("--host", help="only runs of this machine (a team store)")
    ls.add_argument("--user", help="only runs this user started (a team store)")
    ls.add_argument("--limit", type=int, default=20, help="how many (default 20, at most 200)")
    ls.add_argument("--before", type=int, help="page: only runs older than this id")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.add_argument("--utc", action="store_true", help="times in UTC (default: local time)")
    show = sub.add_parser("show", help="one run (attune runs show 12)")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--utc", action="store_true", help="times in UTC (default: local time)")
    log = sub.add_parser("log", help="a run's log (attune runs log 12 --follow)")
    log.add_argument("id", type=int)
    log.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    log.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="ANSI colours: auto (a terminal, unless $NO_COLOR is set), always or never",
    )
    log.add_argument("--plain", action="store_true", help="no ANSI colours (= --color never)")
    start = sub.add_parser(
        "start",
        help="run a workflow and wait for it (attune runs start make:test --follow)",
        description="Start WORKFLOW (any name on the workflows page: tests, npm:build, "
        "make:lint …) and wait for its end; the exit code is the run's. Through the dashboard "
        "serving this project when there is one, else in this process (Ctrl-C cancels it). "
        "Example: attune runs start pytest --path tests/unit --follow",
    )
    start.add_argument("workflow", metavar="WORKFLOW")
    start.add_argument("--path", metavar="P", help="the scope: a file or folder of the project")
    start.add_argument("--follow", "-f", action="store_true", help="print the log as it runs")
    start.add_argument(
        "--json", action="store_true", help="print the run as JSON at its end (log to stderr)"
    )
    start.add_argument("--project", metavar="DIR", help="project root (default: current dir)")
    start.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="ANSI colours of the log: auto (a terminal, unless $NO_COLOR), always or never",
    )
    cancel = sub.add_parser("cancel", help="cancel a live run through the server")
    cancel.add_argument("id", type=int)
    cancel.add_argument("--json", action="store_true", help="print the run as JSON")
    export = sub.add_parser("export", help="the run and its lines as JSON, for a bug report")
    export.add_argument("id", type=int)
    export.add_argument("--json", action="store_true", help="JSON (the default and only format)")

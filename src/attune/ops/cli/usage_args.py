"""``attune usage``'s arguments, declared without importing anything heavy (``attune --help``
builds every parser; the command's code, ``attune.ops.cli.usage``, is imported once it runs)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_usage_parser"]

EPILOG = """examples:
  attune usage                        this project: today, 7 and 30 days, the last 30 days
  attune usage --by session           sessions, newest first
  attune usage --all --by model       every project on this machine, by model
  attune usage --by member            on a team store: the team's usage, per member
  attune usage --since 2026-11-01 --json
"""


def _run_usage(args: argparse.Namespace) -> int:
    from attune.ops.cli.usage import cmd_usage

    return cmd_usage(args)


def add_usage_parser(commands: Any) -> None:
    """Register ``usage`` under the top-level ``attune`` parser."""
    parser = commands.add_parser(
        "usage",
        help="Claude Code usage and its estimated cost, per day, session, model or block",
        description="What Claude Code cost this project (an estimate from its local "
        "transcripts, priced with genai-prices), read from the dashboard's store after "
        "copying in what the transcripts added.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=_run_usage)
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--project", metavar="DIR", help="project root (default: current dir)")
    scope.add_argument(
        "--all",
        action="store_true",
        help="every project on this machine (on a team store: the team's usage of the project)",
    )
    parser.add_argument("--since", metavar="DATE", help="from this UTC day (YYYY-MM-DD)")
    parser.add_argument("--until", metavar="DATE", help="up to this UTC day (YYYY-MM-DD)")
    parser.add_argument(
        "--by",
        choices=("day", "session", "model", "block", "project", "member"),
        default="day",
        help="the table to print (default: day)",
    )
    parser.add_argument(
        "--limit", metavar="N", type=int, default=20, help="sessions to print (default 20)"
    )
    parser.add_argument("--json", action="store_true", help="print the /api/usage object")

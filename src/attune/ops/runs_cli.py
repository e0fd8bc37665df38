"""``attune runs …`` (arrives with the run history issue)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_runs_parser(commands: Any) -> None:
    """Register ``runs`` under the top-level ``attune`` parser."""
    parser = commands.add_parser("runs", help="list, show, follow and cancel workflow runs")
    parser.set_defaults(handler=cmd_runs)


def cmd_runs(args: argparse.Namespace) -> int:
    """``attune runs list|show|log|cancel``. Example: ``attune runs list``."""
    print("attune runs: not yet available", file=sys.stderr)
    return 2

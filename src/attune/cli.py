"""The ``attune`` command: a thin shell over the Python API.

Only argparse and the standard library are imported until a command actually runs, so
``attune --help`` answers in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from attune._version import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole ``attune`` command tree (``ops``, ``runs``, ``usage``)."""
    from attune.ops.cli.args import add_ops_parser, add_runs_parser
    from attune.ops.cli.usage_args import add_usage_parser

    parser = argparse.ArgumentParser(
        prog="attune",
        description="attune ops: a local dashboard for the operations around your project.",
        epilog="Start with: attune ops   (then open http://127.0.0.1:8765)",
    )
    parser.add_argument("--version", action="version", version=f"attune {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_ops_parser(commands)
    add_runs_parser(commands)
    add_usage_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``attune`` console script and ``python -m attune``."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["ops"]:
        if _serves(args_list[1:]):
            _keep_the_admin_key_out_of_the_environment(args_list)
        from attune.ops.cli.ops import cmd_ops

        return cmd_ops(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 0
    handler = args.handler
    code: int = handler(args)
    return code


def _serves(ops_args: list[str]) -> bool:
    """``attune ops …`` that will serve (not ``doctor``, ``setup-billing`` or ``--help``)."""
    words = set(ops_args)
    return not words & {"doctor", "setup-billing", "-h", "--help"}


def _keep_the_admin_key_out_of_the_environment(args_list: list[str]) -> None:
    # Workflows can read the dashboard's initial environment (/proc/<pid>/environ): when the
    # admin key is there, start again without it, the key handed over through a pipe.
    from attune.ops.spend.admin_key import adopt_handed_over_key, hand_over_through_exec

    hand_over_through_exec([sys.executable, "-m", "attune", *args_list])
    adopt_handed_over_key()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

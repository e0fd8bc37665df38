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
            failed = _keep_the_admin_key_out_of_the_environment("ops", args_list)
            if failed is not None:
                return failed
        from attune.ops.cli.ops import cmd_ops

        return cmd_ops(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "runs" and args.action == "start":  # it may run the workflow itself
        failed = _keep_the_admin_key_out_of_the_environment("runs start", args_list)
        if failed is not None:
            return failed
    handler = args.handler
    code: int = handler(args)
    return code


def _serves(ops_args: list[str]) -> bool:
    """``attune ops …`` that will serve: no ``doctor`` or ``setup-billing`` action, no
    ``--help`` and no usage error, as the parser reads the words (a flag's value such as
    ``--project doctor`` is no action)."""
    import contextlib
    import io

    from attune.ops.cli.args import build_ops_parser

    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            args = build_ops_parser().parse_args(ops_args)
    except SystemExit:
        return False  # --help or a usage error: cmd_ops prints it and ends
    return args.action is None


def _keep_the_admin_key_out_of_the_environment(command: str, args_list: list[str]) -> int | None:
    """Workflows can read their parent's initial environment (/proc/<pid>/environ): when the
    admin key is there, start again without it, the key handed over through a pipe. ``None``
    to go on; an exit code when this program cannot be started again."""
    from attune.ops.spend.admin_key import adopt_handed_over_key, hand_over_through_exec

    try:
        hand_over_through_exec([sys.executable, *_interpreter_flags(), "-m", "attune", *args_list])
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        print(
            f"attune {command}: cannot start again without $ANTHROPIC_ADMIN_API_KEY in its "
            f"environment ({reason}: {sys.executable!r}); store the key with "
            "`attune ops setup-billing` instead",
            file=sys.stderr,
        )
        return 1
    adopt_handed_over_key()
    return None


def _interpreter_flags() -> list[str]:
    """The interpreter's own options (``-X dev``, ``-W error``, ``-I`` …) from
    ``sys.orig_argv``, when its tail is this program's ``sys.argv``; else none."""
    orig = list(getattr(sys, "orig_argv", []))
    cut = len(orig) - len(sys.argv)
    if cut < 1 or orig[cut + 1 :] != sys.argv[1:]:
        return []
    flags = orig[1:cut]
    if flags[-1:] in (["-m"], ["-c"]):  # `-m attune`, `-c CODE`: sys.argv[0] is both words
        flags = flags[:-1]
    return flags


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

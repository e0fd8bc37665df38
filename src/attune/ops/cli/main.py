"""The one place an error becomes what a terminal user sees: ``attune <command>: <message>``
on stderr and the exit code of the error's class (``AttuneError.exit_code``).

Every command runs its body through :func:`run_command`; nothing else prints an error or picks
an exit code for one. A reader that closes the pipe early (``attune runs list | head``) ends
the command quietly, as Unix tools do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from attune.ops.cli.masking import install_masking, masked
from attune.ops.errors import AttuneError

__all__ = ["EXIT_INTERRUPTED", "EXIT_PIPE_CLOSED", "report_error", "run_command"]

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE


def report_error(command: str, exc: AttuneError) -> int:
    """Print ``attune <command>: <message>`` on stderr; return the class's exit code."""
    print(f"attune {command}: {masked(exc.message)}", file=sys.stderr)
    return exc.exit_code


def run_command(command: str, body: Callable[[], int]) -> int:
    """Run ``body`` and map what it raises: an ``AttuneError`` to one line and its exit code,
    Ctrl-C to 130, a closed stdout pipe to 141 without a traceback. A team database's
    password is masked in everything it logs or prints (cli/masking.py)."""
    install_masking(os.environ.get("ATTUNE_DATABASE_URL"))
    try:
        code = body()
        sys.stdout.flush()
    except AttuneError as exc:
        return report_error(command, exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PIPE_CLOSED
    return code


def _silence_stdout() -> None:
    # Python flushes stdout again at exit and would print a second BrokenPipeError there.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass

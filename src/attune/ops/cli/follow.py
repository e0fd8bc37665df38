"""Following a run from the terminal: its lines as the store gets them, then its outcome.

``attune runs log --follow`` and ``attune runs start`` share this: the store is polled (WAL
lets this process read while the run's owner writes), so it works the same whether the run
belongs to a dashboard or to this process.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from attune.ops.runs.ansi import strip_ansi
from attune.ops.store.database import Store
from attune.ops.store.runs import Run, RunStatus

__all__ = [
    "FOLLOW_POLL_S",
    "OwnerGone",
    "duration_text",
    "exit_code_of",
    "exit_text",
    "follow_run",
    "outcome_line",
    "print_lines",
    "server_alive",
    "wants_colour",
]

FOLLOW_POLL_S = 0.2


class OwnerGone(Exception):
    """The process that owns a running run is gone (it will be marked interrupted)."""


def exit_text(run: Run, prefix: str = "") -> str:
    """``4``, ``-15 (SIGTERM)``, or ``-`` when the run has none (yet)."""
    if run.exit_code is None:
        return "-"
    return f"{prefix}{run.exit_code}" + (f" ({run.signal})" if run.signal else "")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def exit_code_of(run: Run) -> int:
    """The command's exit code for a run: 0 when it succeeded, its own code when it has one,
    else 1 (cancelled, timed out, interrupted, killed by a signal)."""
    if run.status == RunStatus.SUCCEEDED:
        return 0
    return run.exit_code if run.exit_code and 0 < run.exit_code < 256 else 1


def outcome_line(run: Run) -> str:
    code = "" if run.exit_code is None else f" ({exit_text(run, prefix='exit ')})"
    return f"run {run.id} {run.status}{code} in {duration_text(run.duration_s)}"


def print_lines(
    store: Store, run_id: int, after: int, plain: bool, out: TextIO | None = None
) -> int:
    """Print the lines after ``after``; return the last line number printed."""
    out = out or sys.stdout
    for first, lines in store.iter_chunks(run_id, after):
        text = "".join(line + "\n" for line in lines)
        out.write(strip_ansi(text) if plain else text)
        after = first + len(lines) - 1
    out.flush()
    return after


def server_alive(run: Run) -> bool:
    """Whether the process that owns ``run`` still runs (unknown owners count as alive)."""
    if not run.server_pid:
        return True
    try:
        os.kill(run.server_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def follow_run(
    store: Store,
    run: Run,
    *,
    after: int = 0,
    plain: bool = False,
    out: TextIO | None = None,
    quiet: bool = False,
) -> Run:
    """Print the run's lines until it has ended (none with ``quiet``); the run as it ended.

    Raises :class:`OwnerGone` when its owner died meanwhile.
    """
    while run.status == RunStatus.RUNNING:
        if not server_alive(run):
            raise OwnerGone(run.id)
        if not quiet:
            after = print_lines(store, run.id, after, plain, out)
        time.sleep(FOLLOW_POLL_S)
        run = store.require_run(run.id)
    if not quiet:
        print_lines(store, run.id, after, plain, out)
    return run


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

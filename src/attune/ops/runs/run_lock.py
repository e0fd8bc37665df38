"""The one-run-at-a-time lock, shared by every dashboard and ``attune runs start`` of a home.

An advisory ``flock`` on ``<attune_home>/ops/run.lock``, taken without waiting when a run is
recorded and let go when its process has ended. The kernel drops it when its holder dies, so a
crashed dashboard never leaves a stale lock. The file says which run holds it (``run_id pid``),
so a refused start can point at that run; the descriptor is close-on-exec, so no workflow
process inherits the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

__all__ = ["RunLock", "holder_run_id"]

FILE_NAME = "run.lock"


class RunLock:
    """One acquisition of the home's run lock (a fresh open file description each time, as
    ``flock`` locks belong to one: two runners of one process exclude each other too)."""

    def __init__(self, ops_dir: Path) -> None:
        self.path = ops_dir / FILE_NAME
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock now, or ``False`` when another run holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def record(self, run_id: int) -> None:
        """Say which run holds the lock (read by :func:`holder_run_id`)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{run_id} {os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        """Let go (safe to call twice). The file stays: removing it would race a new holder."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing drops the flock


def holder_run_id(ops_dir: Path) -> int | None:
    """The run that holds the lock, as its holder wrote it (``None`` while it is unknown)."""
    try:
        text = (ops_dir / FILE_NAME).read_text(encoding="ascii")
        return int(text.split()[0])
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None

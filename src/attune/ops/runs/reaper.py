"""Every process a run started ends with it — also a daemon that double-forked out of the run's
process group (or into a session of its own).

Each run's processes carry ``ATTUNE_RUN_TAG=<random>`` in their environment (children inherit
it through every fork). When the run ends, its process group is killed and then ``/proc`` is
swept for any other process of this user carrying the tag. Linux only: without ``/proc`` (macOS)
only the process group is ended, and a process that clears its own environment escapes the
sweep.
"""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

__all__ = ["TAG_ENV", "kill_tagged", "new_tag", "tagged_pids"]

TAG_ENV = "ATTUNE_RUN_TAG"
PROC = Path("/proc")


def new_tag() -> str:
    return secrets.token_hex(8)


def tagged_pids(tag: str, proc: Path = PROC) -> list[int]:
    """The pids of live processes (other than this one) whose environment carries ``tag``."""
    marker = f"{TAG_ENV}={tag}".encode()
    me = os.getpid()
    found = []
    try:
        entries = list(proc.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone, or another user's
            continue
    return found


def kill_tagged(tag: str, proc: Path = PROC) -> list[int]:
    """SIGKILL every process carrying ``tag``; returns the pids signalled."""
    killed = []
    for pid in tagged_pids(tag, proc):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        killed.append(pid)
    return killed

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


def tagged_pids(tag: str, proc: Path = PROC, skip_group: int | None = None) -> list[int]:
    """Live processes (not this one, not zombies, not of group ``skip_group``) carrying ``tag``."""
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
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # gone, or another user's
            continue
        state, pgid = fields[0], int(fields[2])
        if state != "Z" and pgid != skip_group:  # the group is being killed as a whole
            found.append(int(entry.name))
    return found


def kill_tagged(tag: str, proc: Path = PROC, skip_group: int | None = None) -> list[int]:
    """SIGKILL every process carrying ``tag`` outside ``skip_group``; returns those signalled.

    The tag is random per run, so a pid reused since the scan would not carry it; the window
    between the scan and the kill is one pass over ``/proc``.
    """
    killed = []
    for pid in tagged_pids(tag, proc, skip_group):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        killed.append(pid)
    return killed

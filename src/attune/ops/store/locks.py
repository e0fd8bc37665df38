"""A database locked by another process: bounded waits, and who holds it.

SQLite waits for a lock up to its busy timeout. Nothing may wait long: a request that finds the
store locked answers ``store_unavailable`` (503) after :data:`BUSY_TIMEOUT_S`, and start-up says
in one line which file is locked and by which process (read from ``/proc``, where there is one).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from attune.ops.errors import StoreUnavailable

__all__ = ["BUSY_TIMEOUT_S", "is_locked", "lock_holders", "locked_error"]

BUSY_TIMEOUT_S = 5.0
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6


def is_locked(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says another connection holds a lock (busy or locked)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return True
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text


def lock_holders(db: Path, proc: Path = Path("/proc")) -> list[tuple[int, str]]:
    """``(pid, command line)`` of the other processes that have ``db`` (or its WAL) open."""
    try:
        targets = {str(db.resolve()), str(db.resolve()) + "-wal", str(db.resolve()) + "-shm"}
        entries = list(proc.iterdir())
    except OSError:
        return []
    holders = []
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(str(fd.readlink()) in targets for fd in (entry / "fd").iterdir()):
                raw = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                cmd = " ".join(raw.decode(errors="replace").split())
                holders.append((int(entry.name), cmd.strip()[:120]))
        except OSError:
            continue
    return holders


def locked_error(db: Path, doing: str) -> StoreUnavailable:
    """``StoreUnavailable`` for a lock that did not clear within the bounded wait."""
    holders = lock_holders(db)
    who = (
        "; held open by " + ", ".join(f"pid {pid} ({cmd})" for pid, cmd in holders[:3])
        if holders
        else ""
    )
    return StoreUnavailable(
        f"the run store {db} is locked by another process{who}: {doing} waited "
        f"{BUSY_TIMEOUT_S:g} s; try again when it lets go",
        locked=True,
    )

"""Reading a file of the project the way a stranger's file should be read.

Only a regular file, opened without blocking (``open()`` on a FIFO waits for a writer forever),
never through a symlink at the last component (a link planted after a listing is refused, not
followed), and at most ``limit`` bytes. The type is checked on the open descriptor, so a file
swapped for a FIFO between a listing and the open is refused too. Nothing here raises for a bad
file: the caller gets the bytes, or :class:`Refused` saying why, as the end of a sentence about
the file ("attune.toml is a FIFO (named pipe), not a regular file; it was not read").

One module for the scope picker's ``.gitignore`` rules, the built-in scans and the workflow
files, on the ground floor so that the standalone built-in workflows may use it too.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Refused", "read_regular"]

# O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; O_NOFOLLOW: a
# symlink is refused rather than followed (out of the tree, or to a device).
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
_KINDS = {
    stat.S_ISFIFO: "a FIFO (named pipe)",
    stat.S_ISDIR: "a directory",
    stat.S_ISSOCK: "a socket",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
}


@dataclass(frozen=True)
class Refused:
    """Why a file was not read, as the end of a sentence about it (``attune.toml is …``)."""

    reason: str


def read_regular(path: Path, limit: int) -> bytes | Refused:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes, else why not.

    Example: ``read_regular(root / ".gitignore", 1 << 20)``.
    """
    cap = f"limit of {limit:,} bytes"
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        return Refused(f"cannot be read: {exc.strerror or exc}")
    try:
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                return Refused(f"is {_kind(info.st_mode)}, not a regular file; it was not read")
            if info.st_size > limit:
                return Refused(f"is {info.st_size:,} bytes, over the {cap}; it was not read")
            # Sized by the stat: a read sized by the cap would allocate it for every small file.
            data = handle.read(info.st_size + 1)
            if len(data) > info.st_size:  # it grew since the stat: read on, up to the cap
                data += handle.read(limit + 1 - len(data))
    except OSError as exc:
        return Refused(f"cannot be read: {exc.strerror or exc}")
    if len(data) > limit:
        return Refused(f"grew past the {cap} while it was read; it was not read")
    return data


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS.items() if test(mode)), "not a regular file")

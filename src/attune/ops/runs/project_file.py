"""Reading a file of the project the way a stranger's file should be read.

Only a regular file, opened without blocking (``open()`` on a FIFO waits for a writer forever
and would hang the dashboard), at most ``limit`` bytes, UTF-8, and through a symlink only when
it stays inside the project root. Nothing here raises for a bad file: the caller gets the text,
``None`` when there is no file, or :class:`Refused` saying why the file was not used.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_FILE_BYTES", "Refused", "read_project_text"]

MAX_FILE_BYTES = 1024 * 1024
# O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; O_NOFOLLOW: the
# path opened is the resolved one, so a symlink planted since is refused, not followed.
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


def read_project_text(path: Path, root: Path, limit: int = MAX_FILE_BYTES) -> str | Refused | None:
    """The text of ``path`` (inside ``root``), ``None`` when it does not exist, or why not.

    Example: ``read_project_text(root / "attune.toml", root)``.
    """
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        return None  # no file, or a dangling symlink
    except (OSError, RuntimeError) as exc:  # a symlink loop
        return Refused(f"cannot be read: {exc}")
    if not real.is_relative_to(root.resolve()):
        return Refused(f"is a symlink to {real}, outside the project root; it was not read")
    data = _read_bytes(real, limit)
    if isinstance(data, Refused):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Refused(f"cannot be read: it is not UTF-8 text ({exc})")


def _read_bytes(real: Path, limit: int) -> bytes | Refused:
    cap = f"limit of {limit:,} bytes"
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as exc:
        return Refused(f"cannot be read: {exc.strerror or exc}")
    try:
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                return Refused(f"is {_kind(info.st_mode)}, not a regular file; it was not read")
            if info.st_size > limit:
                return Refused(f"is {info.st_size:,} bytes, over the {cap}; it was not read")
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

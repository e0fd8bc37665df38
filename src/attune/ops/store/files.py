"""The store's files on disk: an owner-only folder and database, and a path that cannot be one.

Logs hold whatever a workflow printed (tokens, keys, customer data), so the folder is 0700 and
``ops.db`` with its ``-wal``/``-shm`` files 0600. SQLite gives the ``-wal`` and ``-shm`` files
the mode of the database file, so creating that file 0600 before SQLite opens it is enough for
new files; files made by an older version (0644 in a 0755 folder) are tightened at open.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from attune.ops.errors import StoreUnavailable

__all__ = ["FILE_MODE", "FOLDER_MODE", "SIDE_SUFFIXES", "create_database_file", "prepare_files"]

logger = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


def prepare_files(path: Path) -> None:
    """Make ``path``'s folder (0700) and database file (0600), tightening existing ones.

    Raises :class:`StoreUnavailable` naming the path and what to do when the folder cannot be
    made or ``path`` is something other than a file (a directory, a FIFO, a socket).
    """
    folder = path.parent
    try:
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(
            f"the folder of the run store {folder} cannot be created ({_reason(exc)}): "
            "make it a writable directory, or point ATTUNE_HOME elsewhere"
        ) from exc
    if _own_private_folder(folder):
        _tighten(folder, FOLDER_MODE)
    _require_file_or_nothing(path)
    create_database_file(path)
    for side in (path, *(path.with_name(path.name + s) for s in SIDE_SUFFIXES)):
        _tighten(side, FILE_MODE)


def create_database_file(path: Path) -> None:
    """Create an empty ``path`` with mode 0600 unless it exists (SQLite then fills it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreUnavailable(
            f"the run store {path} cannot be created ({_reason(exc)}): "
            f"make {path.parent} writable, or point ATTUNE_HOME elsewhere"
        ) from exc
    os.close(fd)


def _require_file_or_nothing(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreUnavailable(f"the run store {path} cannot be read ({_reason(exc)})") from exc
    if stat.S_ISREG(mode):
        return
    kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
    raise StoreUnavailable(
        f"the run store {path} is {kind}, not a database file: move it aside "
        f"(mv {path} {path}.old) and start again; a new, empty store will be created"
    )


def _own_private_folder(folder: Path) -> bool:
    """Whether ``folder`` may be made owner-only: ours, and not a shared folder such as
    ``/tmp`` (sticky or writable by others), which a database put there must never close."""
    try:
        st = folder.stat()
    except OSError:
        return False
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return False
    return not st.st_mode & (stat.S_ISVTX | stat.S_IWOTH)


def _tighten(path: Path, mode: int) -> None:
    """Drop the permission bits of ``path`` beyond ``mode`` (never adds any)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    current = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode) or not current & ~mode:
        return
    try:
        path.chmod(current & mode)
    except OSError as exc:
        logger.warning(
            "%s is readable by others (mode %o) and could not be made owner-only: %s",
            path,
            current,
            _reason(exc),
        )


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__

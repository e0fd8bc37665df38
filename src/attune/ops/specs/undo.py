"""Undoing a status change for a minute: the exact previous bytes, if nothing touched the file.

Each change written by "Mark complete" is remembered (in memory, per server) under a random
token for :data:`UNDO_SECONDS`. Undo puts back the bytes every file had before, but only when
each file still holds exactly the bytes the change wrote: an edit made since is never lost. A
token that is unknown, used or older than the minute is UndoExpired (409); a file changed since
is UndoFileChanged (409).
"""

from __future__ import annotations

import secrets
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from attune.ops.errors import UndoExpired, UndoFileChanged
from attune.ops.specs.edit import MAX_EDIT_BYTES, FileEdit, StatusChange, replace_file

__all__ = ["UNDO_SECONDS", "UndoLog", "Undone"]

UNDO_SECONDS = 60.0


@dataclass(frozen=True)
class Undone:
    """What an undo put back."""

    path: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class _Entry:
    path: str
    edits: tuple[FileEdit, ...]
    expires: float


class UndoLog:
    """Recent status changes that can still be undone. Thread-safe."""

    def __init__(
        self, seconds: float = UNDO_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def record(self, change: StatusChange) -> str:
        """Remember ``change`` for a minute; the token to undo it with."""
        token = secrets.token_urlsafe(18)
        with self._lock:
            now = self._clock()
            self._entries = {t: e for t, e in self._entries.items() if e.expires > now}
            self._entries[token] = _Entry(change.path, change.edits, now + self.seconds)
        return token

    def undo(self, token: str) -> Undone:
        """Put back what the change of ``token`` replaced, byte for byte.

        Every file is checked before any is written. Raises UndoExpired or UndoFileChanged.
        """
        with self._lock:
            entry = self._entries.get(token)
            if entry is None or entry.expires <= self._clock():
                self._entries.pop(token, None)
                raise UndoExpired(
                    "Nothing to undo: a change can be undone for one minute after it is made "
                    "(and not after the dashboard restarted)."
                )
            stats = [_unchanged(edit) for edit in entry.edits]
            for edit, expected in zip(entry.edits, stats, strict=True):
                replace_file(edit.path, edit.filename, edit.before, expected)
            del self._entries[token]
        return Undone(entry.path, tuple(edit.filename for edit in entry.edits))


def _unchanged(edit: FileEdit) -> tuple[int, int, int]:
    """The stat of ``edit``'s file when it still holds exactly the bytes written, else raise."""
    changed = UndoFileChanged(
        f"{edit.filename} was changed after the status change; undoing it would lose that "
        "edit, so the file is left as it is.",
        file=edit.filename,
    )
    try:
        st = edit.path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_EDIT_BYTES:
            raise changed
        with edit.path.open("rb") as handle:
            data = handle.read(MAX_EDIT_BYTES + 1)
    except OSError as exc:
        raise changed from exc
    if data != edit.after:
        raise changed
    return (st.st_mtime_ns, st.st_size, st.st_ino)

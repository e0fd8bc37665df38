"""A damaged database: found at start by a bounded check, answered clearly when a read hits it.

A file whose pages were partly overwritten (a disk fault, a copy taken mid-write) still opens,
and most of its runs still read. So it is kept, its state recorded as ``Store.integrity``, and
a read that reaches a damaged page raises :class:`StoreUnavailable` naming what could not be
read and pointing to ``attune ops doctor`` — never a traceback, a 500 or a cut connection.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from attune.ops.errors import StoreUnavailable

__all__ = [
    "INTEGRITY_BUDGET_S",
    "INTEGRITY_OK",
    "INTEGRITY_UNCHECKED",
    "check_integrity",
    "describe",
    "is_damage",
    "reading",
]

INTEGRITY_OK = "ok"
INTEGRITY_UNCHECKED = "unchecked"
# At start the check may delay the dashboard by at most this much; a bigger file is left
# "unchecked" (``attune ops doctor`` can check it without a limit).
INTEGRITY_BUDGET_S = 2.0

_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_DAMAGE_CODES = {_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_NOTADB}
DOCTOR_HINT = "run `attune ops doctor` to check the database"


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says the file is damaged or unreadable (not busy, full or read-only)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _DAMAGE_CODES:
        return True
    text = str(exc).lower()
    # Stored text is always valid UTF-8 (the runner replaces bad bytes): text that does not
    # decode was changed on disk.
    return "malformed" in text or "not a database" in text or "could not decode" in text


@contextmanager
def reading(what: str, **extra: object) -> Iterator[None]:
    """Turn a damage error inside the block into ``StoreUnavailable("<what> cannot be read…")``."""
    try:
        yield
    except sqlite3.Error as exc:
        if not is_damage(exc):
            raise
        raise StoreUnavailable(
            f"{what} cannot be read from the database ({describe(exc)}); {DOCTOR_HINT}",
            **extra,
        ) from exc


def describe(exc: sqlite3.Error) -> str:
    """One short line for ``exc``, never the stored text some errors quote."""
    text = str(exc)
    if "could not decode" in text.lower():
        return "its text is not valid UTF-8, so it was changed on disk"
    return (text.splitlines() or [type(exc).__name__])[0][:200]


def check_integrity(conn: sqlite3.Connection, budget_s: float | None) -> str:
    """``PRAGMA quick_check`` on ``conn``: ``"ok"``, the first problem, or ``"unchecked"``.

    ``budget_s`` bounds the check (a progress handler interrupts it); ``None`` checks all.
    """
    if budget_s is not None and budget_s <= 0:
        return INTEGRITY_UNCHECKED
    if budget_s is not None:
        deadline = time.monotonic() + budget_s
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.Error as exc:
        if "interrupted" in str(exc).lower():
            return INTEGRITY_UNCHECKED
        return _first_problem(describe(exc))
    finally:
        conn.set_progress_handler(None, 0)
    text = "\n".join(str(r[0]) for r in rows)
    return INTEGRITY_OK if text in ("", INTEGRITY_OK) else _first_problem(text)


def _first_problem(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("*** in database")]
    return (lines[0] if lines else text.strip())[:300]

"""A log's plain text: what "Download plain", ``attune runs log --plain`` and search all see.

One grammar, mirrored token for token by the run page's ``static/ansi.js`` (which also renders
the SGR colours); ``tests/test_browser_ansi.py`` feeds both the same output and compares.

Within a line (``\\n`` ends every sequence):

- CSI ``ESC [ params* intermediates* final`` (SGR colours, cursor moves, ``ESC[K``, ``ESC[2J``)
  is removed whole; one cut short by the line's end or a foreign byte loses ``ESC [`` and
  what it had read, and the foreign byte stays.
- String sequences ``ESC ]`` (OSC: titles, OSC 8 hyperlinks), ``ESC P``, ``ESC X``, ``ESC ^``,
  ``ESC _`` are removed up to BEL, ST (``ESC \\``), the next ESC or the line's end, so an
  OSC 8 link leaves its text and loses its URL.
- Any other escape ``ESC intermediates* final`` (``ESC(B``, ``ESC=``, ``ESC7``) is removed;
  a lone ESC is removed and the character after it stays.
- C0 controls other than tab, newline and carriage return, and DEL, are removed.
- Then carriage returns: a terminal overwrites the line, so only the last non-empty
  ``\\r``-separated part is kept (``10%\\r20%\\r100%`` is ``100%``); an empty part never erases
  what came before it, so a trailing ``\\r`` (a CRLF line) keeps its line.
"""

from __future__ import annotations

import re

__all__ = ["ANSI_RE", "strip_ansi"]

ANSI_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b\n]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]"
)
# Everything up to the start of a line's last non-empty part, and the empty parts after it.
_OVERWRITTEN_RE = re.compile(r"^[^\n]*\r(?=[^\r\n])|\r+$", re.MULTILINE)


def strip_ansi(text: str) -> str:
    """``text`` as a terminal would leave it to read: escape sequences and controls removed,
    each line reduced to what its last carriage return left visible.

    >>> strip_ansi("\\x1b[1mbuild\\x1b[0m 10%\\r\\x1b[1mbuild\\x1b[0m 100%\\n")
    'build 100%\\n'
    """
    plain = ANSI_RE.sub("", text)
    return _OVERWRITTEN_RE.sub("", plain) if "\r" in plain else plain

"""A log's plain text: what "Download plain", ``attune runs log --plain`` and search all see.

One grammar (ECMA-48 as terminals and CI log viewers read it), mirrored by the run page's
``static/ansi.js``; a browser test feeds both the same coloured output and compares.
"""

from __future__ import annotations

import re

__all__ = ["ANSI_RE", "strip_ansi"]

ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (colours, cursor moves, OSC titles)."""
    return ANSI_RE.sub("", text)

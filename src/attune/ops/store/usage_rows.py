"""One API response's usage as the store keeps it, and how two lines of it merge.

Only usage: times, ids, the model, folder, branch, versions and token counts — never a word
of a transcript's content.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["DAY_MS", "MessageRow", "Pricer", "merge", "storable"]

DAY_MS = 86_400_000


class MessageRow(NamedTuple):
    """One API response's usage, as read from one line (no content, ever). A named tuple:
    a million of them are made in a cold ingest, and a tuple is the cheapest value to make."""

    key: str
    request_id: str | None
    ts: int  # epoch milliseconds, UTC
    session_id: str
    cwd: str
    model: str
    git_branch: str | None
    version: str | None
    sidechain: bool
    speed: str | None
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_5m_tokens: int | None
    cache_1h_tokens: int | None
    cache_read_tokens: int
    web_searches: int

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_tokens
            + self.cache_read_tokens
        )


# (cost in pico-dollars or None when the model has no price, cache savings in pico-dollars)
Pricer = Callable[[MessageRow], tuple[int | None, int]]


def _max_opt(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def merge(old: MessageRow, new: MessageRow) -> MessageRow:
    """Two lines of one response: the largest value of each usage field, the earliest line's
    time, session, folder and versions; a sidechain only if every line was one."""
    first, other = (old, new) if old.ts <= new.ts else (new, old)
    # positional, and made by ``tuple.__new__``: ``_replace`` or the named tuple's own
    # ``__new__`` cost several times more, and workers merge every repeated line
    return _new_row(
        MessageRow,
        (
            first.key,
            first.request_id or other.request_id,
            first.ts,
            first.session_id,
            first.cwd,
            first.model,
            first.git_branch or other.git_branch,
            first.version or other.version,
            old.sidechain and new.sidechain,
            first.speed or other.speed,
            max(old.input_tokens, new.input_tokens),
            max(old.output_tokens, new.output_tokens),
            max(old.cache_creation_tokens, new.cache_creation_tokens),
            _max_opt(old.cache_5m_tokens, new.cache_5m_tokens),
            _max_opt(old.cache_1h_tokens, new.cache_1h_tokens),
            max(old.cache_read_tokens, new.cache_read_tokens),
            max(old.web_searches, new.web_searches),
        ),
    )


_new_row = tuple.__new__


def storable(row: MessageRow) -> MessageRow:
    """``row`` with every text field encodable as UTF-8: a lone surrogate (which JSON can
    carry as ``\\ud800``, and no database takes) becomes U+FFFD."""
    return _new_row(
        MessageRow, tuple(_SURROGATE.sub("\ufffd", v) if type(v) is str else v for v in row)
    )


_SURROGATE = re.compile("[\ud800-\udfff]")

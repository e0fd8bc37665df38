"""History search on PostgreSQL: the same three kinds of query as SQLite's (store/search.py).

One ``pg_trgm`` GIN index on the chunks' text (migration 4 on PostgreSQL) serves them all, and
PostgreSQL keeps it current on every insert, so running runs are found like finished ones:

- **plain text** of 3+ characters: ``ILIKE '%text%'`` (any case), answered from the index;
- **shorter text**: the same ``ILIKE``, scanning newest runs first (no trigram to look up);
- **"quoted words"**: a regular expression matching the words in order, with any spacing or
  punctuation between them and never inside a longer word — what SQLite's word index (FTS5's
  ``unicode61`` tokenizer) does with a phrase. ``pg_trgm`` answers regular expressions from the
  index too. The expression spells out what the database's locale would otherwise decide (a
  ``C`` locale knows no letter beyond ASCII, nor any case but ASCII's): a word character is a
  Unicode letter or number, every letter of a word stands for its cases and, in Latin script,
  its accented forms (``"naive"`` finds ``Naïve``, as ``unicode61`` removes diacritics).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from attune.ops.errors import InvalidFilter
from attune.ops.store.search import (
    MAX_QUERY_CHARS,
    TRIGRAM,
    SearchMode,
    SearchPlan,
    like_pattern,
)

__all__ = ["plan_pg_search", "words_regex"]

_TOKEN = re.compile(r"[^\W_]+")  # what SQLite's unicode61 tokenizer calls a word

_SUBSTRING_SQL = "id IN (SELECT run_id FROM run_chunks WHERE text ILIKE ? ESCAPE '\\')"
_SCAN_SQL = (
    "EXISTS (SELECT 1 FROM run_chunks c WHERE c.run_id = runs.id AND c.text ILIKE ? ESCAPE '\\')"
)
_WORDS_SQL = "id IN (SELECT run_id FROM run_chunks WHERE text ~ ?)"

# Latin script, where unicode61 folds an accented letter to its base letter
_LATIN = ((0x00C0, 0x024F), (0x1E00, 0x1EFF))


@cache
def _word_class() -> str:
    """The inside of a bracket expression holding every character unicode61 keeps in a word
    (Unicode letters, numbers and private use), as ranges; built once, on the first search."""
    parts = ["0-9A-Za-z"]
    start = None
    for cp in range(0x80, 0x110001):
        inside = cp <= 0x10FFFF and (
            unicodedata.category(chr(cp))[0] in "LN" or unicodedata.category(chr(cp)) == "Co"
        )
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            parts.append(chr(start) if start == cp - 1 else f"{chr(start)}-{chr(cp - 1)}")
            start = None
    return "".join(parts)


def _fold(ch: str) -> str:
    """A letter as unicode61 compares it: lower case, and without its accent in Latin script."""
    low = ch.lower()
    if len(low) == 1 and any(lo <= ord(low) <= hi for lo, hi in _LATIN):
        base = unicodedata.normalize("NFD", low)[0]
        if base.isascii() and base.isalpha():
            return base
    return low


@cache
def _variants() -> dict[str, frozenset[str]]:
    """Each folded letter → every character that folds to it (``e`` → ``eEéÉèÈ…``)."""
    found: dict[str, set[str]] = {}
    for lo, hi in ((0x41, 0x5A), (0x61, 0x7A), *_LATIN):
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            found.setdefault(_fold(ch), set()).add(ch)
    return {key: frozenset(chars) for key, chars in found.items()}


def _letter(ch: str) -> str:
    """``ch`` in a regular expression: every character that is the same letter to unicode61."""
    chars = {ch, *_variants().get(_fold(ch), ())}
    chars.update(c for c in (ch.lower(), ch.upper()) if len(c) == 1)
    if len(chars) == 1:
        return re.escape(ch)
    return "[" + "".join(sorted(chars)) + "]"


def words_regex(words: str) -> str | None:
    """The regular expression of a quoted search, ``None`` when it holds no word at all."""
    tokens = _TOKEN.findall(words)
    if not tokens:
        return None
    gap = f"[^{_word_class()}]"
    body = f"{gap}+".join("".join(_letter(ch) for ch in token) for token in tokens)
    return f"(^|{gap}){body}({gap}|$)"


def plan_pg_search(q: str) -> SearchPlan:
    """The condition that finds the runs whose log matches ``q`` (already stripped)."""
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidFilter(f"the search text is longer than {MAX_QUERY_CHARS:,} characters")
    words = q[1:-1].strip() if len(q) >= 2 and q[0] == q[-1] == '"' else ""
    if words:
        regex = words_regex(words)
        if regex is None:
            return SearchPlan(SearchMode.WORDS, "FALSE", ())
        return SearchPlan(SearchMode.WORDS, _WORDS_SQL, (regex,))
    if len(q) >= TRIGRAM:
        return SearchPlan(SearchMode.SUBSTRING, _SUBSTRING_SQL, (like_pattern(q),))
    return SearchPlan(SearchMode.SCAN, _SCAN_SQL, (like_pattern(q),))

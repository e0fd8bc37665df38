"""History search on PostgreSQL: the same three kinds of query as SQLite's (store/search.py).

One ``pg_trgm`` GIN index on the chunks' text (migration 4 on PostgreSQL) serves them all, and
PostgreSQL keeps it current on every insert, so running runs are found like finished ones:

- **plain text** of 3+ characters: ``ILIKE '%text%'`` (any case), answered from the index;
- **shorter text**: the same ``ILIKE``, scanning newest runs first (no trigram to look up);
- **"quoted words"**: a regular expression matching the words in order, with any spacing or
  punctuation between them and never inside a longer word — what SQLite's word index (FTS5's
  ``unicode61`` tokenizer) does with a phrase. ``pg_trgm`` answers regular expressions from the
  index too, as long as the expression stays plain: every letter of a word stands for its
  cases (``[Nn]``: a ``C`` locale knows no case but ASCII's), and a gap between words is any
  run of ASCII punctuation, spaces or Unicode's general and CJK punctuation. Accents are *not*
  folded: ``unicode61`` lets ``"naive"`` find ``Naïve``, but the classes that takes (every
  accented form of every letter) leave the index nothing to look up, and a scan of every log
  took a second at a million lines (bench/team.py). Unaccented search would need the
  ``unaccent`` extension and an index on the folded text.
"""

from __future__ import annotations

import re

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

# What separates words: ASCII that is not a letter or digit (``_`` included, as unicode61
# has it), Latin-1's punctuation and symbols, Unicode's general punctuation and CJK
# punctuation; every other character counts as part of a word. A short, positive class keeps
# the expression cheap to plan (a negated class over all of Unicode took 18 ms to plan and
# 17 ms to scan the index, this one 1 ms and 0.6 ms on 30,000 chunks).
_GAP = "[\x01-/:-@\\[-`{-\x7f\u00a0-\u00bf\u00d7\u00f7\u2000-\u206f\u3000-\u303f]"


def _letter(ch: str) -> str:
    """``ch`` in a regular expression: itself in either case (``[Nn]``), escaped otherwise."""
    cases = dict.fromkeys(c for c in (ch, ch.lower(), ch.upper()) if len(c) == 1)
    if len(cases) == 1:
        return re.escape(ch)
    return "[" + "".join(cases) + "]"


def words_regex(words: str) -> str | None:
    """The regular expression of a quoted search, ``None`` when it holds no word at all."""
    tokens = _TOKEN.findall(words)
    if not tokens:
        return None
    body = f"{_GAP}+".join("".join(_letter(ch) for ch in token) for token in tokens)
    return f"(^|{_GAP}){body}({_GAP}|$)"


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

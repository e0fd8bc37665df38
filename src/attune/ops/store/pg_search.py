"""History search on PostgreSQL: the same three kinds of query as SQLite's (store/search.py).

One ``pg_trgm`` GIN index on the chunks' text (migration 4 on PostgreSQL) serves them all, and
PostgreSQL keeps it current on every insert, so running runs are found like finished ones:

- **plain text** of 3+ characters: ``ILIKE '%text%'`` (any case), answered from the index;
- **shorter text**: the same ``ILIKE``, scanning newest runs first (no trigram to look up);
- **"quoted words"**: a case-insensitive regular expression matching the words in order, with
  any spacing or punctuation between them and never inside a longer word — what SQLite's word
  index does with a phrase. ``pg_trgm`` answers regular expressions from the index too.
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
_WORDS_SQL = "id IN (SELECT run_id FROM run_chunks WHERE text ~* ?)"


def words_regex(words: str) -> str | None:
    """The regular expression of a quoted search, ``None`` when it holds no word at all."""
    tokens = _TOKEN.findall(words)
    if not tokens:
        return None
    body = "[^[:alnum:]]+".join(re.escape(t) for t in tokens)
    return f"(^|[^[:alnum:]]){body}([^[:alnum:]]|$)"


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

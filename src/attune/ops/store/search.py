"""History search: how ``q=`` picks an index, and the SQL condition on ``runs`` it becomes.

- **Plain text** finds the runs whose output contains it, ignoring ASCII case — what the search
  inside a run page does, so ``itsdanger`` finds ``itsdangerous`` and ``AKIA`` finds
  ``AKIAIOSFODNN7EXAMPLE``. From 3 characters on it is looked up in the trigram index (every
  3-character piece of the text; ``detail=none``, so it stores no positions): the chunks that
  hold all the query's trigrams are the candidates, and ``LIKE`` confirms them.
- **Shorter text** has no trigram. A 1–2 character text is in most runs, so runs are scanned
  newest first and a page fills after a few of them (a rare one costs a scan of every log).
- **Text in double quotes** (``"connection reset"``) searches whole words and phrases in the
  word index: any case, spacing or punctuation between the words, never part of a word.
- Runs not yet in the index a query uses (still running, or finished before that index
  existed and not yet reached by the background indexer) are scanned with ``LIKE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from attune.ops.errors import InvalidFilter

__all__ = ["MAX_QUERY_CHARS", "SearchMode", "SearchPlan", "plan_search"]

MAX_QUERY_CHARS = 1000  # far beyond any real search; keeps LIKE under SQLite's pattern limit
TRIGRAM = 3


class SearchMode(StrEnum):
    WORDS = "words"  # "quoted" text: the word index
    SUBSTRING = "substring"  # 3+ characters: the trigram index
    SCAN = "scan"  # 1-2 characters: newest runs first, LIKE


@dataclass(frozen=True)
class SearchPlan:
    """A condition on ``runs`` (``sql``, with ``?`` placeholders for ``args``)."""

    mode: SearchMode
    sql: str
    args: tuple[str, ...]


def plan_search(q: str) -> SearchPlan:
    """The condition that finds the runs whose log matches ``q`` (already stripped)."""
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidFilter(f"the search text is longer than {MAX_QUERY_CHARS:,} characters")
    words = q[1:-1].strip() if len(q) >= 2 and q[0] == q[-1] == '"' else ""
    if words:
        return SearchPlan(SearchMode.WORDS, _WORDS_SQL, (fts_phrase(words), like_pattern(words)))
    if len(q) >= TRIGRAM:
        pattern = like_pattern(q)
        return SearchPlan(SearchMode.SUBSTRING, _TRIGRAM_SQL, (trigram_query(q), pattern, pattern))
    return SearchPlan(SearchMode.SCAN, _SCAN_SQL, (like_pattern(q),))


def fts_phrase(q: str) -> str:
    """``q`` as one FTS5 phrase (quotes doubled), so user text is never FTS syntax."""
    return '"' + q.replace('"', '""') + '"'


def trigram_query(q: str) -> str:
    """An FTS5 query for the chunks holding every 3-character piece of ``q``.

    ``detail=none`` cannot match a phrase, so the pieces are ANDed; overlapping pieces are
    left out where non-overlapping ones already cover the text (fewer lists to read, and LIKE
    checks the order anyway).
    """
    starts = list(range(0, len(q) - TRIGRAM + 1, TRIGRAM))
    if starts[-1] != len(q) - TRIGRAM:
        starts.append(len(q) - TRIGRAM)
    pieces = dict.fromkeys(q[i : i + TRIGRAM] for i in starts)
    return " ".join(fts_phrase(piece) for piece in pieces)


def like_pattern(q: str) -> str:
    """``%q%`` for ``LIKE … ESCAPE '\\'``: ``%``, ``_`` and ``\\`` in ``q`` match themselves."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Each condition: the runs an index finds, or (for runs that index has not reached yet) a scan.
_WORDS_SQL = (
    "(id IN (SELECT c.run_id FROM run_chunks c WHERE c.id IN "
    "(SELECT rowid FROM run_chunks_fts WHERE run_chunks_fts MATCH ?)) "
    "OR (indexed = 0 AND id IN (SELECT run_id FROM run_chunks "
    "WHERE run_id IN (SELECT id FROM runs WHERE indexed = 0) AND text LIKE ? ESCAPE '\\')))"
)
_TRIGRAM_SQL = (
    "(id IN (SELECT c.run_id FROM run_chunks c WHERE c.id IN "
    "(SELECT rowid FROM run_chunks_trigram WHERE run_chunks_trigram MATCH ?) "
    "AND c.text LIKE ? ESCAPE '\\') "
    "OR (trigram_indexed = 0 AND id IN (SELECT run_id FROM run_chunks "
    "WHERE run_id IN (SELECT id FROM runs WHERE trigram_indexed = 0) "
    "AND text LIKE ? ESCAPE '\\')))"
)
_SCAN_SQL = (
    "EXISTS (SELECT 1 FROM run_chunks c WHERE c.run_id = runs.id AND c.text LIKE ? ESCAPE '\\')"
)

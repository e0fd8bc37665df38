"""The store's SQL on PostgreSQL: each statement translated once, and rows like ``sqlite3.Row``.

The store writes portable SQL where there is a portable form (``ON CONFLICT`` upserts,
``CASE WHEN`` counts). What stays SQLite's is translated here, statement by statement, and the
result cached — a short, closed list, each rule tested on both backends, and none of them
touching text inside quotes:

- ``?`` placeholders become ``%s`` and a literal ``%`` becomes ``%%`` (psycopg's syntax), never
  inside a quoted string or name;
- SQLite's planner hints go: ``+column`` (keeps the planner off an index) loses its ``+``,
  ``INDEXED BY name`` is dropped and ``CROSS JOIN t ON`` (a fixed join order) is a ``JOIN``;
- the two-argument scalar ``min(a, b)`` / ``max(a, b)`` become ``least`` / ``greatest``
  (which skip a NULL where SQLite's return NULL: the store only compares NOT NULL columns);
- ``x IS ?`` (SQLite's null-safe equality) becomes ``x IS NOT DISTINCT FROM %s``;
- ``json_each(?)`` over a JSON list of ids becomes ``jsonb_array_elements_text``;
- ``CAST(… AS INTEGER)`` / ``AS REAL`` become ``BIGINT`` / ``DOUBLE PRECISION`` (SQLite's
  integers are 64-bit, its reals doubles; PostgreSQL rounds a fraction where SQLite truncates:
  the store casts only integer text);
- an ``INSERT`` into a table with an ``id`` gets ``RETURNING id``, for ``cursor.lastrowid``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, ClassVar

__all__ = ["PgRow", "Translated", "row_class", "to_number", "translate"]

# Tables whose rows get an id from an identity column (``INTEGER PRIMARY KEY`` in SQLite).
ID_TABLES = frozenset({"runs", "run_chunks", "usage_files", "usage_cwds", "tests"})

_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_HINT = re.compile(r"(?<=[\s(])\+(?=[a-z_])")
_INDEXED_BY = re.compile(r"\s+INDEXED\s+BY\s+\w+", re.IGNORECASE)
_CROSS_JOIN_ON = re.compile(r"\bCROSS\s+JOIN\s+(\w+(?:\s+(?!ON\b)\w+)?)\s+ON\b", re.IGNORECASE)
_IS_PARAM = re.compile(r"\bIS\s+\?", re.IGNORECASE)
_JSON_EACH = re.compile(r"SELECT\s+value\s+FROM\s+json_each\(\?\)", re.IGNORECASE)
_CASTS = (
    (re.compile(r"\bAS\s+INTEGER\)", re.I), "AS BIGINT)"),
    (re.compile(r"\bAS\s+REAL\)", re.I), "AS DOUBLE PRECISION)"),
)
_SCALAR = re.compile(r"\b(min|max)\(", re.IGNORECASE)


@dataclass(frozen=True)
class Translated:
    """A statement in PostgreSQL's dialect, and whether it returns the new row's id."""

    sql: str
    returns_id: bool


@lru_cache(maxsize=1024)
def translate(sql: str) -> Translated:
    """``sql`` (the store's SQLite dialect) for PostgreSQL through psycopg."""
    out = _JSON_EACH.sub(
        "SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text(CAST(? AS jsonb)) AS j(value)",
        sql,
    )
    out = _outside_quotes(out, _rewrite)
    out = _scalar_min_max(out)
    insert = _INSERT.match(out)
    returns_id = bool(
        insert
        and insert.group(1).lower() in ID_TABLES
        and not re.search(r"\b(RETURNING|ON\s+CONFLICT)\b", out, re.IGNORECASE)
    )
    if returns_id:
        out = out.rstrip().rstrip(";") + " RETURNING id"
    return Translated(_placeholders(out), returns_id)


def _rewrite(part: str) -> str:
    """The token rules, on a piece of SQL that holds no quoted text."""
    part = _IS_PARAM.sub("IS NOT DISTINCT FROM ?", part)
    part = _HINT.sub("", part)
    part = _INDEXED_BY.sub("", part)
    part = _CROSS_JOIN_ON.sub(r"JOIN \1 ON", part)
    for pattern, replacement in _CASTS:
        part = pattern.sub(replacement, part)
    return part


def _quoted_spans(sql: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every quoted string or name in ``sql`` (quotes included)."""
    spans, quote, start = [], "", 0
    for i, ch in enumerate(sql):
        if quote:
            if ch == quote:
                spans.append((start, i + 1))
                quote = ""
        elif ch in "'\"":
            quote, start = ch, i
    if quote:
        spans.append((start, len(sql)))
    return spans


def _outside_quotes(sql: str, rule: Callable[[str], str]) -> str:
    """``rule`` applied to the text between quoted strings and names, which stay as they are."""
    out, pos = [], 0
    for start, end in _quoted_spans(sql):
        out += [rule(sql[pos:start]), sql[start:end]]
        pos = end
    out.append(rule(sql[pos:]))
    return "".join(out)


def _placeholders(sql: str) -> str:
    """``?`` → ``%s`` and ``%`` → ``%%`` outside quoted strings and names (``%`` inside too)."""
    out, pos = [], 0
    for start, end in _quoted_spans(sql):
        out += [sql[pos:start].replace("%", "%%").replace("?", "%s")]
        out += [sql[start:end].replace("%", "%%")]
        pos = end
    out.append(sql[pos:].replace("%", "%%").replace("?", "%s"))
    return "".join(out)


def _scalar_min_max(sql: str) -> str:
    """``min(a, b)`` → ``least(a, b)``, ``max`` → ``greatest``; one-argument aggregates stay."""
    pos = 0
    out: list[str] = []
    quoted = _quoted_spans(sql)
    for match in _SCALAR.finditer(sql):
        if match.start() < pos or any(a <= match.start() < b for a, b in quoted):
            continue
        close, has_comma = _closing(sql, match.end())
        if not has_comma:
            continue
        out.append(sql[pos : match.start()])
        name = "least" if match.group(1).lower() == "min" else "greatest"
        inner = _scalar_min_max(sql[match.end() : close])
        out.append(f"{name}({inner})")
        pos = close + 1
    out.append(sql[pos:])
    return "".join(out)


def _closing(sql: str, start: int) -> tuple[int, bool]:
    """The index of the ``)`` closing a call whose arguments start at ``start``, and whether
    the call has more than one argument."""
    depth, comma, quote = 0, False, ""
    for i in range(start, len(sql)):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                return i, comma
            depth -= 1
        elif ch == "," and depth == 0:
            comma = True
    return len(sql), False


class PgRow(tuple[Any, ...]):
    """A row that reads by position and by column name, like ``sqlite3.Row``."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@lru_cache(maxsize=256)
def row_class(names: tuple[str, ...]) -> type[PgRow]:
    """The row class of a result with these column names (made once per shape)."""
    index = {name: i for i, name in enumerate(names)}
    return type("Row", (PgRow,), {"__slots__": (), "_index": index})


def to_number(value: Decimal) -> int | float:
    """A ``numeric`` result (``sum`` of integers, ``avg``) as SQLite gives it: int or float."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)

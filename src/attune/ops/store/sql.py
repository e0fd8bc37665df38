"""What the store's SQL runs on: a connection either backend hands out.

The store's statements are written once, in SQLite's dialect with ``?`` placeholders, and run on
``sqlite3`` as they are; the PostgreSQL backend translates each one once (store/pg_sql.py) and
gives rows that read by index and by column name like ``sqlite3.Row``. Code in ``store/``
types its connections with :class:`Connection`, so it never knows which backend it has.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

__all__ = ["IN_BATCH", "Connection", "Cursor", "Row", "rows_in"]

# A row reads by position and by column name (``sqlite3.Row`` or the PostgreSQL backend's).
Row = Any


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses."""

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the store uses, inside one transaction."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Cursor: ...


IN_BATCH = 500  # values per ``IN (…)`` list: far from either backend's bound on parameters


def rows_in(
    conn: Connection, sql: str, values: Sequence[Any], leading: Sequence[Any] = ()
) -> Iterator[Row]:
    """The rows of ``sql`` for every one of ``values``, asked :data:`IN_BATCH` at a time:
    ``sql`` holds ``{marks}`` where its ``IN (…)`` list goes, after the ``leading`` ones."""
    for start in range(0, len(values), IN_BATCH):
        part = values[start : start + IN_BATCH]
        yield from conn.execute(sql.format(marks=",".join("?" * len(part))), (*leading, *part))

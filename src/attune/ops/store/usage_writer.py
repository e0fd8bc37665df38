"""Writing usage rows: merged with the stored ones by dedup key, priced, and rolled up.

Used by ``store/usage.py`` inside one of its write transactions. A row stored for the first
time (every row of a cold ingest) adds to the roll-ups through a fast path
(:meth:`~attune.ops.store.usage_rollups.Rollup.add_new`); a row that changes a stored one moves
them by its difference. The same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from attune.ops.store.sql import Connection, Row, rows_in
from attune.ops.store.usage_rollups import Rollup
from attune.ops.store.usage_rows import MessageRow, Pricer, merge

__all__ = ["MESSAGE_COLUMNS", "message_from", "write_rows"]

MESSAGE_COLUMNS = (
    "key, request_id, ts, session_id, cwd_id, model, git_branch, version, sidechain, speed, "
    "input_tokens, output_tokens, cache_creation_tokens, cache_5m_tokens, cache_1h_tokens, "
    "cache_read_tokens, web_searches"
)

# An upsert that replaces every column but the key (SQLite and PostgreSQL alike).
_REPLACE_MESSAGE = "ON CONFLICT (key) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}"
    for c in [*MESSAGE_COLUMNS.split(", ")[1:], "file_id", "cost_pusd", "saved_pusd", "priced_with"]
)
_INSERT_MESSAGES = (
    f"INSERT INTO usage_messages ({MESSAGE_COLUMNS}, file_id, cost_pusd, saved_pusd, "  # noqa: S608
    "priced_with) VALUES (" + ",".join("?" * 21) + ") " + _REPLACE_MESSAGE
)


def message_from(r: Row) -> MessageRow:
    """A row of ``MESSAGE_COLUMNS`` followed by the folder's path."""
    return MessageRow(r[0], r[1], r[2], r[3], r[17], r[5], r[6], r[7], bool(r[8]), *r[9:17])


@dataclass(frozen=True)
class _Stored:
    row: MessageRow
    cwd_id: int
    cost: int | None
    saved: int


def write_rows(
    conn: Connection,
    rows: Sequence[tuple[int, MessageRow]],
    pricer: Pricer,
    price_source: str,
    cwd_id: Callable[[Connection, str], int],
    maybe_stored: Collection[str] | None = None,
) -> bool:
    """Merge ``(file id, row)`` pairs by key with the stored rows and write what changed;
    ``False`` when nothing did. ``maybe_stored``: the only keys that can be stored already,
    when the caller knows them (the others are not looked up)."""
    batch: dict[str, MessageRow] = {}
    files: dict[str, int] = {}
    for file_id, row in rows:
        key = row[0]
        seen = batch.get(key)
        if seen is None:
            batch[key] = row
            files[key] = file_id
        else:
            batch[key] = merge(seen, row)
    keys = list(batch) if maybe_stored is None else [k for k in batch if k in maybe_stored]
    existing = _stored(conn, keys)
    writes: list[tuple[object, ...]] = []
    rollup = Rollup()
    for key, row in batch.items():
        old = existing.get(key)
        if old is None:  # every row of a cold ingest
            cost, saved = pricer(row)
            new_cwd = cwd_id(conn, row.cwd)
            rollup.add_new(row, new_cwd, cost, saved)
            writes.append(_params(row, new_cwd, files[key], cost, saved, price_source))
            continue
        merged = merge(old.row, row)
        if merged == old.row:
            continue
        cost, saved = pricer(merged)
        new_cwd = cwd_id(conn, merged.cwd)
        rollup.add(old.row, old.cwd_id, old.cost, old.saved, -1)
        rollup.add(merged, new_cwd, cost, saved, +1)
        writes.append(_params(merged, new_cwd, files[key], cost, saved, price_source))
    if not writes:
        return False
    conn.executemany(_INSERT_MESSAGES, writes)
    rollup.apply(conn)
    return True


def _stored(conn: Connection, keys: list[str]) -> dict[str, _Stored]:
    found: dict[str, _Stored] = {}
    for r in rows_in(
        conn,
        f"SELECT {MESSAGE_COLUMNS}, c.cwd, cost_pusd, saved_pusd FROM usage_messages "  # noqa: S608
        "JOIN usage_cwds c ON c.id = cwd_id WHERE key IN ({marks})",
        keys,
    ):
        row = message_from(r)
        found[row.key] = _Stored(row, int(r[4]), r[18], int(r[19]))
    return found


def _params(
    row: MessageRow, cwd_id: int, file_id: int, cost: int | None, saved: int, source: str
) -> tuple[object, ...]:
    # MESSAGE_COLUMNS are MessageRow's fields in order, the folder's id for its path
    return (*row[:4], cwd_id, *row[5:8], int(row.sidechain), *row[9:], file_id, cost, saved, source)

"""Claude Code usage in the store: transcripts' read offsets and one row per API response.

:class:`UsageStore` sits beside the run tables in the same SQLite file (migration 5,
``store/usage_schema.py``). A chunk of a transcript is written in one transaction with a
compare-and-swap on the file's offset, so two readers (the dashboard and ``attune usage``)
never count a line twice: the one that lost the race rolls back. Rows are merged by their dedup
key, each token field keeping the largest value any line carried (``merge``), so reading the
same lines again — a replaced file, a subagent copy, a crash between two commits — changes
nothing. The roll-ups (per day × folder × model, per session × folder) move by the difference
each write makes; what a difference cannot express (a session's active time, its latest
branch) is settled per touched session at the end of a pass (``store/usage_rollups.py``).
Reads are in ``store/usage_queries.py``.
On a team store (PostgreSQL) files and folders are their member's (``user@host``) and only
this project's rows are written (never a member's other projects); SQLite keeps every project.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from attune.ops.store.database import Store
from attune.ops.store.run_origin import this_origin
from attune.ops.store.sql import Connection, Row
from attune.ops.store.usage_rollups import Rollup, rebuild_rollups, settle_session
from attune.ops.store.usage_rows import MessageRow, Pricer, merge

__all__ = ["GENERATION_KEY", "ChunkWrite", "FileState", "UsageStore"]

GENERATION_KEY = "usage.generation"


@dataclass(frozen=True)
class FileState:
    """What the store remembers of one transcript."""

    id: int
    path: str
    root: str
    project_dir: str
    dev: int
    inode: int
    size: int
    read_offset: int
    mtime_ns: int
    skipped: int
    gone: bool


FILE_COLUMNS = "id, path, root, project_dir, dev, inode, size, read_offset, mtime_ns, skipped, gone"
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


def _file(r: Row) -> FileState:
    return FileState(
        id=int(r[0]),
        path=str(r[1]),
        root=str(r[2]),
        project_dir=str(r[3]),
        dev=int(r[4]),
        inode=int(r[5]),
        size=int(r[6]),
        read_offset=int(r[7]),
        mtime_ns=int(r[8]),
        skipped=int(r[9]),
        gone=bool(r[10]),
    )


def _message(r: Row) -> MessageRow:
    """A row of ``MESSAGE_COLUMNS`` followed by the folder's path."""
    return MessageRow(
        key=r[0],
        request_id=r[1],
        ts=r[2],
        session_id=r[3],
        cwd=r[17],
        model=r[5],
        git_branch=r[6],
        version=r[7],
        sidechain=bool(r[8]),
        speed=r[9],
        input_tokens=r[10],
        output_tokens=r[11],
        cache_creation_tokens=r[12],
        cache_5m_tokens=r[13],
        cache_1h_tokens=r[14],
        cache_read_tokens=r[15],
        web_searches=r[16],
    )


def _is_inside(cwd: str, root: str) -> bool:
    """``cwd`` is ``root`` or a folder inside it (plain path comparison; no file access)."""
    root = root.rstrip("/") or "/"
    return cwd == root or cwd.startswith(root if root == "/" else root + "/")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class ChunkWrite:
    """What reading ``file`` from its offset up to ``offset`` found."""

    file: FileState
    offset: int
    size: int
    mtime_ns: int
    rows: Sequence[MessageRow]
    skipped: int = 0
    last_skip: str | None = None


class _OffsetMoved(Exception):
    """Another reader committed this chunk first: roll back and read on from its offset."""


@dataclass(frozen=True)
class _Stored:
    row: MessageRow
    cwd_id: int
    cost: int | None
    saved: int


class UsageStore:
    """The usage tables of one :class:`Store` (thread-safe: every call is one transaction);
    on a team store only rows inside ``project_root`` are written, as ``member``'s."""

    def __init__(
        self, store: Store, *, project_root: str | None = None, member: str | None = None
    ) -> None:
        self.store = store
        self.team = store.backend == "postgresql"
        self.member = (member or this_origin().member) if self.team else ""
        self.project_root = project_root
        self._only_under = project_root if self.team else None
        self._cwd_ids: dict[str, int] = {}

    def note_member(self) -> None:
        """On a team store, this member's project root and when its dashboard last read."""
        if not self.team or self.project_root is None:
            return
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO usage_members (member, root, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (member) DO UPDATE SET root = excluded.root, "
                "seen_at = excluded.seen_at",
                (self.member, self.project_root, _now()),
            )

    # -- files ---------------------------------------------------------------------------------

    def files(self) -> dict[str, FileState]:
        """Every transcript of this member remembered, by path (gone ones included)."""
        with self.store.read() as conn:
            rows = conn.execute(
                f"SELECT {FILE_COLUMNS} FROM usage_files WHERE member = ?",  # noqa: S608
                (self.member,),
            ).fetchall()
        return {str(r[1]): _file(r) for r in rows}

    def start_file(
        self, path: str, root: str, project_dir: str, dev: int, inode: int, mtime_ns: int
    ) -> FileState:
        """Remember ``path`` as a new file read from its first byte (a replaced or truncated
        file starts again: its rows stay, and reading them again changes nothing)."""
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO usage_files (member, path, root, project_dir, dev, inode, size, "
                "read_offset, mtime_ns, skipped, gone, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, 0, 0, ?) "
                "ON CONFLICT (member, path) DO UPDATE SET root = excluded.root, "
                "project_dir = excluded.project_dir, dev = excluded.dev, inode = excluded.inode, "
                "size = 0, read_offset = 0, mtime_ns = excluded.mtime_ns, skipped = 0, "
                "last_skip = NULL, gone = 0, updated_at = excluded.updated_at",
                (self.member, path, root, project_dir, dev, inode, mtime_ns, _now()),
            )
            row = conn.execute(
                f"SELECT {FILE_COLUMNS} FROM usage_files WHERE member = ? AND path = ?",  # noqa: S608
                (self.member, path),
            ).fetchone()
        return _file(row)

    def mark_gone(self, ids: Iterable[int]) -> None:
        """Files that vanished (Claude Code's clean-up): their rows stay, their offsets go."""
        with self.store.write() as conn:
            conn.executemany(
                "UPDATE usage_files SET gone = 1, updated_at = ? WHERE id = ?",
                [(_now(), i) for i in ids],
            )

    def commit_chunks(
        self, chunks: Sequence[ChunkWrite], pricer: Pricer, price_source: str
    ) -> bool:
        """Write chunks (of one file or several) in one transaction, all or nothing.

        ``False`` (nothing written) when another reader moved one of the files' offsets
        first; the caller then commits them one by one (:meth:`commit_chunk`).
        """
        new_cwds: dict[str, int] = {}
        try:
            with self.store.write() as conn:
                for chunk in chunks:
                    _move_offset(conn, chunk)
                rows = [(c.file.id, row) for c in chunks for row in c.rows if self._keeps(row)]
                if rows:
                    self._write_rows(conn, rows, pricer, price_source, new_cwds)
        except _OffsetMoved:
            return False
        self._cwd_ids.update(new_cwds)
        return True

    def commit_chunk(self, chunk: ChunkWrite, pricer: Pricer, price_source: str) -> bool:
        """One chunk in its own transaction; ``False`` when another reader took it first."""
        return self.commit_chunks([chunk], pricer, price_source)

    # -- rows ----------------------------------------------------------------------------------

    def _keeps(self, row: MessageRow) -> bool:
        return self._only_under is None or _is_inside(row.cwd, self._only_under)

    def _cwd_id(self, conn: Connection, cwd: str, new_cwds: dict[str, int]) -> int:
        found = self._cwd_ids.get(cwd, new_cwds.get(cwd))
        if found is not None:
            return found
        conn.execute(
            "INSERT INTO usage_cwds (member, cwd) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (self.member, cwd),
        )
        value = int(
            conn.execute(
                "SELECT id FROM usage_cwds WHERE member = ? AND cwd = ?", (self.member, cwd)
            ).fetchone()[0]
        )
        new_cwds[cwd] = value  # remembered once the transaction commits
        return value

    def _existing(self, conn: Connection, keys: list[str]) -> dict[str, _Stored]:
        found: dict[str, _Stored] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            for r in conn.execute(
                f"SELECT {MESSAGE_COLUMNS}, c.cwd, cost_pusd, saved_pusd FROM usage_messages "  # noqa: S608
                f"JOIN usage_cwds c ON c.id = cwd_id WHERE key IN ({marks})",
                part,
            ):
                row = _message(r)
                found[row.key] = _Stored(row, int(r[4]), r[18], int(r[19]))
        return found

    def _write_rows(
        self,
        conn: Connection,
        rows: Sequence[tuple[int, MessageRow]],
        pricer: Pricer,
        price_source: str,
        new_cwds: dict[str, int],
    ) -> None:
        batch: dict[str, MessageRow] = {}
        files: dict[str, int] = {}
        for file_id, row in rows:
            seen = batch.get(row.key)
            if seen is None:
                batch[row.key] = row
                files[row.key] = file_id
            else:
                batch[row.key] = merge(seen, row)
        existing = self._existing(conn, list(batch))
        writes, rollup = [], Rollup()
        for key, row in batch.items():
            old = existing.get(key)
            merged = row if old is None else merge(old.row, row)
            if old is not None and merged == old.row:
                continue
            cost, saved = pricer(merged)
            cwd_id = self._cwd_id(conn, merged.cwd, new_cwds)
            if old is not None:
                rollup.add(old.row, old.cwd_id, old.cost, old.saved, -1)
            rollup.add(merged, cwd_id, cost, saved, +1)
            writes.append(_params(merged, cwd_id, files[key], cost, saved, price_source))
        if not writes:
            return
        conn.executemany(
            f"INSERT INTO usage_messages ({MESSAGE_COLUMNS}, file_id, cost_pusd, "  # noqa: S608
            "saved_pusd, priced_with) VALUES (" + ",".join("?" * 21) + ") " + _REPLACE_MESSAGE,
            writes,
        )
        rollup.apply(conn)
        _bump_generation(conn)

    # -- pricing again -------------------------------------------------------------------------

    def stale_prices(self, price_source: str) -> int:
        """How many rows were priced with another price data version."""
        with self.store.read() as conn:
            row = conn.execute(
                "SELECT count(*) FROM usage_messages WHERE priced_with != ?", (price_source,)
            ).fetchone()
        return int(row[0])

    def reprice(self, pricer: Pricer, price_source: str, batch: int = 5000) -> int:
        """Price again every row priced with other data, then rebuild the roll-ups."""
        done = 0
        while True:
            with self.store.write() as conn:
                found = conn.execute(
                    f"SELECT {MESSAGE_COLUMNS}, c.cwd FROM usage_messages JOIN usage_cwds c "  # noqa: S608
                    "ON c.id = cwd_id WHERE priced_with != ? LIMIT ?",
                    (price_source, batch),
                ).fetchall()
                updates = []
                for r in found:
                    row = _message(r)
                    cost, saved = pricer(row)
                    updates.append((cost, saved, price_source, row.key))
                conn.executemany(
                    "UPDATE usage_messages SET cost_pusd = ?, saved_pusd = ?, priced_with = ? "
                    "WHERE key = ?",
                    updates,
                )
                done += len(updates)
                if len(found) < batch:
                    if done:
                        rebuild_rollups(conn)
                        _bump_generation(conn)
                    return done

    def settle_sessions(self) -> int:
        """Recompute active time, latest branch and version of the sessions touched since."""
        with self.store.write() as conn:
            dirty = conn.execute(
                "SELECT session_id, cwd_id FROM usage_sessions WHERE active_ms < 0"
            ).fetchall()
            for session_id, cwd_id in dirty:
                settle_session(conn, str(session_id), int(cwd_id))
        return len(dirty)


def _move_offset(conn: Connection, chunk: ChunkWrite) -> None:
    file = chunk.file
    moved = conn.execute(
        "UPDATE usage_files SET read_offset = ?, size = ?, mtime_ns = ?, "
        "skipped = skipped + ?, last_skip = coalesce(?, last_skip), updated_at = ? "
        "WHERE id = ? AND read_offset = ? AND inode = ? AND dev = ?",
        (
            chunk.offset,
            chunk.size,
            chunk.mtime_ns,
            chunk.skipped,
            chunk.last_skip,
            _now(),
            file.id,
            file.read_offset,
            file.inode,
            file.dev,
        ),
    ).rowcount
    if not moved:
        raise _OffsetMoved


def _params(
    row: MessageRow, cwd_id: int, file_id: int, cost: int | None, saved: int, source: str
) -> tuple[object, ...]:
    return (
        row.key,
        row.request_id,
        row.ts,
        row.session_id,
        cwd_id,
        row.model,
        row.git_branch,
        row.version,
        int(row.sidechain),
        row.speed,
        row.input_tokens,
        row.output_tokens,
        row.cache_creation_tokens,
        row.cache_5m_tokens,
        row.cache_1h_tokens,
        row.cache_read_tokens,
        row.web_searches,
        file_id,
        cost,
        saved,
        source,
    )


def _bump_generation(conn: Connection) -> None:
    conn.execute(
        "INSERT INTO settings AS s (key, value, updated_at) VALUES (?, '1', ?) ON CONFLICT (key) "
        "DO UPDATE SET value = CAST(s.value AS INTEGER) + 1, updated_at = excluded.updated_at",
        (GENERATION_KEY, _now()),
    )

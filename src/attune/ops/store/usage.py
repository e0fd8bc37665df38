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
Rows are merged and written by ``store/usage_writer.py``, read by ``store/usage_queries.py``.
On a team store (PostgreSQL) files and folders are their member's (``user@host``) and only
this project's rows are written (never a member's other projects); SQLite keeps every project.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import NamedTuple

from attune.ops.store.database import Store
from attune.ops.store.run_origin import this_origin
from attune.ops.store.run_record import now_iso
from attune.ops.store.sql import Connection, Row, rows_in
from attune.ops.store.usage_rollups import rebuild_rollups, settle_session
from attune.ops.store.usage_rows import MessageRow, Pricer, storable
from attune.ops.store.usage_writer import MESSAGE_COLUMNS, message_from, write_rows

__all__ = [
    "GENERATION_KEY",
    "ChunkWrite",
    "FileState",
    "NewFile",
    "UsageStore",
    "is_inside",
    "read_generation",
]

GENERATION_KEY = "usage.generation"
# The writer's page cache while a big pass writes (KiB; SQLite's default is 2,000): a cold
# ingest's inserts by random message id then stop evicting the pages they come back to.
BULK_CACHE_KIB = 8192
MAX_FRESH_KEYS = 500_000  # keys held during a big pass to skip lookups (~50 MB at most)


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


class NewFile(NamedTuple):
    """A transcript to read from its first byte, as found on disk."""

    path: str
    root: str
    project_dir: str
    dev: int
    inode: int
    mtime_ns: int


FILE_COLUMNS = "id, path, root, project_dir, dev, inode, size, read_offset, mtime_ns, skipped, gone"


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


def is_inside(cwd: str, root: str) -> bool:
    """``cwd`` is ``root`` or a folder inside it (plain path comparison; no file access)."""
    root = root.rstrip("/") or "/"
    return cwd == root or cwd.startswith(root if root == "/" else root + "/")


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
        # During a big pass (bulk_writes), every key in usage_messages, known while the usage
        # generation is still the one this store wrote last (the pass began on an empty table):
        # the writer then looks up only the keys that may be stored (a cold ingest's 39,000
        # lookups by key become none). Dropped when the pass ends: held no longer than needed.
        self._fresh: set[str] | None = None
        self._fresh_generation = -1
        self._bulk = 0

    def note_member(self) -> None:
        """On a team store, this member's project root and when its dashboard last read."""
        if not self.team or self.project_root is None:
            return
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO usage_members (member, root, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (member) DO UPDATE SET root = excluded.root, "
                "seen_at = excluded.seen_at",
                (self.member, self.project_root, now_iso()),
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
        return self.start_files([NewFile(path, root, project_dir, dev, inode, mtime_ns)])[path]

    def start_files(self, files: Sequence[NewFile]) -> dict[str, FileState]:
        """:meth:`start_file` for many files in one transaction, by path (a cold ingest
        starts hundreds)."""
        if not files:
            return {}
        now = now_iso()
        found: dict[str, FileState] = {}
        with self.store.write() as conn:
            conn.executemany(
                "INSERT INTO usage_files (member, path, root, project_dir, dev, inode, size, "
                "read_offset, mtime_ns, skipped, gone, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, 0, 0, ?) "
                "ON CONFLICT (member, path) DO UPDATE SET root = excluded.root, "
                "project_dir = excluded.project_dir, dev = excluded.dev, inode = excluded.inode, "
                "size = 0, read_offset = 0, mtime_ns = excluded.mtime_ns, skipped = 0, "
                "last_skip = NULL, gone = 0, updated_at = excluded.updated_at",
                [(self.member, *f, now) for f in files],
            )
            for r in rows_in(
                conn,
                f"SELECT {FILE_COLUMNS} FROM usage_files "  # noqa: S608
                "WHERE member = ? AND path IN ({marks})",
                [f.path for f in files],
                (self.member,),
            ):
                found[str(r[1])] = _file(r)
        return found

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """Writes of a big pass, with a bigger page cache on SQLite's writer connection (only
        memory: durability stays the store's); the cache shrinks back afterwards."""
        self._bulk += 1
        try:
            if self.team:
                yield
                return
            with self.store.write() as conn:
                before = int(conn.execute("PRAGMA cache_size").fetchone()[0])
                conn.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
            try:
                yield
            finally:
                with self.store.write() as conn:
                    conn.execute(f"PRAGMA cache_size = {before}")
        finally:
            self._bulk -= 1
            if not self._bulk:
                self._fresh = None

    def mark_gone(self, ids: Iterable[int]) -> None:
        """Files that vanished (Claude Code's clean-up): their rows stay, their offsets go."""
        with self.store.write() as conn:
            conn.executemany(
                "UPDATE usage_files SET gone = 1, updated_at = ? WHERE id = ?",
                [(now_iso(), i) for i in ids],
            )

    def commit_chunks(
        self, chunks: Sequence[ChunkWrite], pricer: Pricer, price_source: str
    ) -> bool:
        """Write chunks (of one file or several) in one transaction, all or nothing.

        ``False`` (nothing written) when another reader moved one of the files' offsets
        first; the caller then commits them one by one (:meth:`commit_chunk`).
        """
        try:
            return self._commit_chunks(chunks, pricer, price_source)
        except UnicodeEncodeError:  # a lone surrogate (``"\ud800"`` in the JSON) in an id or
            # folder: no database takes it; written with U+FFFD instead, the rest unchanged
            cleaned = [replace(c, rows=[storable(r) for r in c.rows]) for c in chunks]
            return self._commit_chunks(cleaned, pricer, price_source)

    def _commit_chunks(
        self, chunks: Sequence[ChunkWrite], pricer: Pricer, price_source: str
    ) -> bool:
        new_cwds: dict[str, int] = {}
        fresh: set[str] | None = None
        written = False
        try:
            with self.store.write() as conn:
                for chunk in chunks:
                    _move_offset(conn, chunk)
                rows = self._kept(chunks)
                cwd_id = partial(self._cwd_id, new_cwds=new_cwds)
                if rows:
                    generation, fresh = self._known_keys(conn)
                    written = write_rows(conn, rows, pricer, price_source, cwd_id, fresh)
                    if written:
                        _bump_generation(conn)
        except _OffsetMoved:
            return False
        except BaseException:
            self._fresh = None
            raise
        self._cwd_ids.update(new_cwds)
        if fresh is not None:
            if len(fresh) + len(rows) > MAX_FRESH_KEYS:
                self._fresh = None
            else:
                fresh.update(row.key for _, row in rows)
                self._fresh = fresh
                self._fresh_generation = generation + written
        return True

    def _known_keys(self, conn: Connection) -> tuple[int, set[str] | None]:
        """The usage generation, and every stored key when this store knows them (``None``:
        someone else wrote since, so every key is looked up)."""
        if not self._bulk or self.team:  # a small pass: a few lookups, nothing held; a team
            return 0, None  # store reads committed rows statement by statement
        generation = read_generation(conn)
        if self._fresh is not None and generation == self._fresh_generation:
            return generation, self._fresh
        self._fresh = None  # another writer wrote since: known no more
        empty = conn.execute("SELECT 1 FROM usage_messages LIMIT 1").fetchone() is None
        return generation, set() if empty else None

    def commit_chunk(self, chunk: ChunkWrite, pricer: Pricer, price_source: str) -> bool:
        """One chunk in its own transaction; ``False`` when another reader took it first."""
        return self.commit_chunks([chunk], pricer, price_source)

    # -- rows ----------------------------------------------------------------------------------

    def _kept(self, chunks: Sequence[ChunkWrite]) -> list[tuple[int, MessageRow]]:
        """The chunks' rows with their file's id; on a team store only this project's."""
        rows = [(c.file.id, row) for c in chunks for row in c.rows]
        root = self._only_under
        return rows if root is None else [r for r in rows if is_inside(r[1].cwd, root)]

    def _cwd_id(self, conn: Connection, cwd: str, *, new_cwds: dict[str, int]) -> int:
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
                    row = message_from(r)
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
            now_iso(),
            file.id,
            file.read_offset,
            file.inode,
            file.dev,
        ),
    ).rowcount
    if not moved:
        raise _OffsetMoved


def read_generation(conn: Connection) -> int:
    """A number that changes whenever a usage row is written (``_bump_generation``)."""
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (GENERATION_KEY,)).fetchone()
    return int(row[0]) if row else 0


def _bump_generation(conn: Connection) -> None:
    conn.execute(
        "INSERT INTO settings AS s (key, value, updated_at) VALUES (?, '1', ?) ON CONFLICT (key) "
        "DO UPDATE SET value = CAST(s.value AS INTEGER) + 1, updated_at = excluded.updated_at",
        (GENERATION_KEY, now_iso()),
    )

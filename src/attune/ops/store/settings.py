"""Settings and dismissed completion candidates: the small tables of the store, either backend."""

from __future__ import annotations

from contextlib import AbstractContextManager

from attune.ops.store.run_record import now_iso
from attune.ops.store.sql import Connection

__all__ = ["SettingsMixin", "utc_now"]


# The store's one clock: ISO 8601 UTC with milliseconds (store/run_record.py).
utc_now = now_iso


class SettingsMixin:
    """``settings`` (key → text) and ``spec_dismissals`` of a store (mixed in)."""

    def read(self) -> AbstractContextManager[Connection]:  # pragma: no cover - a store
        raise NotImplementedError

    def write(self) -> AbstractContextManager[Connection]:  # pragma: no cover - a store
        raise NotImplementedError

    # -- settings ------------------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        with self.read() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str | None) -> None:
        """Store ``value`` under ``key``; ``None`` deletes it."""
        with self.write() as conn:
            if value is None:
                conn.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                    "updated_at = excluded.updated_at",
                    (key, value, utc_now()),
                )

    # -- spec dismissals -----------------------------------------------------------------------

    def dismissed_hashes(self) -> dict[str, str]:
        """``{spec path: snapshot_hash}`` of every dismissed completion candidate."""
        with self.read() as conn:
            rows = conn.execute("SELECT path, snapshot_hash FROM spec_dismissals").fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def dismiss_spec(self, path: str, snapshot_hash: str) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO spec_dismissals (path, snapshot_hash, dismissed_at) VALUES (?, ?, ?) "
                "ON CONFLICT (path) DO UPDATE SET snapshot_hash = excluded.snapshot_hash, "
                "dismissed_at = excluded.dismissed_at",
                (path, snapshot_hash, utc_now()),
            )

"""Which store a dashboard or command opens: SQLite in the home, or a team's PostgreSQL.

``database_url`` (``--database-url`` / ``$ATTUNE_DATABASE_URL``, checked by ``config.py``)
selects the PostgreSQL store; unset, the SQLite file ``<attune_home>/ops/ops.db``. ``psycopg``
is imported only then, so a solo developer never loads it.
"""

from __future__ import annotations

from pathlib import Path

from attune.ops.errors import StoreUnavailable
from attune.ops.store.damage import INTEGRITY_BUDGET_S
from attune.ops.store.database import Store
from attune.ops.store.pg_url import TEAM_EXTRA, masked_url

__all__ = ["open_store"]


def open_store(
    db_path: Path,
    database_url: str | None = None,
    integrity_budget_s: float | None = INTEGRITY_BUDGET_S,
) -> Store:
    """The store of this setup; raises ``StoreUnavailable`` saying why it cannot be opened."""
    if not database_url:
        return Store(db_path, integrity_budget_s=integrity_budget_s)
    try:
        from attune.ops.store.postgres import PostgresStore
    except ImportError as exc:
        raise StoreUnavailable(
            f"the team database {masked_url(database_url)} needs the PostgreSQL driver, which "
            f"is not installed ({exc.name}): {TEAM_EXTRA} (psycopg and psycopg-pool)"
        ) from exc
    return PostgresStore(database_url)

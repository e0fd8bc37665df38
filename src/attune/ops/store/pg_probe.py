"""What ``attune ops doctor`` finds in a team's PostgreSQL database, read-only.

One plain ``psycopg`` connection (never the store: opening a :class:`PostgresStore` migrates)
answers: can it connect, which server version, which schema version, how many runs, and is
``pg_trgm`` there or creatable. Each failure gets a fix line; nothing shown carries the URL's
password (the URL is masked, the driver's text has the password cut out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from attune.ops.store.pg_schema import PG_MIGRATIONS
from attune.ops.store.pg_url import TEAM_EXTRA, describe_pg_error, masked_url

__all__ = ["MIN_SERVER_VERSION", "PgFinding", "probe_pg", "schema_finding", "version_finding"]

# PostgreSQL 13: pg_trgm is a trusted extension from there on. Kept here, where no psycopg is
# needed to import it; store/postgres.py checks a server against the same figure.
MIN_SERVER_VERSION = 130000
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class PgFinding:
    """``status`` is ``"pass"``, ``"warn"`` or ``"fail"`` (the doctor's check statuses)."""

    status: str
    summary: str
    fix: str | None = None


def _major(version: int) -> str:
    """``server_version_num`` as people write it: 150018 → 15.18, 90624 → 9.6.24."""
    if version >= 100000:
        return f"{version // 10000}.{version % 10000}"
    return f"{version // 10000}.{version // 100 % 100}.{version % 100}"


def version_finding(server_version: int) -> PgFinding | None:
    """``None`` when ``server_version`` (``server_version_num``) is new enough, else the fail."""
    if server_version >= MIN_SERVER_VERSION:
        return None
    need = MIN_SERVER_VERSION // 10000
    return PgFinding(
        "fail",
        f"the server runs PostgreSQL {_major(server_version)}; attune ops needs {need} or newer",
        f"upgrade the PostgreSQL server to {need} or newer (pg_upgrade, or a new server "
        "and pg_dump | psql)",
    )


def schema_finding(version: int) -> PgFinding | None:
    """``None`` when the schema is this attune's; a warn when older, a fail when newer."""
    current = len(PG_MIGRATIONS)
    if version == current:
        return None
    if version < current:
        shown = "no attune schema yet" if version == 0 else f"schema v{version}"
        return PgFinding(
            "warn",
            f"{shown}: it will be migrated to v{current} at start",
            "start attune ops (the first dashboard migrates it)",
        )
    return PgFinding(
        "fail",
        f"schema v{version}: this database was migrated by a newer attune ops (this one knows "
        f"v{current})",
        "upgrade attune ops on this machine: pip install -U 'attune-ops[team]'",
    )


def _connect_fix(text: str, url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    user = parts.username or "USER"
    name = parts.path.lstrip("/") or user
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return (
            f"check the user and password in the URL (a superuser can set it: "
            f"ALTER ROLE {user} PASSWORD '…')"
        )
    if "does not exist" in lowered and "database" in lowered:
        return f"create it: createdb {name} (or CREATE DATABASE {name}; as a superuser)"
    if "role" in lowered and "does not exist" in lowered:
        return f"create the user: CREATE ROLE {user} LOGIN PASSWORD '…'; (as a superuser)"
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    return (
        f"is the PostgreSQL server running and accepting TCP connections on {where}? "
        "check the host and port in the URL"
    )


def _trgm_finding(conn: Any) -> PgFinding | None:
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone():
        return None
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    ).fetchone()
    if available is None:
        return PgFinding(
            "fail",
            "the pg_trgm extension (log search) is not installed on the server",
            "install the server's contrib package (Debian: apt-get install postgresql-contrib), "
            "then as a superuser: CREATE EXTENSION pg_trgm;",
        )
    may = conn.execute(
        "SELECT rolsuper OR has_database_privilege(current_database(), 'CREATE') "
        "FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if may is None or not may[0]:
        return PgFinding(
            "fail",
            "the pg_trgm extension (log search) is not created and this user may not create it",
            "as a superuser in this database: CREATE EXTENSION pg_trgm;",
        )
    return None


def probe_pg(url: str) -> PgFinding:
    """Connect to ``url`` read-only and say what is wrong first, or what was found."""
    where = masked_url(url)
    try:
        import psycopg
    except ImportError as exc:
        return PgFinding(
            "fail",
            f"{where}: the PostgreSQL driver is not installed ({exc.name})",
            f"{TEAM_EXTRA} (psycopg and psycopg-pool)",
        )
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            return _inspect(conn, where)
    except psycopg.Error as exc:
        text = describe_pg_error(exc, url)
        return PgFinding("fail", f"{where} cannot be reached: {text}", _connect_fix(text, url))


def _inspect(conn: Any, where: str) -> PgFinding:
    version = int(conn.info.server_version)
    shown = f"{where} (PostgreSQL {_major(version)}"
    too_old = version_finding(version)
    if too_old is not None:
        return PgFinding(too_old.status, f"{where}: {too_old.summary}", too_old.fix)
    conn.execute("SET default_transaction_read_only = on")
    trgm = _trgm_finding(conn)
    if trgm is not None:
        return PgFinding(trgm.status, f"{shown}): {trgm.summary}", trgm.fix)
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        schema = 0
    else:
        schema = int(conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0)
    found = schema_finding(schema)
    if found is not None:
        return PgFinding(found.status, f"{shown}): {found.summary}", found.fix)
    runs = int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    noun = "run" if runs == 1 else "runs"
    return PgFinding("pass", f"{shown}, schema v{schema}, {runs} {noun})")

"""``EXPLAIN (ANALYZE, BUFFERS)`` of the history queries ``bench/team.py`` times on PostgreSQL.

The statement is the one ``Store.list_runs`` sends for the case's URL (its ``run_filter``, the
cursor, ``ORDER BY id DESC LIMIT 51``), translated by store/pg_sql.py as the store translates it,
run on a connection of the store's own pool (so with its settings).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

__all__ = ["explain_case"]


def _list_runs_sql(store: object, url: str) -> tuple[str, list[object]]:
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    where, args = store.run_filter(  # type: ignore[attr-defined]
        query.get("workflow"),
        [query["status"]] if "status" in query else [],
        query.get("q"),
        None,
        host=query.get("host"),
        user=query.get("user"),
    )
    if "before" in query:
        where.append("id < ?")
        args.append(int(query["before"]))
    from attune.ops.store.run_record import RUN_COLUMNS

    sql = f"SELECT {RUN_COLUMNS} FROM runs"  # the store's own statement
    if where:
        sql += " WHERE " + " AND ".join(where)
    args.append(int(query.get("limit", 50)) + 1)
    return sql + " ORDER BY id DESC LIMIT ?", args


def explain_case(database_url: str, url: str) -> str:
    """The plan PostgreSQL ran for the history URL ``url`` (``/api/runs?…``), with timings."""
    from attune.ops.store.pg_sql import translate
    from attune.ops.store.postgres import PostgresStore

    store = PostgresStore(database_url)
    try:
        sql, args = _list_runs_sql(store, url)
        with store.read() as conn:
            rows = conn.raw.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + translate(sql).sql, tuple(args)
            ).fetchall()
    finally:
        store.close()
    return "\n".join(str(row[0]) for row in rows)

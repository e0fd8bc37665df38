"""The throwaway PostgreSQL cluster the store's tests stand on (``tests/postgres_cluster.py``).

A real server, reached the way the dashboard will reach it: a URL with a password, over TCP on
loopback; ``pg_trgm`` is there for log search; stopping and starting it keeps port and data.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests import postgres_cluster as postgres_cluster_module
from tests.postgres_cluster import PostgresCluster, PostgresMissing, find_bin_dir


def test_a_fresh_database_answers_at_its_url(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("SELECT version()").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert version is not None
    assert version[0].startswith("PostgreSQL ")
    assert tables == (0,)


def test_each_test_gets_its_own_database(
    postgres_url: str, postgres_cluster: PostgresCluster
) -> None:
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    assert postgres_url.endswith("/" + row[0])
    assert row[0] not in ("postgres", "template1")


def test_pg_trgm_is_available_for_log_search(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE EXTENSION pg_trgm")
        conn.execute("CREATE TABLE lines (body text)")
        conn.execute("CREATE INDEX lines_body ON lines USING gin (body gin_trgm_ops)")
        conn.execute("INSERT INTO lines VALUES ('collected 12 items'), ('FAILED test_x')")
        rows = conn.execute("SELECT body FROM lines WHERE body ILIKE '%fail%'").fetchall()
    assert rows == [("FAILED test_x",)]


def test_a_wrong_password_is_refused(postgres_cluster: PostgresCluster) -> None:
    url = postgres_cluster.url("postgres").replace(postgres_cluster.password, "not-it")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url, connect_timeout=5)


def test_the_server_comes_back_on_the_same_port_with_its_data(
    postgres_url: str, postgres_cluster: PostgresCluster
) -> None:
    port = postgres_cluster.port
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE runs (id int PRIMARY KEY)")
        conn.execute("INSERT INTO runs VALUES (1), (2)")

    postgres_cluster.stop()
    assert not postgres_cluster.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_url, connect_timeout=5)

    postgres_cluster.start()
    assert postgres_cluster.running
    assert postgres_cluster.port == port
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT id FROM runs ORDER BY id").fetchall() == [(1,), (2,)]


def test_an_open_connection_does_not_keep_its_database_from_being_dropped(
    postgres_cluster: PostgresCluster,
) -> None:
    postgres_cluster.create_database("left_open")
    conn = psycopg.connect(postgres_cluster.url("left_open"))
    try:
        postgres_cluster.drop_database("left_open")
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        conn.close()
    with psycopg.connect(postgres_cluster.url("postgres")) as admin:
        names = admin.execute("SELECT datname FROM pg_database").fetchall()
    assert ("left_open",) not in names


def test_missing_server_programs_say_how_to_install_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_cluster_module, "DEBIAN_ROOT", tmp_path / "no-postgresql")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PostgresMissing, match=r"`make test`.*Debian's postgresql"):
        find_bin_dir()

"""A throwaway PostgreSQL cluster for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder.

Debian's ``postgresql`` package (installed by ``make test``) puts the server programs under
``/usr/lib/postgresql/<version>/bin``; the highest version there wins, then ``pg_config
--bindir``, then ``initdb`` on PATH. ``initdb`` refuses to run as root, so as root (CI) the
folder belongs to Debian's ``postgres`` system user and every server program runs through
``runuser -u postgres --``.

The cluster listens on a free loopback port only, with its unix socket inside the folder, a
superuser ``attune`` whose random password is needed on every TCP connection (scram-sha-256),
and durability switched off for speed (fsync, synchronous_commit, full_page_writes; ``durable=True``
keeps PostgreSQL's defaults, for a benchmark of what a real server does). Data lives
until :meth:`PostgresCluster.destroy`, so a test may :meth:`~PostgresCluster.stop` the server to
play a database that went away and :meth:`~PostgresCluster.start` it again on the same port.

    with running_cluster() as cluster:
        cluster.create_database("runs")
        psycopg.connect(cluster.url("runs"))
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg import sql

SUPERUSER = "attune"
SYSTEM_USER = "postgres"  # created by Debian's postgresql package
DEBIAN_ROOT = Path("/usr/lib/postgresql")
MISSING_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) were not found under "
    f"{DEBIAN_ROOT}/<version>/bin, at `pg_config --bindir` or on PATH: "
    "`make test` (or `make postgresql`) installs Debian's postgresql package"
)
# Settings for a cluster nobody needs to survive a crash: the tests' speed is what counts.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
}
# What ``durable=True`` leaves at PostgreSQL's defaults (on).
DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")
START_TIMEOUT_S = 60


class PostgresMissing(RuntimeError):
    """Debian's postgresql package (or another PostgreSQL install) is not on this machine."""


class ClusterError(RuntimeError):
    """initdb or pg_ctl failed; the message carries their output and the server log's tail."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name)) or (0,)


def find_bin_dir() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``; :class:`PostgresMissing` else."""
    candidates = sorted(DEBIAN_ROOT.glob("*/bin/initdb"), key=_version_key, reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()) / "initdb")
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve())
    for initdb in candidates:
        bin_dir = initdb.parent
        if all(os.access(bin_dir / prog, os.X_OK) for prog in ("initdb", "pg_ctl", "postgres")):
            return bin_dir
    raise PostgresMissing(MISSING_HINT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """One initialised cluster in its own folder; build it with :meth:`init`.

    ``url(dbname)`` is ``postgresql://attune:PASSWORD@127.0.0.1:PORT/dbname``.
    """

    def __init__(self, root: Path, bin_dir: Path, port: int, password: str) -> None:
        self.root = root
        self.bin_dir = bin_dir
        self.port = port
        self.password = password
        self.data_dir = root / "data"
        self.socket_dir = root / "socket"
        self.log_path = root / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    # -- lifecycle -------------------------------------------------------------------------------

    @classmethod
    def init(cls, bin_dir: Path | None = None, *, durable: bool = False) -> PostgresCluster:
        """A new cluster in a fresh temporary folder (initialised, not started); ``durable``
        keeps the crash-safety settings at their defaults instead of switching them off."""
        bin_dir = bin_dir or find_bin_dir()
        # Directly under the temp dir (not pytest's root-only tmp tree): the postgres user must
        # reach it, and the socket path must stay short (a unix socket path is ~107 bytes).
        root = Path(tempfile.mkdtemp(prefix="attune-pg-"))
        cluster = cls(root, bin_dir, free_port(), secrets.token_urlsafe(24))
        try:
            cluster._initdb(durable)
        except BaseException:
            cluster.destroy()
            raise
        return cluster

    def _initdb(self, durable: bool = False) -> None:
        self.socket_dir.mkdir()
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self._as_postgres:
            try:
                owner = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise PostgresMissing(
                    f"running as root, but there is no {SYSTEM_USER!r} user to run initdb as "
                    f"(initdb refuses root); {MISSING_HINT}"
                ) from None
            for path in (self.root, self.socket_dir, pwfile):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        try:
            self._run(
                "initdb",
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                # The socket sits in a folder only the cluster's owner can enter.
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        settings = {
            **{k: v for k, v in SETTINGS.items() if not (durable and k in DURABILITY)},
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/postgres_cluster.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self) -> None:
        """Start the server (again) on :attr:`port` and wait until it accepts connections.

        A no-op when it is running already.
        """
        if self.running:
            return
        self._run(
            "pg_ctl",
            "--pgdata",
            str(self.data_dir),
            "--log",
            str(self.log_path),
            "--wait",
            f"--timeout={START_TIMEOUT_S}",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode`` as pg_ctl's: ``smart``, ``fast`` or ``immediate``).

        The data stays: :meth:`start` brings the same databases back on the same port.
        """
        if not self.running:
            return
        self._run("pg_ctl", "--pgdata", str(self.data_dir), "--mode", mode, "--wait", "stop")

    @property
    def running(self) -> bool:
        """Whether the server is up (asked of pg_ctl: a test may have killed it by other means)."""
        return self._run("pg_ctl", "--pgdata", str(self.data_dir), "status", check=False) == 0

    def destroy(self) -> None:
        """Stop the server however it can be stopped and remove the folder."""
        with contextlib.suppress(ClusterError, OSError, subprocess.SubprocessError):
            self.stop("immediate")
        self._kill_postmaster()
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        """The last resort when pg_ctl could not stop it: its children exit with it."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    def _run(self, program: str, *args: str, check: bool = True) -> int:
        argv = [str(self.bin_dir / program), *args]
        if self._as_postgres:
            argv = ["runuser", "-u", SYSTEM_USER, "--", *argv]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        done = subprocess.run(
            argv,
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 30,
            check=False,
        )
        if check and done.returncode != 0:
            raise ClusterError(
                f"{program} {' '.join(args[-1:])} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}\n--- server log ---\n{self.log_tail()}"
            )
        return done.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    # -- databases -------------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> None:
        from psycopg import sql

        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop it even while connections are open (they are terminated)."""
        from psycopg import sql

        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        # Imported here: conftest imports this module for every test session; psycopg costs
        # ~0.1 s and only the PostgreSQL tests need it.
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)


@contextlib.contextmanager
def running_cluster(
    bin_dir: Path | None = None, *, durable: bool = False
) -> Iterator[PostgresCluster]:
    """A started cluster, stopped and removed when the block ends (even on an error)."""
    cluster = PostgresCluster.init(bin_dir, durable=durable)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()

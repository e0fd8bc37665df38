"""Where a running dashboard can be found: ``<attune_home>/ops/servers/<pid>.json`` (0600).

Each server writes its pid, address, token and project root at start and removes its file at
stop, so ``attune runs cancel`` reaches the server that owns a run (runs record their server's
pid) even when two dashboards share one home, and ``attune runs start`` the one serving the
project it is asked from. ``ops/server.json`` names the newest one, for runs that recorded no
server. A file whose pid is gone is stale.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from attune.ops.config import Config

__all__ = [
    "ServerInfo",
    "read_server_file",
    "remove_server_file",
    "server_for_project",
    "write_server_file",
]

FILE_NAME = "server.json"
SERVERS_DIR = "servers"


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    host: str
    port: int
    token: str
    project: str | None = None  # the project root it serves (files before 0.1 have none)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "localhost") else self.host  # noqa: S104
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def host_header(self) -> str:
        """The ``Host`` header this server accepts from the CLI: its bound ``host:port``
        (``0.0.0.0:PORT``, ``[::]:PORT`` for a wildcard bind, which :attr:`url` reaches on the
        loopback) — a non-loopback bind answers only that and its trusted hosts."""
        host = self.host.lower()
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"{host}:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        """What every CLI request to this server sends: its ``Host``, the token, the client."""
        return {"Host": self.host_header, "X-Attune-Token": self.token, "X-Attune-Client": "cli"}


def _path(config: Config, pid: int | None = None) -> Path:
    if pid is None:
        return config.ops_dir / FILE_NAME
    return config.ops_dir / SERVERS_DIR / f"{pid}.json"


def write_server_file(config: Config, token: str) -> None:
    """Record this process as a dashboard of ``config.attune_home`` (owner-only files)."""
    if config.port == 0:
        return  # an ephemeral port is not known here; the CLI cannot reach such a server
    data = {
        "pid": os.getpid(),
        "host": config.host,
        "port": config.port,
        "token": token,
        "project": str(config.project_root.resolve()),
    }
    own = _path(config, os.getpid())
    own.parent.mkdir(mode=0o700, exist_ok=True)
    for path in (own, _path(config)):
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        tmp.replace(path)


def remove_server_file(config: Config) -> None:
    """Remove this process's file, and the newest-server file when it names this process."""
    with contextlib.suppress(OSError):
        _path(config, os.getpid()).unlink()
    info = read_server_file(config, check_alive=False)
    if info is not None and info.pid == os.getpid():
        with contextlib.suppress(OSError):
            _path(config).unlink()


def read_server_file(
    config: Config, *, pid: int | None = None, check_alive: bool = True
) -> ServerInfo | None:
    """The running dashboard ``pid`` of this home (default: the newest), or ``None`` (no
    file, unreadable, or stale)."""
    try:
        data = json.loads(_path(config, pid).read_text())
        project = data.get("project")
        info = ServerInfo(
            int(data["pid"]),
            str(data["host"]),
            int(data["port"]),
            str(data["token"]),
            project if isinstance(project, str) else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if check_alive:
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
    return info


def server_for_project(config: Config) -> ServerInfo | None:
    """A live dashboard of this home serving ``config.project_root`` (the newest one first),
    or ``None``. A read-only one counts: it answers why it runs nothing."""
    root = str(config.project_root.resolve())
    newest = read_server_file(config)
    if newest is not None and newest.project == root:
        return newest
    try:
        names = sorted(p.name for p in (config.ops_dir / SERVERS_DIR).iterdir())
    except OSError:
        return None
    for name in names:
        pid = name.removesuffix(".json")
        if not (name.endswith(".json") and pid.isdigit()):
            continue
        info = read_server_file(config, pid=int(pid))
        if info is not None and info.project == root:
            return info
    return None

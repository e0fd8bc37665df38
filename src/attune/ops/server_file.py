"""Where a running dashboard can be found: ``<attune_home>/ops/server.json`` (mode 0600).

The server writes its pid, address and token at start and removes the file at stop, so
``attune runs cancel`` can reach it through its API. A file whose pid is gone is stale.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from attune.ops.config import Config

__all__ = ["ServerInfo", "read_server_file", "remove_server_file", "write_server_file"]

FILE_NAME = "server.json"


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    host: str
    port: int
    token: str

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "localhost") else self.host  # noqa: S104
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"


def _path(config: Config) -> Path:
    return config.ops_dir / FILE_NAME


def write_server_file(config: Config, token: str) -> None:
    """Record this process as the dashboard of ``config.attune_home`` (owner-only file)."""
    if config.port == 0:
        return  # an ephemeral port is not known here; the CLI cannot reach such a server
    path = _path(config)
    data = {"pid": os.getpid(), "host": config.host, "port": config.port, "token": token}
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    tmp.replace(path)


def remove_server_file(config: Config) -> None:
    """Remove the file if it is this process's."""
    info = read_server_file(config, check_alive=False)
    if info is not None and info.pid == os.getpid():
        with contextlib.suppress(OSError):
            _path(config).unlink()


def read_server_file(config: Config, *, check_alive: bool = True) -> ServerInfo | None:
    """The running dashboard of this home, or ``None`` (no file, unreadable, or stale)."""
    try:
        data = json.loads(_path(config).read_text())
        info = ServerInfo(
            int(data["pid"]), str(data["host"]), int(data["port"]), str(data["token"])
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

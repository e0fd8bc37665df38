"""The listening socket: bind it, explain a failure, find who holds a port, print its URL.

The CLI binds before it imports the web stack (a busy port is one line, never a traceback);
the doctor asks the same questions without serving.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from attune.ops.config import Config

__all__ = ["bind_error_reason", "bind_socket", "port_holder", "url_for"]


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` now, so failures are known before anything starts."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP;
    # without it every response waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def bind_error_reason(exc: OSError) -> str:
    """A short human reason for a failed bind."""
    if isinstance(exc, socket.gaierror):
        return "the host name cannot be resolved"
    reasons = {
        errno.EADDRINUSE: "the port is already in use (is another attune ops running?)",
        errno.EADDRNOTAVAIL: "the address is not available on this machine",
        errno.EACCES: "permission denied (ports below 1024 need root)",
    }
    return reasons.get(exc.errno or 0, exc.strerror or str(exc))


def url_for(config: Config) -> str:
    host = config.host
    if host in ("0.0.0.0", "::"):  # noqa: S104 - only to print a clickable address
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.port}/"


def port_holder(port: int) -> tuple[int, str] | None:
    """``(pid, command line)`` of the process listening on ``port``, when /proc says."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                inodes.add(fields[9])
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if str(fd.readlink()) in targets:
                    cmd = (
                        (proc / "cmdline")
                        .read_bytes()
                        .replace(b"\0", b" ")
                        .decode(errors="replace")
                    )
                    return int(proc.name), cmd.strip()
        except OSError:
            continue
    return None

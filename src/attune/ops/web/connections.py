"""Ending a client's TCP connection at once, for a reader that reads nothing.

The SSE route uses it when a reader has accepted nothing for ``SEND_TIMEOUT_S``: returning from
the response is not enough, because uvicorn's ``close()`` waits to flush its write buffer first.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
from pathlib import Path

from starlette.types import Scope

__all__ = ["abort_connection"]


def abort_connection(scope: Scope) -> bool:
    """Reset the TCP connection of ``scope`` now, even with unsent bytes queued; ``True`` if so.

    ASGI has no abort, and uvicorn's ``close()`` waits for its write buffer to flush first,
    which never happens for a reader that reads nothing: such a connection would stay open
    forever. So the socket is found among this process's descriptors by its two addresses (a
    TCP connection is unique by them) and shut down with ``SO_LINGER`` 0: the server's next
    write fails, it closes the socket, and the close is a reset that frees the kernel's buffers.
    """
    local, peer = scope.get("server"), scope.get("client")
    if not local or not peer:
        return False
    try:
        fds = [int(entry.name) for entry in Path("/dev/fd").iterdir()]
    except OSError:  # no /dev/fd (Windows)
        return False
    for fd in fds:
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            dup = os.dup(fd)
        except OSError:
            continue
        try:
            sock = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            continue
        with sock:
            try:
                if (sock.getsockname()[:2], sock.getpeername()[:2]) != (
                    tuple(local)[:2],
                    tuple(peer)[:2],
                ):
                    continue
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue
        return True
    return False

"""The Anthropic admin key: the one module that reads or writes its file.

The key comes from ``$ANTHROPIC_ADMIN_API_KEY``, else ``<attune_home>/anthropic-admin.env``
(mode 0600). It is handed straight to the transport and never logged, cached or put in a message.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

__all__ = [
    "ADMIN_KEY_PREFIX",
    "KEY_ENV",
    "KEY_FILE_NAME",
    "adopt_handed_over_key",
    "default_attune_home",
    "hand_over_through_exec",
    "key_file_path",
    "key_file_problem",
    "key_from_environment",
    "load_admin_key",
    "parse_key_file",
    "remove_key_file",
    "write_key_file",
]

logger = logging.getLogger(__name__)

KEY_ENV = "ANTHROPIC_ADMIN_API_KEY"
KEY_FILE_NAME = "anthropic-admin.env"
ADMIN_KEY_PREFIX = "sk-ant-admin"
HANDOVER_ENV = "ATTUNE_KEY_FD"  # names the pipe the key arrives through (never the key)
NONCE_ENV = "ATTUNE_KEY_NONCE"  # what the pipe starts with: proves the fd is the hand-over
_handed_over = ""  # the key, when it came through that pipe: in this process's memory only


def default_attune_home() -> Path:
    """``$ATTUNE_HOME``, else ``~/.attune`` (not created here)."""
    env = os.environ.get("ATTUNE_HOME", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".attune"


def key_file_path(attune_home: Path | None = None) -> Path:
    return (attune_home or default_attune_home()) / KEY_FILE_NAME


def load_admin_key(*, attune_home: Path | None = None) -> str | None:
    """``$ANTHROPIC_ADMIN_API_KEY``, else the key in ``<attune_home>/anthropic-admin.env``.

    The file holds ``ANTHROPIC_ADMIN_API_KEY=…`` (quotes and ``export`` allowed) or a bare
    ``sk-ant-admin…`` line. ``None`` when absent or unreadable. Example: ``load_admin_key()``.
    """
    from_env = os.environ.get(KEY_ENV, "").strip() or _handed_over
    if from_env:
        return from_env
    path = key_file_path(attune_home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("the admin key file %s cannot be read: %s", path, type(exc).__name__)
        return None
    return parse_key_file(text)


def key_from_environment() -> bool:
    """Whether the key comes from ``$ANTHROPIC_ADMIN_API_KEY`` (possibly handed over by
    :func:`hand_over_through_exec`) rather than from the key file."""
    return bool(os.environ.get(KEY_ENV, "").strip() or _handed_over)


def hand_over_through_exec(argv: list[str]) -> None:
    """Re-execute this program without the key in its environment; the key goes through a pipe.

    A process's initial environment stays readable (``/proc/<pid>/environ``, ``ps e``) by
    every process of the same user — every workflow the dashboard runs. So when the key came
    in through the environment, the serving process starts again (same pid, same argv) with
    ``$ANTHROPIC_ADMIN_API_KEY`` removed and the key written to an inherited pipe, which the new
    image reads at once (:func:`adopt_handed_over_key`). The pipe starts with a random nonce that
    the new image finds in ``$ATTUNE_KEY_NONCE``, so an ``$ATTUNE_KEY_FD`` inherited from some
    parent never makes it trust another file descriptor. Returns only when there is nothing to
    do (no key in the environment: the re-executed image has none). Raises ``OSError`` when
    ``argv[0]`` cannot be executed (the pipe is closed first).

    Limits: an ancestor started with the key in its environment (a shell, ``make``) still holds
    it in its own ``/proc/<pid>/environ``; only the key file avoids that.
    """
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        return
    nonce = secrets.token_hex(16)
    read_end, write_end = os.pipe()
    try:
        # tiny: fits the pipe's buffer, never blocks
        os.write(write_end, f"{nonce}\n{key}".encode())
    finally:
        os.close(write_end)
    os.set_inheritable(read_end, True)
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, HANDOVER_ENV, NONCE_ENV)}
    env[HANDOVER_ENV] = str(read_end)
    env[NONCE_ENV] = nonce
    try:
        if not argv[0]:  # os.execve raises ValueError for it
            raise FileNotFoundError(errno.ENOENT, "empty path")
        os.execve(argv[0], argv, env)  # noqa: S606 - this same program again, without a shell
    except OSError:
        os.close(read_end)
        raise


def adopt_handed_over_key() -> None:
    """In the re-executed image: take the key from the pipe named by ``$ATTUNE_KEY_FD``, once
    it starts with ``$ATTUNE_KEY_NONCE``; an fd without its nonce is left alone."""
    global _handed_over
    raw = os.environ.pop(HANDOVER_ENV, "")
    nonce = os.environ.pop(NONCE_ENV, "")
    if not raw.isdigit() or not nonce:
        return
    fd = int(raw)
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return  # not the hand-over pipe: someone else's fd
        os.set_blocking(fd, False)  # the writer wrote everything before the exec
        chunks = []
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(fd, 4096):
                chunks.append(chunk)
    except OSError as exc:
        logger.warning("the admin key could not be read from the hand-over pipe: %s", exc)
        return
    head, sep, key = b"".join(chunks).partition(b"\n")
    if not sep or not hmac.compare_digest(head, nonce.encode()):
        logger.warning("ignored $%s: it does not name the admin key hand-over pipe", HANDOVER_ENV)
        return
    _handed_over = key.decode("utf-8", "replace").strip()
    with contextlib.suppress(OSError):
        os.close(fd)


def parse_key_file(text: str) -> str | None:
    """The key in the text of an ``anthropic-admin.env`` file, or ``None``."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        if sep and name.strip() == KEY_ENV:
            value = value.strip().strip("'\"").strip()
            return value or None
        if not sep and line.startswith(ADMIN_KEY_PREFIX):
            return line
    return None


def key_file_problem(attune_home: Path | None = None) -> str | None:
    """A warning when the key file is readable by group or others (it should be 0600)."""
    path = key_file_path(attune_home)
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"the admin key file {path} is readable by other users (mode "
            f"{stat.S_IMODE(mode):04o}): run `chmod 600 {path}`"
        )
    return None


def write_key_file(home: Path, key: str) -> Path:
    """Write ``ANTHROPIC_ADMIN_API_KEY=<key>`` to the key file, mode 0600, atomically."""
    path = key_file_path(home)
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a crash of an earlier run with the same pid
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # in case the umask left more bits
            handle.write(f"# written by attune ops setup-billing\n{KEY_ENV}={key}\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def remove_key_file(home: Path) -> bool:
    """Delete the key file; ``False`` when there was none."""
    try:
        key_file_path(home).unlink()
    except FileNotFoundError:
        return False
    return True

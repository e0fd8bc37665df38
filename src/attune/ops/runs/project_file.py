"""Reading a file of the project the way a stranger's file should be read.

Only a regular file, opened without blocking (``open()`` on a FIFO waits for a writer forever
and would hang the dashboard), at most ``limit`` bytes, UTF-8, and through a symlink only when
it stays inside the project root. Nothing here raises for a bad file: the caller gets the text,
``None`` when there is no file, or :class:`Refused` saying why the file was not used.
"""

from __future__ import annotations

from pathlib import Path

from attune.files import Refused, read_regular

__all__ = ["MAX_FILE_BYTES", "read_project_text"]

MAX_FILE_BYTES = 1024 * 1024


def read_project_text(path: Path, root: Path, limit: int = MAX_FILE_BYTES) -> str | Refused | None:
    """The text of ``path`` (inside ``root``), ``None`` when it does not exist, or why not.

    Example: ``read_project_text(root / "attune.toml", root)``.
    """
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        return None  # no file, or a dangling symlink
    except (OSError, RuntimeError) as exc:  # a symlink loop
        return Refused(f"cannot be read: {exc}")
    if not real.is_relative_to(root.resolve()):
        return Refused(f"is a symlink to {real}, outside the project root; it was not read")
    data = read_regular(real, limit)
    if isinstance(data, Refused):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Refused(f"cannot be read: it is not UTF-8 text ({exc})")

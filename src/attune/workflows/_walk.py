"""Walking a scope for the built-in scanners: regular text files only, the usual noise skipped.

Skipped: ``.git``, ``.venv``/``venv``, ``node_modules``, ``__pycache__`` and other tool caches;
what the project's ``.gitignore`` files ignore (git's rules, :mod:`attune.gitignore`); symlinks,
FIFOs, sockets and devices (a FIFO would block ``open()`` forever); files over 5 MB; binary
files (a NUL byte in the first 8 KiB).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from attune.files import Refused, read_regular
from attune.gitignore import GitIgnore

__all__ = ["MAX_FILE_BYTES", "SKIP_DIRS", "iter_text_files", "read_text", "rel"]

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".eggs",
        "dist",
        "build",
    }
)
MAX_FILE_BYTES = 5 * 1024 * 1024
BINARY_SNIFF_BYTES = 8192


def read_text(path: Path) -> str | None:
    """The text of ``path`` if it is a regular, non-binary file of at most 5 MB, else ``None``.

    The type is checked on the open descriptor, so a file swapped for a FIFO or a symlink
    between the listing and the open is still refused. Example: ``read_text(Path("app.py"))``.
    """
    data = read_regular(path, MAX_FILE_BYTES)
    if isinstance(data, Refused) or b"\0" in data[:BINARY_SNIFF_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")


def iter_text_files(scope: Path, root: Path) -> Iterator[tuple[Path, str]]:
    """``(path, text)`` of the text files under ``scope`` (a file or a folder), in a stable order.

    A folder is walked depth first, each folder's files before its subfolders, names sorted.
    """
    if not scope.is_dir():
        text = read_text(scope)
        if text is not None:
            yield scope, text
        return
    inside = scope == root or root in scope.parents
    ignore = GitIgnore(root if inside else scope)
    start = rel(scope, root) if inside else "."
    pending = [(scope, "" if start == "." else start + "/")]
    while pending:
        directory, prefix = pending.pop()
        files, folders = _entries(directory, prefix, ignore)
        for path in files:
            text = read_text(path)
            if text is not None:
                yield path, text
        pending.extend(reversed(folders))


def _entries(
    directory: Path, prefix: str, ignore: GitIgnore
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The files to read and the folders to walk in ``directory``, sorted by name."""
    try:
        with os.scandir(directory) as it:
            items = sorted(it, key=lambda item: item.name)
    except OSError:
        return [], []
    files: list[Path] = []
    folders: list[tuple[Path, str]] = []
    for item in items:
        path = prefix + item.name
        try:
            # The listing's own type (no stat, no symlink followed): links, FIFOs, sockets and
            # devices are neither.
            is_dir = item.is_dir(follow_symlinks=False)
            is_file = not is_dir and item.is_file(follow_symlinks=False)
        except OSError:
            continue
        if is_dir and item.name not in SKIP_DIRS and not ignore.is_ignored(path, is_dir=True):
            folders.append((Path(item.path), path + "/"))
        elif is_file and not ignore.is_ignored(path, is_dir=False):
            files.append(Path(item.path))
    return files, folders


def rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` for display (absolute when outside it)."""
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)

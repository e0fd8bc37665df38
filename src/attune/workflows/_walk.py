"""Walking a scope for the built-in scanners: text files only, the usual noise skipped.

Skipped: ``.git``, ``.venv``/``venv``, ``node_modules``, ``__pycache__`` and other tool caches,
what the root ``.gitignore`` (and each directory's own ``.gitignore``) ignores — simple
fnmatch-style patterns, trailing ``/`` for folders, ``!`` to re-include — files over 5 MB and
binary files (a NUL byte in the first 8 KiB).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from attune.gitignore import gitignore_rules, is_ignored

__all__ = ["SKIP_DIRS", "iter_text_files", "rel"]

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


def is_binary(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return b"\0" in fh.read(8192)
    except OSError:
        return True


def iter_text_files(scope: Path, root: Path) -> Iterator[Path]:
    """Text files under ``scope`` (a file or a folder), in a stable order."""
    if scope.is_file():
        if not is_binary(scope):
            yield scope
        return
    for dirpath, dirnames, filenames in os.walk(scope):
        here = Path(dirpath)
        rules = gitignore_rules(root, here)
        base = rel(here, root)
        prefix = "" if base == "." else base + "/"
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIP_DIRS and not is_ignored(rules, prefix + d, d, True)
        )
        for name in sorted(filenames):
            path = here / name
            if is_ignored(rules, prefix + name, name, False) or path.is_symlink():
                continue
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    continue
            except OSError:
                continue
            if not is_binary(path):
                yield path


def rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` for display (absolute when outside it)."""
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)

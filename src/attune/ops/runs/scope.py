"""The scope a workflow runs on: a path inside the project root, checked on its real path.

:func:`resolve_scope` turns a user-supplied relative path into a real path that is guaranteed
to be inside the project root; everything else is :class:`InvalidPath` (400 ``invalid_path``).
:func:`list_scope` lists one directory level for the tree picker, flagging what is hidden by
default (``.git``, ``.venv``, ``node_modules``, ``__pycache__`` and ``.gitignore`` matches).

The ``.gitignore`` matching is git's (:mod:`attune.gitignore`, shared with the built-in scanners):
every ``.gitignore`` from the root down applies, so the picker dims what a scan there skips.
Listing only stats entries; the only files it opens are ``.gitignore`` files, never blocking.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attune.gitignore import GitIgnore
from attune.ops.config import Config
from attune.ops.errors import InvalidPath, NotFound

__all__ = [
    "ALWAYS_HIDDEN",
    "ScopeEntry",
    "list_scope",
    "normalize_rel",
    "resolve_scope",
]

ALWAYS_HIDDEN = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__"})
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
MAX_ENTRIES = 5000  # a folder with more shows its first 5,000 (sorted) and says so


@dataclass(frozen=True)
class ScopeEntry:
    name: str
    path: str
    kind: str  # "dir" | "file"
    hidden: bool

    def to_json(self, *, with_hidden: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "path": self.path, "kind": self.kind}
        if with_hidden:
            data["hidden"] = self.hidden
        return data


def normalize_rel(rel: str | None) -> str:
    """Validate the *text* of a relative path and return it in canonical ``a/b`` form.

    ``""``, ``"."`` and ``None`` mean the root. Raises :class:`InvalidPath` for absolute paths,
    ``..`` components, NUL bytes, backslashes, drive letters and over-long paths.
    """
    if rel is None:
        return ""
    if "\x00" in rel:
        raise InvalidPath("the path contains a NUL byte")
    if "\\" in rel:
        raise InvalidPath("use '/' to separate folders; backslashes are not accepted")
    if len(rel.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidPath(f"the path is longer than {MAX_PATH_BYTES} bytes")
    if rel.startswith("/") or rel.startswith("~") or (len(rel) > 1 and rel[1] == ":"):
        raise InvalidPath("the path must be relative to the project root", path=rel)
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    for part in parts:
        if part == "..":
            raise InvalidPath("the path must not leave the project root ('..')", path=rel)
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise InvalidPath(f"a path component is longer than {MAX_NAME_BYTES} bytes")
        if any(ord(c) < 32 for c in part):
            raise InvalidPath("the path contains control characters")
    return "/".join(parts)


def resolve_scope(root: Path | Config, rel: str | None, *, must_exist: bool = True) -> Path:
    """The real path of ``rel`` under ``root``; it is guaranteed to stay inside ``root``.

    Raises :class:`InvalidPath` (400) for hostile paths, including symlinks whose target leaves
    the root, and :class:`NotFound` (404) when nothing exists there.
    Example: ``resolve_scope(config.project_root, "src/app")``.
    """
    canonical = normalize_rel(rel)
    real_root = _root_of(root)
    candidate = real_root / canonical if canonical else real_root
    try:
        real = Path(os.path.realpath(candidate, strict=must_exist))
    except FileNotFoundError as exc:
        message = f"nothing at {canonical or '.'} in the project"
        raise NotFound(message, path=canonical) from exc
    except (OSError, ValueError) as exc:
        # ELOOP (a symlink loop), ENOTDIR, EACCES…: never something a workflow should get.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidPath(f"the path cannot be resolved: {reason}", path=canonical) from exc
    if real != real_root and real_root not in real.parents:
        raise InvalidPath("the path leads outside the project root", path=canonical)
    return real


def _root_of(where: Path | Config) -> Path:
    return (where.project_root if isinstance(where, Config) else where).resolve()


def list_scope(
    root: Path | Config, rel: str | None, *, include_hidden: bool = False
) -> list[ScopeEntry]:
    """One directory level under ``root``: dirs first, then files, each sorted by name."""
    directory = resolve_scope(root, rel)
    if not directory.is_dir():
        raise InvalidPath("the path is a file, not a folder", path=normalize_rel(rel))
    real_root = _root_of(root)
    base = directory.relative_to(real_root).as_posix()
    base = "" if base == "." else base
    ignore = GitIgnore(real_root)
    entries: list[ScopeEntry] = []
    try:
        with os.scandir(directory) as it:
            for item in it:
                entry = _entry(item, base, ignore, real_root)
                if entry is not None and (include_hidden or not entry.hidden):
                    entries.append(entry)
    except PermissionError as exc:
        raise InvalidPath("the folder cannot be read: permission denied") from exc
    entries.sort(key=lambda e: (e.kind != "dir", e.name.lower(), e.name))
    return entries[:MAX_ENTRIES]


def _entry(item: os.DirEntry[str], base: str, ignore: GitIgnore, root: Path) -> ScopeEntry | None:
    path = f"{base}/{item.name}" if base else item.name
    try:
        if item.is_symlink():
            target = Path(os.path.realpath(item.path))
            if target != root and root not in target.parents:
                return None  # a link out of the project cannot be picked; do not offer it
        is_dir = item.is_dir()
    except OSError:
        return None
    hidden = item.name in ALWAYS_HIDDEN or ignore.is_ignored(path, is_dir=is_dir)
    return ScopeEntry(item.name, path, "dir" if is_dir else "file", hidden)

"""Which folders are specs: a path a request names, checked against the specs roots.

The same rule as the index's scan (:mod:`attune.ops.specs.index`): a folder with a phase file
directly under a root, under one of its archive folders, or one level down under a grouping
folder without phase files. Real paths are compared, so ``..`` and symbolic links cannot reach
outside the roots.
"""

from __future__ import annotations

import os
from pathlib import Path

from attune.ops.config import Config
from attune.ops.errors import InvalidPath
from attune.ops.specs.files import PHASE_FILES, PHASE_NAMES
from attune.ops.specs.index import ARCHIVE_DIRS
from attune.ops.specs.listing import display_path

__all__ = ["phase_files", "resolve_spec_path"]


def resolve_spec_path(config: Config, path: str) -> tuple[Path, str]:
    """(real folder, canonical display path) of a spec folder under a root, else InvalidPath.

    ``path`` is relative to the project root (or absolute). Real paths are compared, so ``..``
    and symbolic links cannot reach outside the roots.
    """
    if not path or "\x00" in path or len(path) > 4096:
        raise InvalidPath("The path is empty or not a valid path.", path=path[:200])
    given = Path(path).expanduser()
    candidate = given if given.is_absolute() else config.project_root / given
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise InvalidPath(f"{path} does not exist.", path=path) from exc
    if real.is_dir() and phase_files(real):
        for root in config.specs_roots:
            try:
                real_root = root.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            inside = _spec_place(real, real_root)
            if inside is not None:
                return real, display_path(root.joinpath(*inside), config.project_root)
    raise InvalidPath(f"{path} is not a spec folder under the specs roots.", path=path)


def _spec_place(real: Path, real_root: Path) -> tuple[str, ...] | None:
    """The parts of ``real`` below ``real_root`` when the index lists it as a spec, else None.

    That is ``name``, ``<archive>/name``, and one level deeper under a grouping folder (one
    without phase files): ``group/name``, ``<archive>/group/name``.
    """
    try:
        parts = real.relative_to(real_root).parts
    except ValueError:
        return None
    archived = bool(parts) and parts[0].lower() in ARCHIVE_DIRS
    inner = parts[1:] if archived else parts
    if not 1 <= len(inner) <= 2:
        return None
    if len(inner) == 2 and phase_files(real.parent):
        return None  # the parent is a spec itself: its sub-folders are not specs
    return parts


def phase_files(folder: Path) -> list[str]:
    """The phase files of ``folder`` as named on disk, in reading order ([] when unreadable)."""
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries]
    except OSError:
        return []
    found = {PHASE_NAMES[n.lower()]: n for n in names if n.lower() in PHASE_NAMES}
    return [found[p] for p in PHASE_FILES if p in found]

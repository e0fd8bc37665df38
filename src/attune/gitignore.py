"""What a project's ``.gitignore`` files ignore: a thin adapter over :mod:`pathspec`.

Shared by the scope picker and the built-in scanners, so that the picker dims exactly what a
scan of that folder skips. Git's own rules, as :class:`pathspec.GitIgnoreSpec` implements them:
a ``.gitignore`` at any depth applies under its own folder, each pattern relative to that folder;
a deeper file overrides a shallower one, and within a file the last matching pattern wins
(``!pattern`` re-includes). An entry is judged by its own path: callers walk top-down and do not
descend into an ignored folder, which is how git ignores everything inside one.

One step beyond per-entry matching: a folder whose own ``.gitignore`` ignores every name in it
(the ``*`` that pytest, mypy, ruff and virtualenv write into the folders they create) counts as
ignored itself, as ``git status --ignored`` shows it; there is nothing in it to scan.

``.git/info/exclude`` and the user's global excludes file are not read: they describe one
checkout, not the project.
"""

from __future__ import annotations

import re
from pathlib import Path

from pathspec import GitIgnoreSpec

from attune.files import Refused, read_regular

__all__ = ["MAX_GITIGNORE_BYTES", "GitIgnore", "parse_gitignore"]

MAX_GITIGNORE_BYTES = 1024 * 1024
# A name no real file can have (NUL is not allowed in names): only a catch-all pattern matches it.
_PROBE = "attune\0probe"


def parse_gitignore(text: str) -> GitIgnoreSpec:
    """The patterns of one ``.gitignore``; a line git would reject is dropped, as git does."""
    lines = text.removeprefix("\ufeff").splitlines()
    try:
        return GitIgnoreSpec.from_lines(lines)
    except (ValueError, re.error):
        return GitIgnoreSpec.from_lines([line for line in lines if _is_valid(line)])


def _is_valid(line: str) -> bool:
    try:
        GitIgnoreSpec.from_lines([line])
    except (ValueError, re.error):
        return False
    return True


class GitIgnore:
    """The ``.gitignore`` files under ``root``, each read and parsed at most once.

    Make one per listing or scan: it caches what it read and never notices later edits.
    Example: ``GitIgnore(root).is_ignored("src/build", is_dir=True)``.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._specs: dict[str, GitIgnoreSpec | None] = {}
        self._chains: dict[str, tuple[tuple[str, GitIgnoreSpec], ...]] = {}

    def is_ignored(self, path: str, *, is_dir: bool) -> bool:
        """Whether the entry at ``path`` (relative to the root, ``a/b`` form) is ignored.

        Only the entry itself is judged, not the folders above it (see the module docstring).
        """
        parent = path.rpartition("/")[0]
        ignored: bool | None = None
        for base, spec in self._chain(parent):
            local = path[len(base) + 1 :] if base else path
            verdict = spec.check_file(local + "/" if is_dir else local).include
            if verdict is not None:
                ignored = verdict  # the deepest .gitignore with a matching pattern decides
        return bool(ignored) or (is_dir and self._ignores_everything(path))

    def _ignores_everything(self, directory: str) -> bool:
        spec = self._spec(directory)
        if spec is None or any(pattern.include is False for pattern in spec.patterns):
            return False
        return spec.match_file(_PROBE) and spec.match_file(_PROBE + "/")

    def _chain(self, directory: str) -> tuple[tuple[str, GitIgnoreSpec], ...]:
        """``(folder, patterns)`` of each ``.gitignore`` from the root down to ``directory``."""
        unknown = []  # climbed in a loop, not recursively: a tree can be deeper than the stack
        known = directory
        while known not in self._chains:
            unknown.append(known)
            if not known:
                break
            known = known.rpartition("/")[0]
        chain = self._chains.get(known, ())
        for folder in reversed(unknown):
            spec = self._spec(folder)
            if spec is not None:
                chain = (*chain, (folder, spec))
            self._chains[folder] = chain
        return chain

    def _spec(self, directory: str) -> GitIgnoreSpec | None:
        if directory not in self._specs:
            text = _read_gitignore(self._root / directory / ".gitignore")
            spec = parse_gitignore(text) if text else None
            self._specs[directory] = spec if spec else None
        return self._specs[directory]


def _read_gitignore(path: Path) -> str | None:
    """The text of a ``.gitignore`` that is a regular file under the size cap, else ``None``.

    Never follows a symlink (git does not either) and never blocks on a FIFO planted there.
    """
    data = read_regular(path, MAX_GITIGNORE_BYTES)
    return None if isinstance(data, Refused) else data.decode("utf-8", errors="replace")

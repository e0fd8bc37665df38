"""A small ``.gitignore`` reader, shared by the scope picker and the built-in scanners.

Deliberately simple: the root's ``.gitignore`` and the one of the directory at hand are read;
each pattern is matched with :mod:`fnmatch` against an entry's name, or, when the pattern holds
a ``/``, against its path relative to the ``.gitignore`` that declared it. A trailing ``/``
limits a pattern to directories, ``!pattern`` re-includes. ``.gitignore`` files of intermediate
directories and ``**`` beyond a leading ``**/`` are not interpreted.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IgnoreRule", "gitignore_rules", "is_ignored", "parse_gitignore"]


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str
    anchored: bool  # the pattern holds a '/': matched against the path, not the name
    dir_only: bool
    negate: bool
    base: str  # the directory (relative to the root) of the .gitignore the rule came from


def parse_gitignore(text: str, base: str = "") -> list[IgnoreRule]:
    """The rules of one ``.gitignore`` whose directory is ``base`` (relative to the root)."""
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:] if negate else line
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/").removeprefix("**/")
        if line:
            rules.append(IgnoreRule(line, anchored, dir_only, negate, base))
    return rules


def gitignore_rules(root: Path, directory: Path) -> list[IgnoreRule]:
    """The rules that apply to the entries of ``directory``: the root's, then its own."""
    files = [root / ".gitignore"]
    if directory != root:
        files.append(directory / ".gitignore")
    rules: list[IgnoreRule] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        base = file.parent.relative_to(root).as_posix()
        rules.extend(parse_gitignore(text, "" if base == "." else base))
    return rules


def is_ignored(rules: list[IgnoreRule], path: str, name: str, is_dir: bool) -> bool:
    """Whether the entry ``name`` at ``path`` (relative to the root) is ignored; last rule wins."""
    ignored = False
    for rule in rules:
        if rule.dir_only and not is_dir:
            continue
        if rule.base and not path.startswith(rule.base + "/"):
            continue
        local = path[len(rule.base) + 1 :] if rule.base else path
        target = local if rule.anchored else name
        if fnmatch.fnmatchcase(target, rule.pattern):
            ignored = not rule.negate
    return ignored

"""What ``claude-review`` would send: the scope's uncommitted diff, else its files; and the
likely secrets in it.

A scope with uncommitted changes (``git status`` lists something under it) is reviewed as its
diff against ``HEAD`` plus its new untracked files in full: the change is what a reviewer
reads. A clean scope, a folder outside git, or a repository without a commit yet is reviewed
as its files. Either way the scans' rules apply: ``.git``, ``.venv``, ``node_modules`` and tool
caches, what ``.gitignore`` ignores, binary files and files over 5 MB are left out (each
skipped diff is named). Every line that would be sent is scanned for likely secrets before any
request; :func:`find_secrets` reports them masked, with the line in the file.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from attune.workflows._walk import MAX_FILE_BYTES, SKIP_DIRS, iter_text_files, read_text, rel
from attune.workflows.secrets_scan import scan_line

__all__ = ["MAX_SEND_BYTES", "Finding", "Material", "Part", "find_secrets", "gather"]

MAX_SEND_BYTES = 20 * 1024 * 1024  # the Messages API takes 32 MB per request; leave room
GIT_TIMEOUT_S = 30
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class Part:
    """One file's share of the review: its diff, or its whole text."""

    path: str
    text: str
    is_diff: bool


@dataclass
class Material:
    """Everything the review would send, and what was left out."""

    kind: str  # "diff" (uncommitted changes) or "files"
    parts: list[Part] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    size: int = 0
    over_limit: bool = False  # more than MAX_SEND_BYTES: nothing is sent

    def add(self, part: Part) -> None:
        self.size += len(part.text.encode("utf-8", "replace"))
        self.over_limit = self.over_limit or self.size > MAX_SEND_BYTES
        self.parts.append(part)


@dataclass(frozen=True)
class Finding:
    kind: str
    path: str
    line: int
    masked: str
    removed: bool = False  # on a line the diff removes (it would still be sent)


def gather(scope: Path, root: Path) -> Material:
    """The diff of ``scope`` when it has uncommitted changes, else its files."""
    target = rel(scope, root)
    if _git(root, "rev-parse", "--verify", "-q", "HEAD") is not None:
        status = _git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--", target)
        if status:
            return _diff(root, target)
    material = Material("files")
    for path, text in iter_text_files(scope, root):
        material.add(Part(rel(path, root), text, is_diff=False))
        if material.over_limit:
            break
    return material


def _diff(root: Path, target: str) -> Material:
    material = Material("diff")
    text = _git(root, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "HEAD", "--", target)
    for path, section in _sections(text or ""):
        if len(section.encode("utf-8", "replace")) > MAX_FILE_BYTES:
            material.skipped.append(f"{path} (its diff is over 5 MB)")
        elif not _hidden(path):
            material.add(Part(path, section, is_diff=True))
    listed = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", target) or ""
    for name in sorted(filter(None, listed.split("\0"))):
        if _hidden(name):
            continue
        content = read_text(root / name)
        if content is None:
            material.skipped.append(f"{name} (binary, over 5 MB or not a regular file)")
        else:
            material.add(Part(name, content, is_diff=False))
        if material.over_limit:
            break
    return material


def _hidden(path: str) -> bool:
    return any(part in SKIP_DIRS for part in path.split("/")[:-1])


def _sections(diff: str) -> Iterator[tuple[str, str]]:
    """``(path, its part of the diff)`` for each file of a ``git diff``."""
    starts = [m.start() for m in re.finditer(r"^diff --git ", diff, re.MULTILINE)]
    for begin, end in zip(starts, [*starts[1:], len(diff)][: len(starts)], strict=True):
        section = diff[begin:end]
        new = re.search(r"^\+\+\+ b/(.*)$", section, re.MULTILINE)
        old = re.search(r"^--- a/(.*)$", section, re.MULTILINE)
        head = re.match(r"diff --git a/(.*?) b/(.*)$", section, re.MULTILINE)
        path = new.group(1) if new else old.group(1) if old else head.group(2) if head else "?"
        yield path, section


def _git(root: Path, *args: str) -> str | None:
    """A git command's output in ``root``; ``None`` when git is missing or the command fails."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_PAGER": "cat", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=root,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


def find_secrets(material: Material) -> list[Finding]:
    """Every likely secret in what would be sent, masked, located in its file."""
    found: list[Finding] = []
    for part in material.parts:
        for number, line, removed in _numbered(part):
            found.extend(
                Finding(kind, part.path, number, masked, removed)
                for kind, masked in scan_line(line)
            )
    return found


def _numbered(part: Part) -> Iterator[tuple[int, str, bool]]:
    """``(line in the file, text, removed?)``: a diff's lines by the new file's numbers (a
    removed line by the old file's), a file's by its own."""
    if not part.is_diff:
        for number, line in enumerate(part.text.splitlines(), start=1):
            yield number, line, False
        return
    old = new = 0
    for line in part.text.splitlines():
        hunk = _HUNK.match(line)
        if hunk:
            old, new = int(hunk.group(1)), int(hunk.group(2))
            yield new, line, False
        elif line.startswith("-") and not line.startswith("--- "):
            yield old, line, True
            old += 1
        elif line.startswith("+") and not line.startswith("+++ "):
            yield new, line, False
            new += 1
        else:
            yield max(new, 1), line, False
            if line.startswith(" "):
                old, new = old + 1, new + 1

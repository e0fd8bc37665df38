"""Where Claude Code keeps its transcripts, and which of them may belong to a project.

Config roots: every entry of ``$CLAUDE_CONFIG_DIR`` (a comma-separated list; an entry may be
the config folder or its ``projects/``), else both ``~/.claude`` and
``$XDG_CONFIG_HOME/claude`` (default ``~/.config/claude``), merged. Transcripts are
``<root>/projects/<dir>/<session>.jsonl`` and, for subagents,
``<root>/projects/<dir>/<session>/subagents/*.jsonl``. ``<dir>`` is the folder Claude Code was
started in with every character that is not a letter or a digit replaced by ``-``: it only
narrows the search (the mapping is lossy); a line's ``cwd`` decides where it belongs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from attune.ops.store.usage import is_inside

__all__ = [
    "Transcript",
    "config_roots",
    "encode_project_dir",
    "is_inside",
    "list_transcripts",
    "may_belong",
]

MAX_DEPTH = 4  # <dir>/<session>/subagents/<agent>.jsonl is 3 below projects/
MAX_ENCODED = 200
_NOT_ALNUM = re.compile(r"[^a-zA-Z0-9]")


@dataclass(frozen=True)
class Transcript:
    """One JSONL file: its path, the config root it was found under, its project folder."""

    path: Path
    root: Path
    project_dir: str

    @property
    def session_hint(self) -> str:
        """The session the path names: ``<session>.jsonl``, or the folder of its subagents."""
        parts = self.path.parts
        if len(parts) >= 3 and parts[-2] == "subagents":
            return parts[-3]
        return self.path.stem


def config_roots(env: Mapping[str, str] | None = None) -> list[Path]:
    """The Claude Code config folders to read, existing ones only, each once."""
    env = os.environ if env is None else env
    listed = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    if listed:
        candidates = [Path(p).expanduser() for p in listed]
    else:
        home = Path(env.get("HOME") or Path.home())
        xdg = env.get("XDG_CONFIG_HOME", "").strip()
        config_home = Path(xdg).expanduser() if xdg else home / ".config"
        candidates = [home / ".claude", config_home / "claude"]
    roots: list[Path] = []
    seen: set[Path] = set()
    for candidate in candidates:
        root = candidate.parent if candidate.name == "projects" else candidate
        try:
            real = (root / "projects").resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if real.is_dir() and real not in seen:
            seen.add(real)
            # absolute (symlinks kept as written): a relative entry names the same files, and
            # so the same stored paths, whatever folder a command is started in
            roots.append(root if root.is_absolute() else Path.cwd() / root)
    return roots


def encode_project_dir(path: Path | str) -> str:
    """The folder name Claude Code gives a working directory (without its long-name hash)."""
    return _NOT_ALNUM.sub("-", str(path))[:MAX_ENCODED]


def may_belong(project_dir: str, project_root: Path) -> bool:
    """Whether transcripts in ``project_dir`` may hold lines sent from inside the project:
    the encoded root is a prefix of the folder's name (a subfolder encodes to a longer name)."""
    return project_dir[:MAX_ENCODED].startswith(encode_project_dir(project_root))


def list_transcripts(roots: list[Path], first: Path | None = None) -> list[Transcript]:
    """Every transcript under ``roots``; those that may belong to ``first`` come first."""
    found = [t for root in roots for t in _walk(root)]
    if first is not None:
        found.sort(key=lambda t: not may_belong(t.project_dir, first))
    return found


def _walk(root: Path) -> Iterator[Transcript]:
    projects = root / "projects"
    try:
        dirs = sorted(os.scandir(projects), key=lambda e: e.name)
    except OSError:
        return
    for entry in dirs:
        if entry.is_dir(follow_symlinks=True) and not entry.name.startswith("."):
            for path in _jsonl(Path(entry.path), MAX_DEPTH - 1):
                yield Transcript(path, root, entry.name)


def _jsonl(folder: Path, depth: int) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if depth > 0:
                    yield from _jsonl(Path(entry.path), depth - 1)
            elif entry.name.endswith(".jsonl"):
                yield Path(entry.path)  # a FIFO or a symlink too: reported as unreadable
        except OSError:
            continue

"""Which files are a run's test reports: the workflow's ``reports`` globs, checked and found.

``reports = ["reports/*.xml"]`` in a workflow's table names JUnit XML files relative to the
project root. A glob may not be absolute or climb out with ``..``; a file it finds is used only
when it stays inside the root (a symlink out is refused), is a regular file, and was written
since the run started (an old report left from an earlier run is not this run's result).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["MAX_GLOBS", "MAX_REPORT_FILES", "find_reports", "report_glob_problems"]

MAX_GLOBS = 20
MAX_REPORT_FILES = 200
MTIME_SLACK_S = 2.0  # file systems with coarse timestamps (FAT: 2 s)


def report_glob_problems(value: Any) -> list[str]:
    """What is wrong with a workflow's ``reports`` value (empty when it is fine)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return ['must be a list of glob patterns, e.g. ["reports/*.xml"]']
    if len(value) > MAX_GLOBS:
        return [f"at most {MAX_GLOBS} patterns"]
    problems = []
    for pattern in value:
        if not pattern.strip() or "\0" in pattern:
            problems.append("a pattern must not be empty or hold a NUL byte")
        elif PurePosixPath(pattern).is_absolute() or pattern.startswith("~"):
            problems.append(f"{pattern!r} must be relative to the project root")
        elif ".." in PurePosixPath(pattern).parts:
            problems.append(f"{pattern!r} must stay inside the project root (no '..')")
    return problems


def find_reports(
    root: Path, patterns: Sequence[str], since: float
) -> tuple[list[tuple[str, Path]], list[str]]:
    """``(relative name, path)`` of every report written since ``since`` (epoch seconds), and
    notes on what the globs found but could not use. Sorted by name; at most
    :data:`MAX_REPORT_FILES`."""
    found: dict[str, Path] = {}
    notes: list[str] = []
    real_root = root.resolve()
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root).as_posix()
            if rel in found:
                continue
            why = _unusable(path, real_root, since)
            if why is None:
                found[rel] = path
            elif why:
                notes.append(f"test report {rel}: {why}")
            if len(found) >= MAX_REPORT_FILES:
                notes.append(f"only the first {MAX_REPORT_FILES} report files were read")
                return sorted(found.items()), notes
    return sorted(found.items()), notes


def _unusable(path: Path, real_root: Path, since: float) -> str | None:
    """Why ``path`` is not a report of this run; ``""`` to skip it silently (old, a folder)."""
    try:
        info = path.lstat()
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        return f"cannot be read ({exc})"
    if not real.is_relative_to(real_root):
        return f"is a symlink to {real}, outside the project root; it was not read"
    if real.is_dir():
        return ""
    if info.st_mtime < since - MTIME_SLACK_S and real.stat().st_mtime < since - MTIME_SLACK_S:
        return ""  # left by an earlier run
    return None

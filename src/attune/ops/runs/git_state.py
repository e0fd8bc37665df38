"""The project's git state at the start of a run: ``HEAD``'s commit and whether tracked files
differ from it (``git status --untracked-files=no``, as ``git describe --dirty`` judges).

Read with ``git`` itself, without a shell, each call bounded by a timeout: a project that is no
repository, a machine without git, or a repository too slow to answer records ``None``, never
a failed run. The uncommitted diff is hashed (never stored), so flakiness compares runs of the
same code: the same commit with the same changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from pathlib import Path

from attune.ops.store.run_git import GitState

__all__ = ["read_git_state"]

logger = logging.getLogger(__name__)

TIMEOUT_S = 3.0
MAX_DIFF_BYTES = 64 * 1024 * 1024  # a bigger diff is hashed by its first 64 MiB


def _git(root: Path, *args: str) -> bytes | None:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}  # never take the index lock
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            timeout=TIMEOUT_S,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.info("git %s in %s: %s", args[0], root, exc)
        return None
    return done.stdout if done.returncode == 0 else None


def read_git_state(root: Path) -> GitState | None:
    """``GitState(commit, dirty, diff_hash)`` of ``root``, or ``None`` when git cannot say.

    Example: ``read_git_state(Path("."))`` → ``GitState("9ef975a…", False, None)``.
    """
    head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    if head is None:
        return None
    commit = head.decode("ascii", "replace").strip()
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--ignore-submodules")
    if status is None:
        return None  # the commit alone would call a dirty tree clean
    if not status.strip():
        return GitState(commit, False, None)
    diff = _git(root, "diff", "HEAD", "--no-ext-diff", "--no-color", "--binary")
    digest = hashlib.sha256((diff or status)[:MAX_DIFF_BYTES]).hexdigest()[:16]
    return GitState(commit, True, digest)

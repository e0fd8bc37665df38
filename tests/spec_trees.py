"""Real spec trees on disk for the specs tests: the three layouts, written to a project folder,
and real git repositories around them."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

# Found once, before any test puts a logging git first on PATH.
REAL_GIT = shutil.which("git") or "git"


def write(path: Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` (parents created); bytes are written as they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))
    return path


def age(path: Path, seconds: float = 3600.0) -> None:
    """Move a file's (or folder's) mtime into the past, as if it had been edited long ago."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)), follow_symlinks=False)


def age_tree(root: Path, seconds: float = 3600.0) -> None:
    """Age every file and folder under ``root`` (and ``root``)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                age(p, seconds)
    age(root, seconds)


def docs_spec(project: Path, name: str, *, status: str = "In Progress", tasks: str = "") -> Path:
    """A docs/specs spec with a ``**Status:**`` line in requirements.md."""
    folder = project / "docs" / "specs" / name
    write(folder / "requirements.md", f"# {name}\n\n**Status:** {status}\n\nWhat we need.\n")
    write(folder / "design.md", f"# Design of {name}\n")
    write(folder / "tasks.md", tasks or "# Tasks\n\n- [x] 1. First\n- [ ] 2. Second\n")
    return folder


def kiro_spec(project: Path, name: str, *, tasks: str) -> Path:
    """A Kiro spec (no status line) under .kiro/specs."""
    folder = project / ".kiro" / "specs" / name
    write(folder / "requirements.md", "# Requirements Document\n\n## Introduction\n\nText.\n")
    write(folder / "design.md", "# Design Document\n")
    write(folder / "tasks.md", tasks)
    return folder


def speckit_spec(project: Path, name: str, *, status: str = "Draft", tasks: str) -> Path:
    """A spec-kit spec: specs/NNN-name/spec.md with ``**Status**: x``, plan.md, tasks.md."""
    folder = project / "specs" / name
    write(
        folder / "spec.md",
        f"# Feature Specification: {name}\n\n**Feature Branch**: `{name}`\n"
        f"**Created**: 2025-01-01\n**Status**: {status}\n",
    )
    write(folder / "plan.md", "# Implementation Plan\n")
    write(folder / "tasks.md", tasks)
    return folder


def git(project: Path, *args: str, when: str | None = None) -> str:
    """Run a real ``git`` in ``project`` (author and committer dated ``when``, ISO 8601)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
    done = subprocess.run(
        [REAL_GIT, "-c", "user.name=Spec Tester", "-c", "user.email=t@example.invalid", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout


def git_commit_all(project: Path, when: str, message: str = "specs") -> None:
    """``git init`` (once), then commit everything in ``project`` dated ``when``."""
    if not (project / ".git").exists():
        git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "--allow-empty", "-m", message, when=when)


def git_spy(folder: Path, *, script: str | None = None) -> tuple[Path, Path]:
    """A ``git`` on a PATH folder that logs each call's arguments, then runs the real git.

    ``script`` replaces the real git with a shell body (e.g. ``"sleep 30"``). Returns (the
    folder to put first on PATH, the log file: one line per call).
    """
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "calls.log"
    body = script or f'exec {shlex.quote(REAL_GIT)} "$@"'
    wrapper = folder / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\n{body}\n')
    wrapper.chmod(0o755)
    log.touch()
    return folder, log

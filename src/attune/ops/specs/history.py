"""When a spec last changed, by git: the newest commit touching each file, if it is clean.

A fresh clone writes every file "just now", so mtimes say nothing there. For a file that is
committed and unchanged since (``git status --porcelain`` does not list it) the time of the
newest commit touching it is its last change; a dirty, untracked or ignored file, a folder
outside any repository, a missing or failing ``git`` all leave the file's mtime in charge.

Git runs as a subprocess, at most twice per change: one ``git log --name-only`` over all the
specs roots (re-run only when HEAD, a ref or the reflog moved) and one ``git status`` over them
(re-run when the index or any spec file changed), each in its own session and killed with its
children after ``timeout`` seconds. A failure is remembered until git's state changes, so a
broken repository costs one attempt, not one per listing. Callers run this off the event loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GitHistory", "GitTimes"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
_MAX_OUTPUT = 64 * 1024 * 1024
_NS = 1_000_000_000
_PASSED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "XDG_CONFIG_HOME", "SYSTEMROOT")

# (path, stat fingerprint) of every spec file: what ``git status`` depends on besides git itself.
FilesKey = tuple[tuple[str, tuple[int, ...]], ...]


@dataclass(frozen=True)
class GitTimes:
    """What git says about the files under the specs roots (absolute path strings)."""

    committed: dict[str, int]  # newest commit time touching the file, in seconds
    dirty: frozenset[str]  # changed, staged, untracked or conflicted files

    def clean_commit_ns(self, path: str) -> int | None:
        """The newest commit time (ns) of ``path`` when it is clean since, else ``None``."""
        if path in self.dirty:
            return None
        seconds = self.committed.get(path)
        return None if seconds is None else seconds * _NS


@dataclass(frozen=True)
class _Repo:
    top: Path  # the work tree: where ``.git`` is
    gitdir: Path  # where HEAD, index and logs/ are
    common: Path  # where refs and packed-refs are (differs in a linked worktree)


def find_repo(start: Path) -> _Repo | None:
    """The repository holding ``start``, found by looking for ``.git`` upwards; never raises."""
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        try:
            if dot_git.is_dir():
                return _Repo(folder, dot_git, dot_git)
            if not dot_git.is_file():
                continue
            text = dot_git.read_text("utf-8", errors="replace")[:4096].strip()
        except OSError:
            return None
        if not text.startswith("gitdir:"):
            return None
        gitdir = (folder / text.removeprefix("gitdir:").strip()).resolve()
        if not (gitdir / "HEAD").is_file():
            return None
        common = gitdir
        with contextlib.suppress(OSError):
            common = (gitdir / (gitdir / "commondir").read_text().strip()).resolve()
        return _Repo(folder, gitdir, common)
    return None


def _stat_key(path: Path) -> tuple[int, ...]:
    try:
        st = path.stat()
    except OSError as exc:
        return (exc.errno or -1,)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _head_ref(repo: _Repo) -> Path | None:
    try:
        head = (repo.gitdir / "HEAD").read_text("utf-8", errors="replace")[:1024].strip()
    except OSError:
        return None
    return repo.common / head.removeprefix("ref:").strip() if head.startswith("ref:") else None


def _history_key(repo: _Repo) -> tuple[object, ...]:
    """What ``git log`` depends on: HEAD, the branch it names, packed refs, the reflog."""
    ref = _head_ref(repo)
    watched = [repo.gitdir / "HEAD", repo.gitdir / "logs" / "HEAD", repo.common / "packed-refs"]
    return (str(repo.top), str(ref), *(_stat_key(p) for p in [*watched, *([ref] if ref else [])]))


class GitHistory:
    """Git's view of the spec files of one project, cached by git's own state. Not thread-safe
    on its own: :class:`~attune.ops.specs.index.SpecIndex` calls it under its lock."""

    def __init__(
        self,
        project_root: Path,
        roots: Sequence[Path],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        git: str | None = None,
    ) -> None:
        self.project_root = project_root
        self.roots = tuple(roots)
        self.timeout = timeout
        self._git = git
        self._log: tuple[tuple[object, ...], dict[str, int] | None] | None = None
        self._status: tuple[tuple[object, ...], frozenset[str] | None] | None = None
        self._times: GitTimes | None = None

    def times(self, files: FilesKey, *, trusted: bool) -> GitTimes | None:
        """Commit times and dirty files under the roots, or ``None`` when git cannot say.

        ``files`` fingerprints every spec file; ``trusted`` is False when one of them changed
        too recently for its fingerprint to be sure to move again (the status is then re-read
        on the next call).
        """
        repo = find_repo(self.project_root)
        git = self._git or shutil.which("git")
        if repo is None or git is None:
            return None
        pathspecs = _pathspecs(repo.top, self.roots)
        if not pathspecs:
            return None
        log_key = (git, tuple(pathspecs), _history_key(repo))
        if self._log is None or self._log[0] != log_key:
            self._log = (log_key, self._read_log(git, repo, pathspecs))
        committed = self._log[1]
        if committed is None:
            return None
        status_key = (log_key, _stat_key(repo.gitdir / "index"), files)
        if self._status is None or self._status[0] != status_key:
            self._status = (status_key, self._read_status(git, repo, pathspecs))
        dirty = self._status[1]
        if not trusted:
            self._status = None
        if dirty is None:
            return None
        if (
            self._times is None
            or self._times.committed is not committed
            or self._times.dirty != dirty
        ):
            self._times = GitTimes(committed, dirty)
        return self._times

    def _read_log(self, git: str, repo: _Repo, pathspecs: list[str]) -> dict[str, int] | None:
        args = ["log", "--format=%x01%ct", "--name-only", "-z", "--no-renames", "--", *pathspecs]
        out = self._run(git, repo, args)
        return None if out is None else parse_log(out, repo.top)

    def _read_status(self, git: str, repo: _Repo, pathspecs: list[str]) -> frozenset[str] | None:
        args = ["status", "--porcelain", "-z", "--untracked-files=all", "--", *pathspecs]
        out = self._run(git, repo, args)
        return None if out is None else parse_status(out, repo.top)

    def _run(self, git: str, repo: _Repo, args: list[str]) -> bytes | None:
        """``git args`` in the work tree: its output, or ``None`` (logged) when it failed."""
        cmd = [
            git,
            "--no-optional-locks",  # never take the index lock another git may want
            "--literal-pathspecs",
            "-c",
            "core.quotepath=off",
            "-c",
            "core.fsmonitor=false",
            "-C",
            str(repo.top),
            *args,
        ]
        # Only what git needs to find itself and its config: never a secret of this process
        # (the Admin API key), never a GIT_DIR or GIT_INDEX_FILE meant for another repository.
        env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
        env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,  # so a timeout can end git and anything it started
            )
        except OSError as exc:
            logger.warning("cannot run git for spec history: %s", exc)
            return None
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            logger.warning(
                "git %s took over %.0f s; spec times fall back to mtimes", args[0], self.timeout
            )
            return None
        if proc.returncode != 0 or len(out) > _MAX_OUTPUT:
            reason = err.decode("utf-8", "replace").strip()[:300] or f"exit {proc.returncode}"
            logger.warning("git %s failed (%s); spec times fall back to mtimes", args[0], reason)
            return None
        return out


def _pathspecs(top: Path, roots: Sequence[Path]) -> list[str]:
    """The roots inside the work tree, relative to it (roots outside it keep their mtimes)."""
    specs: list[str] = []
    for root in roots:
        try:
            rel = root.relative_to(top)
        except ValueError:
            continue
        specs.append(rel.as_posix() if rel.parts else ".")
    return specs


def parse_log(out: bytes, top: Path) -> dict[str, int]:
    """``git log --format=%x01%ct --name-only -z`` → the newest commit time of each path."""
    newest: dict[str, int] = {}
    when = 0
    first = False
    base = str(top)
    for token in out.split(b"\0"):
        if token.startswith(b"\x01"):
            try:
                when = int(token[1:])
            except ValueError:
                when = 0
            first = True
            continue
        if first and token.startswith(b"\n"):
            token = token[1:]  # the line break between a commit's header and its file names
        first = False
        if not token or not when:
            continue
        path = f"{base}/{token.decode('utf-8', 'surrogateescape')}"
        if newest.get(path, 0) < when:
            newest[path] = when
    return newest


def parse_status(out: bytes, top: Path) -> frozenset[str]:
    """``git status --porcelain -z`` → every path it lists (renames: both names)."""
    dirty: set[str] = set()
    base = str(top)
    tokens = iter(out.split(b"\0"))
    for token in tokens:
        if len(token) < 4:
            continue
        dirty.add(f"{base}/{token[3:].decode('utf-8', 'surrogateescape')}")
        if token[:1] in {b"R", b"C"} or token[1:2] in {b"R", b"C"}:
            source = next(tokens, b"")
            if source:
                dirty.add(f"{base}/{source.decode('utf-8', 'surrogateescape')}")
    return frozenset(dirty)

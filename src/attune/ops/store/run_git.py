"""The project's git state when a run started: its commit, and whether the tree was dirty.

Recorded on the run's row (columns of the test-results migration, store/tests.py) so that
flakiness can be judged on the same code: ``git_diff`` is a hash of the uncommitted changes of
tracked files (``None`` when the tree was clean), so two dirty runs count as the same code only
when their changes are the same. A project that is no git repository records ``None`` for all.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from attune.ops.store.sql import Connection

__all__ = ["GitState", "RunGitMixin", "git_json"]


@dataclass(frozen=True)
class GitState:
    """A commit id, whether tracked files differed from it, and a hash of how."""

    commit: str
    dirty: bool
    diff_hash: str | None = None

    @classmethod
    def of(
        cls, commit: str | None, dirty: int | None, diff_hash: str | None = None
    ) -> GitState | None:
        if commit is None:
            return None
        return cls(commit, bool(dirty), diff_hash)


def git_json(state: GitState | None) -> dict[str, Any]:
    """The run object's ``git_commit`` and ``git_dirty`` (both ``null`` without git)."""
    if state is None:
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": state.commit, "git_dirty": state.dirty}


class RunGitMixin:
    """Records a run's git state (mixed into :class:`attune.ops.store.database.Store`)."""

    def write(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store
        raise NotImplementedError

    def set_run_git(self, run_id: int, state: GitState | None) -> None:
        if state is None:
            return
        with self.write() as conn:
            conn.execute(
                "UPDATE runs SET git_commit = ?, git_dirty = ?, git_diff = ? WHERE id = ?",
                (state.commit, int(state.dirty), state.diff_hash, run_id),
            )

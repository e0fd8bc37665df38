"""Workflows: the built-ins that ship with attune plus the project's own from ``attune.toml``.

A project declares workflows in ``attune.toml`` at its root (``[workflows.NAME]`` tables) or in
``pyproject.toml`` under ``[tool.attune.workflows.NAME]``. A broken file never stops the
dashboard: :meth:`WorkflowRegistry.load` returns the valid workflows *and* a list of
:class:`WorkflowFileError` naming the file, line and key, so the page can show what to fix.
The file is re-read whenever its size, mtime or inode changes, so edits apply without a restart.

The files are opened as a stranger's: only a regular file of at most 1 MiB, opened without
blocking (a FIFO never hangs the dashboard), and a symlink only when it stays inside the root.
A workflow no process could start (a NUL byte in an argument or an env value, ``=`` in an env
name) is refused here, with the others, rather than failing at spawn time.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from attune.ops.errors import UnknownWorkflow
from attune.ops.runs.definitions import SOURCES, Workflow, WorkflowFileError
from attune.ops.runs.discovery import WATCHED, discover
from attune.ops.runs.project_file import MAX_FILE_BYTES, ProjectFiles
from attune.ops.runs.project_workflows import (
    DiscoverySettings,
    parse_discovery,
    parse_workflows,
    workflows_of,
)

__all__ = [
    "BUILTIN_WORKFLOWS",
    "MAX_FILE_BYTES",
    "MAX_SHOWN_ERRORS",
    "Workflow",
    "WorkflowFileError",
    "WorkflowRegistry",
    "WorkflowSet",
    "parse_workflows",
]

MAX_SHOWN_ERRORS = 200  # the page and the API list this many, then one "… and N more" per file
PROJECT_FILES = ("attune.toml", "pyproject.toml")


def _builtin(name: str, module: str, description: str) -> Workflow:
    return Workflow(
        name=name,
        description=description,
        command=(sys.executable, "-m", f"attune.workflows.{module}"),
        accepts_path=True,
        source="builtin",
        timeout_s=1800,
        env=MappingProxyType({"PYTHONUNBUFFERED": "1"}),
    )


BUILTIN_WORKFLOWS: tuple[Workflow, ...] = (
    _builtin(
        "todo-scan",
        "todo_scan",
        "List TODO, FIXME, HACK and XXX markers in the scope, grouped by file.",
    ),
    _builtin(
        "secrets-scan",
        "secrets_scan",
        "Find likely secrets (Anthropic, OpenAI, AWS, GitHub tokens, private keys), masked; "
        "fails when any is found.",
    ),
    _builtin(
        "claude-review",
        "claude_review",
        "Ask Claude to review the scope (its uncommitted diff, else its files), streamed, with a "
        "verdict; never sends a likely secret. Needs ANTHROPIC_API_KEY; [claude] in attune.toml.",
    ),
)


# -- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowSet:
    """The workflows known now and every problem of the files they came from."""

    workflows: tuple[Workflow, ...]
    errors: tuple[WorkflowFileError, ...]

    def get(self, name: str) -> Workflow:
        for workflow in self.workflows:
            if workflow.name == name:
                return workflow
        raise UnknownWorkflow(f"no workflow named {name!r}", workflow=name)

    def names(self) -> frozenset[str]:
        return frozenset(w.name for w in self.workflows)

    def shown_errors(self, limit: int = MAX_SHOWN_ERRORS) -> tuple[WorkflowFileError, ...]:
        """The first ``limit`` problems, then one ``… and N more`` entry per file with more.

        A page of 20,000 problems helps nobody; the first ones say what is wrong.
        """
        if len(self.errors) <= limit:
            return self.errors
        hidden = Counter(error.file for error in self.errors[limit:])
        more = tuple(
            WorkflowFileError(
                file, None, None, f"… and {count:,} more {_problems(count)} in {file}"
            )
            for file, count in hidden.items()
        )
        return self.errors[:limit] + more

    def to_json(self) -> dict[str, Any]:
        return {
            "workflows": [w.to_json() for w in self.workflows],
            "errors": [e.to_json() for e in self.shown_errors()],
        }


class WorkflowRegistry:
    """Built-ins, the project's workflows and the tasks its tools declare, re-read whenever one
    of their files changes (size, mtime, inode or type, by ``stat``: nothing is opened to
    tell), so edits apply without a restart.

    :meth:`load` reads and parses in the calling thread: the web routes call it through
    ``asyncio.to_thread``. Concurrent callers share one parse (the second waits on the lock,
    then finds the result cached).
    """

    def __init__(self, project_root: Path) -> None:
        self.project_root = project_root
        self._lock = threading.Lock()
        self._stamp: tuple[object, ...] | None = None
        self._cached = WorkflowSet(BUILTIN_WORKFLOWS, ())
        self._watched = [
            os.path.join(project_root, name)  # noqa: PTH118 - a str: os.lstat is the hot path
            for name in dict.fromkeys(PROJECT_FILES + WATCHED)
        ]

    def _current_stamp(self) -> tuple[object, ...]:
        stamp: list[object] = []
        for path in self._watched:
            try:
                st = os.lstat(path)  # never opens the file: a FIFO is stamped, not read
                stamp.append((st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode))
            except OSError:
                stamp.append(None)
        return tuple(stamp)

    def load(self) -> WorkflowSet:
        """The current workflows; cheap when no file changed since the last call."""
        stamp = self._current_stamp()
        with self._lock:
            if stamp == self._stamp:
                return self._cached
            self._cached = self._read_all()
            self._stamp = stamp
            return self._cached

    def get(self, name: str) -> Workflow:
        """The workflow called ``name``; raises :class:`UnknownWorkflow`."""
        return self.load().get(name)

    def _read_all(self) -> WorkflowSet:
        files = ProjectFiles(self.project_root)
        project: dict[str, Workflow] = {}
        settings: DiscoverySettings | None = None
        errors: list[WorkflowFileError] = []
        for name in PROJECT_FILES:
            parsed = files.toml(name)
            if parsed is None:
                continue
            pyproject = name == "pyproject.toml"
            found, problems = workflows_of(parsed, pyproject=pyproject)
            chosen, problems_of_table = parse_discovery(parsed, pyproject=pyproject)
            errors += problems + problems_of_table
            settings = settings or chosen  # attune.toml's [discovery] wins too
            for workflow in found:
                project.setdefault(workflow.name, workflow)  # attune.toml wins over pyproject
        discovered, problems = discover(files, (settings or DiscoverySettings()).wanted())
        errors = files.errors + errors + problems
        workflows = {w.name: w for w in BUILTIN_WORKFLOWS}
        for workflow in discovered:
            workflows[workflow.name] = workflow
        workflows.update(project)  # a project workflow replaces a found task of its name
        rank = {source: index for index, source in enumerate(SOURCES)}
        ordered = sorted(
            enumerate(workflows.values()),
            key=lambda item: (
                rank.get(item[1].source, len(rank)),
                item[1].name if item[1].source in ("project", "builtin") else "",
                item[0],
            ),
        )
        return WorkflowSet(tuple(w for _, w in ordered), tuple(errors))


def _problems(count: int) -> str:
    return "problem" if count == 1 else "problems"

"""What a workflow is: a command run without a shell, and where it was declared.

A workflow comes from one of three places: it ships with attune (``builtin``), the project
declares it in ``attune.toml`` or ``pyproject.toml`` (``project``), or it is one of the tasks the
project's own tools already know and attune found without running anything (``npm``, ``make``,
``just``, ``task``, ``poe``, ``pdm``, ``hatch``, ``tox``, ``nox``, ``pytest``; DESIGN §11).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["DISCOVERED_SOURCES", "PATH_PLACEHOLDER", "SOURCES", "Workflow", "WorkflowFileError"]

PATH_PLACEHOLDER = "{path}"
# The discovering tools, in the order the workflows page groups them.
DISCOVERED_SOURCES: tuple[str, ...] = (
    "npm",
    "make",
    "just",
    "task",
    "poe",
    "pdm",
    "hatch",
    "tox",
    "nox",
    "pytest",
)
SOURCES: tuple[str, ...] = ("project", *DISCOVERED_SOURCES, "builtin")


@dataclass(frozen=True)
class Workflow:
    """One runnable workflow: a command (no shell), how it takes a scope, where it came from.

    ``origin`` is ``file:line`` of its declaration (``attune.toml:4``, ``Makefile:12``), or
    ``None`` for a built-in and for a workflow found without a file (pytest on a ``tests/``).
    """

    name: str
    description: str
    command: tuple[str, ...]
    accepts_path: bool = False
    source: str = "project"
    timeout_s: float | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    origin: str | None = None
    reports: tuple[str, ...] = ()  # JUnit XML globs relative to the root (runs/reports.py)

    def to_json(self) -> dict[str, Any]:
        """The DESIGN §5 workflow object with §11's ``origin`` and ``command``."""
        return {
            "name": self.name,
            "description": self.description,
            "accepts_path": self.accepts_path,
            "source": self.source,
            "origin": self.origin,
            "command": list(self.command),
        }

    def argv(self, path: str | None) -> list[str]:
        """The command with ``{path}`` replaced by the scope (``.`` when none).

        A built-in (or a command without ``{path}``) that accepts a path gets it appended. The
        scope comes from ``scope.normalize_rel``, which refuses a NUL byte, so the result holds
        none either.
        """
        scope = path or "."
        if any(PATH_PLACEHOLDER in part for part in self.command):
            return [part.replace(PATH_PLACEHOLDER, scope) for part in self.command]
        if self.accepts_path:
            return [*self.command, scope]
        return list(self.command)


@dataclass(frozen=True)
class WorkflowFileError:
    """A problem in a workflows file (or a task source), located precisely enough to fix it."""

    file: str
    line: int | None
    key: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "key": self.key, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" [{self.key}]" if self.key else ""
        return f"{where}{key}: {self.message}"

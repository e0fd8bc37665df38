"""What every task source shares: the collector of found tasks and where a table's entry is.

A source reads the project's files through :class:`~attune.ops.runs.project_file.ProjectFiles`
and never runs project code. Each task becomes a :class:`Workflow` named ``<source>:<task>``
with its file and line, the exact command it runs, and ``accepts_path`` when the tool passes
extra arguments on to the task (the scope goes where ``{path}`` stands).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from attune.ops.runs.definitions import Workflow, WorkflowFileError
from attune.ops.runs.toml_lines import TomlLines

__all__ = ["DISCOVERED_ENV", "Found", "table_entry_line"]

# Python tools buffer their output into a pipe; a run streams it line by line instead.
DISCOVERED_ENV = MappingProxyType({"PYTHONUNBUFFERED": "1"})
MAX_TASK_NAME = 200


class Found:
    """The tasks and problems one source found, in file order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.workflows: list[Workflow] = []
        self.errors: list[WorkflowFileError] = []
        self._names: set[str] = set()

    def add(
        self,
        task: str,
        command: Sequence[str],
        *,
        file: str | None,
        line: int | None,
        description: str = "",
        accepts_path: bool = False,
        name: str | None = None,
    ) -> None:
        """One task; a name seen before, empty, too long or holding a control character is
        left out (a tool would not run it either, or it cannot be told apart)."""
        if not task or len(task) > MAX_TASK_NAME or not task.isprintable():
            return
        full = name or f"{self.source}:{task}"
        if full in self._names or any("\0" in part for part in command):
            return
        self._names.add(full)
        origin = None if file is None else (f"{file}:{line}" if line else file)
        self.workflows.append(
            Workflow(
                name=full,
                description=" ".join(description.split())[:300],
                command=tuple(command),
                accepts_path=accepts_path,
                source=self.source,
                env=DISCOVERED_ENV,
                origin=origin,
            )
        )

    def error(self, file: str, line: int | None, message: str, key: str | None = None) -> None:
        self.errors.append(WorkflowFileError(file, line, key, message))


def table_entry_line(lines: TomlLines, prefix: str, name: str) -> int | None:
    """The line of ``[prefix.NAME]``, of ``NAME = …`` under ``[prefix]``, or of ``NAME``."""
    header = lines.header(prefix, name)
    if header is not None:
        return header
    section = lines.header(prefix)
    if section is not None:
        found = lines.key_in(section, name) or lines.key_in(section, f'"{name}"')
        if found is not None:
            return found
    return lines.key_anywhere(name)

"""Reading a file of the project the way a stranger's file should be read.

Only a regular file, opened without blocking (``open()`` on a FIFO waits for a writer forever
and would hang the dashboard), at most ``limit`` bytes, UTF-8, and through a symlink only when
it stays inside the project root. Nothing here raises for a bad file: the caller gets the text,
``None`` when there is no file, or :class:`Refused` saying why the file was not used.
"""

from __future__ import annotations

import os
from pathlib import Path

from attune.files import Refused, read_regular
from attune.ops.runs.definitions import WorkflowFileError
from attune.ops.runs.project_workflows import TomlText, read_toml

__all__ = ["MAX_FILE_BYTES", "ProjectFiles", "read_project_text"]

MAX_FILE_BYTES = 1024 * 1024


def read_project_text(path: Path, root: Path, limit: int = MAX_FILE_BYTES) -> str | Refused | None:
    """The text of ``path`` (inside ``root``), ``None`` when it does not exist, or why not.

    Example: ``read_project_text(root / "attune.toml", root)``.
    """
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        return None  # no file, or a dangling symlink
    except (OSError, RuntimeError) as exc:  # a symlink loop
        return Refused(f"cannot be read: {exc}")
    if not real.is_relative_to(root.resolve()):
        return Refused(f"is a symlink to {real}, outside the project root; it was not read")
    data = read_regular(real, limit)
    if isinstance(data, Refused):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Refused(f"cannot be read: it is not UTF-8 text ({exc})")


class ProjectFiles:
    """The project's files as one registry load reads them: each read once, each TOML file
    parsed once (``pyproject.toml`` feeds attune's tables and four task sources), and every
    file that could not be used recorded as a :class:`WorkflowFileError`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.errors: list[WorkflowFileError] = []
        self._texts: dict[str, str | None] = {}
        self._tomls: dict[str, TomlText | None] = {}

    def text(self, name: str) -> str | None:
        """The text of ``name`` (relative to the root), ``None`` when absent or refused."""
        if name not in self._texts:
            text = read_project_text(self.root / name, self.root)
            if isinstance(text, Refused):
                self.errors.append(WorkflowFileError(name, None, None, f"the file {text.reason}"))
                text = None
            self._texts[name] = text
        return self._texts[name]

    def toml(self, name: str) -> TomlText | None:
        """``name`` parsed as TOML; a file that does not parse is one error, then ``None``."""
        if name not in self._tomls:
            text = self.text(name)
            parsed: TomlText | None = None
            if text is not None:
                parsed, errors = read_toml(text, name)
                self.errors.extend(errors)
                if parsed.data is None:
                    parsed = None
            self._tomls[name] = parsed
        return self._tomls[name]

    def first(self, names: tuple[str, ...]) -> str | None:
        """The first of ``names`` that exists (as a tool looking for its file would pick)."""
        return next((name for name in names if os.path.lexists(self.root / name)), None)

    def is_file(self, name: str) -> bool:
        return (self.root / name).is_file()

    def is_dir(self, name: str) -> bool:
        return (self.root / name).is_dir()

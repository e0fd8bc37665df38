"""Workflows: the built-ins that ship with attune plus the project's own from ``attune.toml``.

A project declares workflows in ``attune.toml`` at its root (``[workflows.NAME]`` tables) or in
``pyproject.toml`` under ``[tool.attune.workflows.NAME]``. A broken file never stops the
dashboard: :meth:`WorkflowRegistry.load` returns the valid workflows *and* a list of
:class:`WorkflowFileError` naming the file, line and key, so the page can show what to fix.
The file is re-read whenever its size or mtime changes, so edits apply without a restart.
"""

from __future__ import annotations

import re
import sys
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from attune.ops.errors import UnknownWorkflow

__all__ = [
    "BUILTIN_WORKFLOWS",
    "Workflow",
    "WorkflowFileError",
    "WorkflowRegistry",
    "parse_workflows",
]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ALLOWED_KEYS = frozenset({"description", "command", "accepts_path", "timeout_s", "env"})
PATH_PLACEHOLDER = "{path}"


@dataclass(frozen=True)
class Workflow:
    """One runnable workflow: a command (no shell) and how it takes a scope."""

    name: str
    description: str
    command: tuple[str, ...]
    accepts_path: bool = False
    source: Literal["builtin", "project"] = "project"
    timeout_s: float | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, Any]:
        """The DESIGN §5 workflow object."""
        return {
            "name": self.name,
            "description": self.description,
            "accepts_path": self.accepts_path,
            "source": self.source,
        }

    def argv(self, path: str | None) -> list[str]:
        """The command with ``{path}`` replaced by the scope (``.`` when none).

        A built-in (or a command without ``{path}``) that accepts a path gets it appended.
        """
        scope = path or "."
        if any(PATH_PLACEHOLDER in part for part in self.command):
            return [part.replace(PATH_PLACEHOLDER, scope) for part in self.command]
        if self.accepts_path:
            return [*self.command, scope]
        return list(self.command)


@dataclass(frozen=True)
class WorkflowFileError:
    """A problem in a workflows file, located precisely enough to fix it."""

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
)


# -- parsing -----------------------------------------------------------------------------------


def parse_workflows(
    text: str, file: str, *, pyproject: bool = False
) -> tuple[list[Workflow], list[WorkflowFileError]]:
    """Parse the workflows of one file's text; never raises for bad content."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [], [WorkflowFileError(file, _toml_error_line(exc), None, f"invalid TOML: {exc}")]
    prefix = "tool.attune.workflows" if pyproject else "workflows"
    table: Any = data
    for part in prefix.split("."):
        table = table.get(part) if isinstance(table, dict) else None
        if table is None:
            return [], []
    locator = _Locator(text, prefix)
    if not isinstance(table, dict):
        return [], [WorkflowFileError(file, locator.line(None), prefix, "must be a table")]
    workflows: list[Workflow] = []
    errors: list[WorkflowFileError] = []
    for name, spec in table.items():
        problems = _check_one(name, spec)
        if problems:
            errors.extend(
                WorkflowFileError(file, locator.line(name, key), _key(prefix, name, key), msg)
                for key, msg in problems
            )
            continue
        workflows.append(_build(name, spec))
    return workflows, errors


def _key(prefix: str, name: str, key: str | None) -> str:
    return f"{prefix}.{name}" + (f".{key}" if key else "")


def _check_one(name: str, spec: Any) -> list[tuple[str | None, str]]:
    """Problems of one workflow table as ``(key or None, message)``; empty when valid."""
    if not NAME_RE.match(name):
        return [(None, "a workflow name uses letters, digits, '-', '_' and '.' (max 64)")]
    if not isinstance(spec, dict):
        return [(None, "must be a table such as [workflows.NAME] with a command")]
    problems: list[tuple[str | None, str]] = [
        (key, f"unknown key {key!r} (allowed: {', '.join(sorted(ALLOWED_KEYS))})")
        for key in spec
        if key not in ALLOWED_KEYS
    ]
    command = spec.get("command")
    if command is None:
        problems.append((None, "missing 'command' (a list of strings)"))
    elif not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        problems.append(("command", 'must be a list of strings, e.g. ["make", "test"]'))
    elif not command or not command[0].strip():
        problems.append(("command", "must not be empty"))
    if not isinstance(spec.get("description", ""), str):
        problems.append(("description", "must be a string"))
    if not isinstance(spec.get("accepts_path", False), bool):
        problems.append(("accepts_path", "must be true or false"))
    timeout = spec.get("timeout_s")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        problems.append(("timeout_s", "must be a positive number of seconds"))
    env = spec.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        problems.append(("env", 'must be a table of strings, e.g. { PYTHONUNBUFFERED = "1" }'))
    return problems


def _build(name: str, spec: dict[str, Any]) -> Workflow:
    timeout = spec.get("timeout_s")
    return Workflow(
        name=name,
        description=spec.get("description", "") or " ".join(spec["command"]),
        command=tuple(spec["command"]),
        accepts_path=spec.get("accepts_path", False),
        source="project",
        timeout_s=float(timeout) if timeout is not None else None,
        env=MappingProxyType(dict(spec.get("env", {}))),
    )


def _toml_error_line(exc: tomllib.TOMLDecodeError) -> int | None:
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else None


class _Locator:
    """Finds the line of a workflow table or one of its keys by scanning the text."""

    def __init__(self, text: str, prefix: str) -> None:
        self.lines = text.splitlines()
        self.prefix = prefix

    def _header_line(self, name: str | None) -> int | None:
        names = [self.prefix] if name is None else [f"{self.prefix}.{n}" for n in _spellings(name)]
        for idx, raw in enumerate(self.lines, start=1):
            header = raw.strip()
            if header.startswith("[") and header.strip("[] \t").replace(" ", "") in names:
                return idx
        return None

    def line(self, name: str | None, key: str | None = None) -> int | None:
        start = self._header_line(name)
        if start is None:
            word = name if name is not None else self.prefix.rsplit(".", 1)[-1]
            inline = re.compile(rf"^\s*(\"?){re.escape(word)}\1\s*=")
            for idx, raw in enumerate(self.lines, start=1):
                if inline.match(raw):
                    return idx
            return None
        if start is None or key is None:
            return start
        pattern = re.compile(rf"^\s*(\"?){re.escape(key)}\1\s*=")
        for idx in range(start, len(self.lines)):
            raw = self.lines[idx]
            if raw.strip().startswith("["):
                break
            if pattern.match(raw):
                return idx + 1
        return start


def _spellings(name: str) -> list[str]:
    return [name, f'"{name}"', f"'{name}'"]


# -- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowSet:
    """The workflows known now and the problems of the files they came from."""

    workflows: tuple[Workflow, ...]
    errors: tuple[WorkflowFileError, ...]

    def get(self, name: str) -> Workflow:
        for workflow in self.workflows:
            if workflow.name == name:
                return workflow
        raise UnknownWorkflow(f"no workflow named {name!r}", workflow=name)

    def names(self) -> frozenset[str]:
        return frozenset(w.name for w in self.workflows)

    def to_json(self) -> dict[str, Any]:
        return {
            "workflows": [w.to_json() for w in self.workflows],
            "errors": [e.to_json() for e in self.errors],
        }


class WorkflowRegistry:
    """Built-ins plus the project's workflows, re-read when the project's file changes."""

    def __init__(self, project_root: Path) -> None:
        self.project_root = project_root
        self._lock = threading.Lock()
        self._stamp: tuple[object, ...] | None = None
        self._cached = WorkflowSet(BUILTIN_WORKFLOWS, ())

    def _files(self) -> list[tuple[Path, bool]]:
        return [
            (self.project_root / "attune.toml", False),
            (self.project_root / "pyproject.toml", True),
        ]

    def _current_stamp(self) -> tuple[object, ...]:
        stamp: list[object] = []
        for path, _ in self._files():
            try:
                st = path.stat()
                stamp.append((st.st_mtime_ns, st.st_size, st.st_ino))
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
        workflows: dict[str, Workflow] = {w.name: w for w in BUILTIN_WORKFLOWS}
        errors: list[WorkflowFileError] = []
        for path, pyproject in self._files():
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(WorkflowFileError(path.name, None, None, f"cannot read: {exc}"))
                continue
            found, problems = parse_workflows(text, path.name, pyproject=pyproject)
            errors.extend(problems)
            for workflow in found:
                if workflow.name in workflows and workflows[workflow.name].source == "project":
                    continue  # attune.toml wins over pyproject.toml
                workflows[workflow.name] = workflow
        ordered = sorted(workflows.values(), key=lambda w: (w.source != "project", w.name))
        return WorkflowSet(tuple(ordered), tuple(errors))

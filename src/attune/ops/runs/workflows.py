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

import re
import sys
import threading
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from attune.files import Refused
from attune.ops.errors import UnknownWorkflow
from attune.ops.runs.project_file import MAX_FILE_BYTES, read_project_text
from attune.ops.runs.toml_lines import TomlLines, toml_error_line

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

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ALLOWED_KEYS = frozenset({"description", "command", "accepts_path", "timeout_s", "env"})
PATH_PLACEHOLDER = "{path}"
MAX_SHOWN_ERRORS = 200  # the page and the API list this many, then one "… and N more" per file


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
    _builtin(
        "claude-review",
        "claude_review",
        "Ask Claude to review the scope (its uncommitted diff, else its files), streamed, with a "
        "verdict; never sends a likely secret. Needs ANTHROPIC_API_KEY; [claude] in attune.toml.",
    ),
)


# -- parsing -----------------------------------------------------------------------------------

Problem = tuple[str | None, str]  # (the key inside the workflow's table or None, the message)


def parse_workflows(
    text: str, file: str, *, pyproject: bool = False
) -> tuple[list[Workflow], list[WorkflowFileError]]:
    """Parse the workflows of one file's text; never raises for bad content.

    Linear in the size of the text: every error is located through one line index.
    Example: ``parse_workflows('[workflows.t]\\ncommand = ["make"]\\n', "attune.toml")``.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [], [
            WorkflowFileError(file, toml_error_line(str(exc)), None, f"invalid TOML: {exc}")
        ]
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        return [], [WorkflowFileError(file, None, None, "invalid TOML: nested too deeply")]
    prefix = "tool.attune.workflows" if pyproject else "workflows"
    table: Any = data
    for part in prefix.split("."):
        table = table.get(part) if isinstance(table, dict) else None
        if table is None:
            return [], []
    lines = TomlLines(text)
    if not isinstance(table, dict):
        return [], [WorkflowFileError(file, _line(lines, prefix), prefix, "must be a table")]
    workflows: list[Workflow] = []
    errors: list[WorkflowFileError] = []
    for name, spec in table.items():
        problems = _check_one(name, spec)
        if problems:
            errors.extend(
                WorkflowFileError(
                    file, _line(lines, prefix, name, key), _key(prefix, name, key), msg
                )
                for key, msg in problems
            )
            continue
        workflows.append(_build(name, spec))
    return workflows, errors


def _key(prefix: str, name: str, key: str | None) -> str:
    return f"{prefix}.{name}" + (f".{key}" if key else "")


def _check_one(name: str, spec: Any) -> list[Problem]:
    """Problems of one workflow table as ``(key or None, message)``; empty when valid."""
    if not NAME_RE.match(name):
        return [(None, "a workflow name uses letters, digits, '-', '_' and '.' (max 64)")]
    if not isinstance(spec, dict):
        return [(None, "must be a table such as [workflows.NAME] with a command")]
    problems: list[Problem] = [
        (key, f"unknown key {key!r} (allowed: {', '.join(sorted(ALLOWED_KEYS))})")
        for key in spec
        if key not in ALLOWED_KEYS
    ]
    problems += _check_command(spec.get("command"))
    if not isinstance(spec.get("description", ""), str):
        problems.append(("description", "must be a string"))
    if not isinstance(spec.get("accepts_path", False), bool):
        problems.append(("accepts_path", "must be true or false"))
    timeout = spec.get("timeout_s")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        problems.append(("timeout_s", "must be a positive number of seconds"))
    return problems + _check_env(spec.get("env", {}))


def _check_command(command: Any) -> list[Problem]:
    if command is None:
        return [(None, "missing 'command' (a list of strings)")]
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        return [("command", 'must be a list of strings, e.g. ["make", "test"]')]
    if not command or not command[0].strip():
        return [("command", "must not be empty")]
    # A NUL byte cannot cross exec(): the spawn would fail, so the file is wrong, not the run.
    return [
        ("command", f"argument {index} contains a NUL byte (\\0), which no command can take")
        for index, part in enumerate(command, start=1)
        if "\0" in part
    ]


def _check_env(env: Any) -> list[Problem]:
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        return [("env", 'must be a table of strings, e.g. { PYTHONUNBUFFERED = "1" }')]
    problems: list[Problem] = []
    for name, value in env.items():
        if not name or "=" in name or "\0" in name:
            problems.append(
                ("env", f"{name!r} is no environment variable name (empty, '=' or a NUL byte)")
            )
        elif "\0" in value:
            problems.append(("env", f"the value of {name} contains a NUL byte (\\0)"))
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


def _line(
    lines: TomlLines, prefix: str, name: str | None = None, key: str | None = None
) -> int | None:
    """The line of the workflows table, of workflow ``name``'s table, or of one of its keys."""
    start = lines.header(prefix) if name is None else lines.header(prefix, name)
    if start is None:  # an inline table, or a value where a table belongs
        return lines.key_anywhere(name if name is not None else prefix.rsplit(".", 1)[-1])
    if key is None:
        return start
    sub_table = lines.header(f"{prefix}.{name}", key)  # [workflows.NAME.env]
    return lines.key_in(start, key) or sub_table or start


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
            WorkflowFileError(file, None, None, f"… and {count:,} more problems in {file}")
            for file, count in hidden.items()
        )
        return self.errors[:limit] + more

    def to_json(self) -> dict[str, Any]:
        return {
            "workflows": [w.to_json() for w in self.workflows],
            "errors": [e.to_json() for e in self.shown_errors()],
        }


class WorkflowRegistry:
    """Built-ins plus the project's workflows, re-read when the project's file changes.

    :meth:`load` reads and parses in the calling thread: the web routes call it through
    ``asyncio.to_thread``. Concurrent callers share one parse (the second waits on the lock,
    then finds the result cached).
    """

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
                st = path.stat()  # never opens the file: a FIFO is stamped, not read
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
        workflows: dict[str, Workflow] = {w.name: w for w in BUILTIN_WORKFLOWS}
        errors: list[WorkflowFileError] = []
        for path, pyproject in self._files():
            text = read_project_text(path, self.project_root, MAX_FILE_BYTES)
            if text is None:
                continue
            if isinstance(text, Refused):
                errors.append(WorkflowFileError(path.name, None, None, f"the file {text.reason}"))
                continue
            found, problems = parse_workflows(text, path.name, pyproject=pyproject)
            errors.extend(problems)
            for workflow in found:
                if workflow.name in workflows and workflows[workflow.name].source == "project":
                    continue  # attune.toml wins over pyproject.toml
                workflows[workflow.name] = workflow
        ordered = sorted(workflows.values(), key=lambda w: (w.source != "project", w.name))
        return WorkflowSet(tuple(ordered), tuple(errors))

"""The project's own workflows: ``[workflows.NAME]`` in ``attune.toml`` (or
``[tool.attune.workflows.NAME]`` in ``pyproject.toml``), and its ``[discovery]`` settings.

Parsing never raises for bad content: the valid workflows come back *with* a list of
:class:`WorkflowFileError` naming the file, line and key. A workflow no process could start (a NUL
byte in an argument or an env value, ``=`` in an env name) is refused here, with the others,
rather than failing at spawn time.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from attune.ops.runs.definitions import DISCOVERED_SOURCES, Workflow, WorkflowFileError
from attune.ops.runs.report_files import report_glob_problems
from attune.ops.runs.toml_lines import TomlLines, toml_error_line

__all__ = ["DiscoverySettings", "parse_discovery", "parse_workflows", "read_toml"]

# A ':' may follow the first character, so `[workflows."make:test"]` replaces a found task.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
ALLOWED_KEYS = frozenset({"description", "command", "accepts_path", "timeout_s", "env", "reports"})


# -- parsing -----------------------------------------------------------------------------------

Problem = tuple[str | None, str]  # (the key inside the workflow's table or None, the message)


@dataclass(frozen=True)
class TomlText:
    """One TOML file's text, its parsed data (``None`` when it does not parse) and its lines."""

    file: str
    text: str
    data: dict[str, Any] | None
    lines: TomlLines


def read_toml(text: str, file: str) -> tuple[TomlText, list[WorkflowFileError]]:
    """Parse a TOML file once for every reader of it (workflows, discovery, tool tables)."""
    try:
        data: dict[str, Any] | None = tomllib.loads(text)
        errors: list[WorkflowFileError] = []
    except tomllib.TOMLDecodeError as exc:
        data = None
        errors = [WorkflowFileError(file, toml_error_line(str(exc)), None, f"invalid TOML: {exc}")]
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        data = None
        errors = [WorkflowFileError(file, None, None, "invalid TOML: nested too deeply")]
    return TomlText(file, text, data, TomlLines(text)), errors


def dig(data: Any, dotted: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; ``None`` as soon as a step is missing or no table."""
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
        if data is None:
            return None
    return data


def parse_workflows(
    text: str, file: str, *, pyproject: bool = False
) -> tuple[list[Workflow], list[WorkflowFileError]]:
    """Parse the workflows of one file's text; never raises for bad content.

    Linear in the size of the text: every line is found through one line index.
    Example: ``parse_workflows('[workflows.t]\\ncommand = ["make"]\\n', "attune.toml")``.
    """
    parsed, errors = read_toml(text, file)
    if parsed.data is None:
        return [], errors
    return workflows_of(parsed, pyproject=pyproject)


def workflows_of(
    parsed: TomlText, *, pyproject: bool = False
) -> tuple[list[Workflow], list[WorkflowFileError]]:
    """The workflows of a parsed file (``[workflows]`` or ``[tool.attune.workflows]``)."""
    prefix = "tool.attune.workflows" if pyproject else "workflows"
    file, lines = parsed.file, parsed.lines
    table = dig(parsed.data, prefix)
    if table is None:
        return [], []
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
        line = _line(lines, prefix, name)
        workflows.append(_build(name, spec, f"{file}:{line}" if line else file))
    return workflows, errors


def _key(prefix: str, name: str, key: str | None) -> str:
    return f"{prefix}.{name}" + (f".{key}" if key else "")


def _check_one(name: str, spec: Any) -> list[Problem]:
    """Problems of one workflow table as ``(key or None, message)``; empty when valid."""
    if not NAME_RE.match(name):
        return [(None, "a workflow name uses letters, digits, '-', '_', '.' and ':' (max 64)")]
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
    problems += [("reports", m) for m in report_glob_problems(spec.get("reports", []))]
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


def _build(name: str, spec: dict[str, Any], origin: str) -> Workflow:
    timeout = spec.get("timeout_s")
    return Workflow(
        name=name,
        description=spec.get("description", "") or " ".join(spec["command"]),
        command=tuple(spec["command"]),
        accepts_path=spec.get("accepts_path", False),
        source="project",
        timeout_s=float(timeout) if timeout is not None else None,
        env=MappingProxyType(dict(spec.get("env", {}))),
        origin=origin,
        reports=tuple(spec.get("reports", ())),
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


# -- [discovery] -------------------------------------------------------------------------------

DISCOVERY_KEYS = frozenset({"enabled", "sources"})


@dataclass(frozen=True)
class DiscoverySettings:
    """Which task sources are read: all by default, none with ``enabled = false``."""

    enabled: bool = True
    sources: tuple[str, ...] = DISCOVERED_SOURCES

    def wanted(self) -> tuple[str, ...]:
        return self.sources if self.enabled else ()


def parse_discovery(
    parsed: TomlText, *, pyproject: bool = False
) -> tuple[DiscoverySettings | None, list[WorkflowFileError]]:
    """``[discovery]`` (``[tool.attune.discovery]``): ``None`` when the file has none.

    A mistake is located like a workflow's; the keys that are right still apply.
    """
    prefix = "tool.attune.discovery" if pyproject else "discovery"
    table = dig(parsed.data, prefix)
    if table is None:
        return None, []
    file, lines = parsed.file, parsed.lines
    start = lines.header(prefix)

    def error(key: str | None, message: str) -> WorkflowFileError:
        line = (lines.key_in(start, key) if start and key else None) or start
        return WorkflowFileError(file, line, f"{prefix}.{key}" if key else prefix, message)

    if not isinstance(table, dict):
        return None, [error(None, "must be a table: enabled = true|false, sources = [...]")]
    errors = [
        error(key, f"unknown key {key!r} (allowed: enabled, sources)")
        for key in table
        if key not in DISCOVERY_KEYS
    ]
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.append(error("enabled", "must be true or false"))
        enabled = True
    sources = table.get("sources", list(DISCOVERED_SOURCES))
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        errors.append(error("sources", 'must be a list of source names, e.g. ["make", "npm"]'))
        sources = list(DISCOVERED_SOURCES)
    unknown = [s for s in sources if s not in DISCOVERED_SOURCES]
    if unknown:
        errors.append(
            error(
                "sources",
                f"unknown source {unknown[0]!r} (one of: {', '.join(DISCOVERED_SOURCES)})",
            )
        )
    picked = tuple(s for s in DISCOVERED_SOURCES if s in sources)
    return DiscoverySettings(enabled, picked), errors

"""tox environments: ``tox.ini``, ``setup.cfg`` ``[tox:tox]``, ``pyproject.toml`` ``[tool.tox]``
(native tables or ``legacy_tox_ini``) or ``tox.toml``, the first that configures tox, as tox
picks.

An environment is one of ``env_list`` (``envlist``; factors expanded: ``py{311,312}-django{4,5}``
and ranges ``py3{10-13}``) or of a ``[testenv:NAME]`` (``[env.NAME]``) table. One whose
commands use ``{posargs}`` takes the scope: ``tox -e NAME -- PATH``.
"""

from __future__ import annotations

import configparser
import json
import re
from collections.abc import Iterable
from typing import Any

from attune.ops.runs.discovery.base import Found
from attune.ops.runs.project_file import ProjectFiles
from attune.ops.runs.project_workflows import TomlText, dig

__all__ = ["FILES", "discover", "expand_envs", "split_envs"]

FILES = ("tox.ini", "setup.cfg", "pyproject.toml", "tox.toml")
_BRACES = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"^(\d+)-(\d+)$")
_SECTION = re.compile(r"^\s*\[([^\]]+)\]")
_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[=:]")


def discover(files: ProjectFiles) -> Found:
    found = Found("tox")
    if files.text("tox.ini") is not None:
        _from_ini(found, files.text("tox.ini") or "", "tox.ini", "tox", 0)
        return found
    setup_cfg = files.text("setup.cfg")
    if setup_cfg is not None and re.search(r"(?m)^\[tox:tox\]", setup_cfg):
        _from_ini(found, setup_cfg, "setup.cfg", "tox:tox", 0)
        return found
    pyproject = files.toml("pyproject.toml")
    tool = dig(pyproject.data, "tool.tox") if pyproject else None
    if pyproject is not None and isinstance(tool, dict):
        legacy = tool.get("legacy_tox_ini")
        if isinstance(legacy, str):
            offset = pyproject.lines.key_anywhere("legacy_tox_ini") or 0
            _from_ini(found, legacy, "pyproject.toml", "tox", offset)
        else:
            _from_toml(found, pyproject, tool, "tool.tox.")
        return found
    tox_toml = files.toml("tox.toml")
    if tox_toml is not None and tox_toml.data is not None:
        _from_toml(found, tox_toml, tox_toml.data, "")
    return found


def _from_ini(found: Found, text: str, file: str, core: str, offset: int) -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=file)
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        if line is None and isinstance(exc, configparser.ParsingError) and exc.errors:
            line = exc.errors[0][0]
        found.error(file, (line + offset) if line else None, f"invalid INI: {exc.message}")
        return
    lines = _ini_lines(text)
    base = dict(parser["testenv"]) if parser.has_section("testenv") else {}
    envs: dict[str, int | None] = {}
    if parser.has_section(core):
        raw = parser[core].get("env_list", parser[core].get("envlist", ""))
        at = lines.get((core, "env_list")) or lines.get((core, "envlist"))
        for env in expand_envs(split_envs(raw)):
            envs.setdefault(env, at)
    for section in parser.sections():
        if section.startswith("testenv:"):
            for env in expand_envs([section[len("testenv:") :]]):
                envs[env] = lines.get((section, ""))
    for env, line in envs.items():
        own = parser[f"testenv:{env}"] if parser.has_section(f"testenv:{env}") else {}
        commands = own.get("commands", base.get("commands", ""))
        description = own.get("description", base.get("description", ""))
        _add(found, env, file, (line + offset) if line else None, description, commands)


def _from_toml(found: Found, parsed: TomlText, table: dict[str, Any], prefix: str) -> None:
    raw = table.get("env_list", table.get("envlist", []))
    envs: dict[str, int | None] = {}
    if isinstance(raw, list):
        at = parsed.lines.key_anywhere("env_list") or parsed.lines.key_anywhere("envlist")
        for env in expand_envs(str(e) for e in raw):
            envs.setdefault(env, at)
    defined = table.get("env")
    for env in defined if isinstance(defined, dict) else {}:
        envs[env] = parsed.lines.header(f"{prefix}env", env) or envs.get(env)
    base = table.get("env_run_base")
    base = base if isinstance(base, dict) else {}
    for env, line in envs.items():
        own = defined.get(env) if isinstance(defined, dict) else None
        own = own if isinstance(own, dict) else {}
        commands = json.dumps(own.get("commands", base.get("commands", [])))
        description = own.get("description", base.get("description", ""))
        _add(found, env, parsed.file, line, str(description), commands)


def _add(
    found: Found, env: str, file: str, line: int | None, description: str, commands: str
) -> None:
    takes = "posargs" in commands
    found.add(
        env,
        ("tox", "-e", env, *(("--", "{path}") if takes else ())),
        file=file,
        line=line,
        description=description or f"the tox environment {env}",
        accepts_path=takes,
    )


def split_envs(raw: str) -> list[str]:
    """``py{311,312}, lint`` → ``["py{311,312}", "lint"]``: commas and newlines outside braces."""
    entries, depth, current = [], 0, ""
    for char in raw:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth <= 0 and char in ",\n":
            entries.append(current)
            current, depth = "", 0
        else:
            current += char
    return [*entries, current]


def expand_envs(entries: Iterable[str]) -> list[str]:
    """``py{311,312}-lint`` → ``py311-lint``, ``py312-lint``; ``py3{10-12}`` is a range."""
    envs: list[str] = []
    for entry in entries:
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        pending = [entry]
        while pending:
            current = pending.pop(0)
            match = _BRACES.search(current)
            if match is None:
                if current not in envs:
                    envs.append(current)
                continue
            pending[:0] = [
                current[: match.start()] + choice.strip() + current[match.end() :]
                for choice in _choices(match.group(1))
            ]
    return envs


def _choices(inside: str) -> list[str]:
    choices: list[str] = []
    for part in inside.split(","):
        bounds = _RANGE.match(part.strip())
        if bounds and int(bounds.group(2)) - int(bounds.group(1)) < 100:
            low, high = int(bounds.group(1)), int(bounds.group(2))
            choices.extend(str(n) for n in range(low, high + 1))
        else:
            choices.append(part)
    return choices


def _ini_lines(text: str) -> dict[tuple[str, str], int]:
    """``(section, "")`` → its header's line; ``(section, key)`` → the key's line."""
    lines: dict[tuple[str, str], int] = {}
    section = ""
    for number, raw in enumerate(text.split("\n"), start=1):
        header = _SECTION.match(raw)
        if header:
            section = header.group(1).strip()
            lines.setdefault((section, ""), number)
            continue
        key = _KEY.match(raw)
        if key and section:
            lines.setdefault((section, key.group(1)), number)
    return lines

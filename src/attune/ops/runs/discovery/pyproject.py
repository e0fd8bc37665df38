"""Python task runners declared in TOML: poe's ``[tool.poe.tasks]``, pdm's
``[tool.pdm.scripts]`` and hatch's ``[tool.hatch.envs.ENV.scripts]`` (or ``hatch.toml``).

``pyproject.toml`` is parsed once per load (:class:`ProjectFiles`); a file that does not parse
is reported once, by the registry, not once per tool.
"""

from __future__ import annotations

from typing import Any

from attune.ops.runs.discovery.base import Found, table_entry_line
from attune.ops.runs.project_file import ProjectFiles
from attune.ops.runs.project_workflows import TomlText, dig

__all__ = ["FILES", "discover_hatch", "discover_pdm", "discover_poe"]

PYPROJECT = "pyproject.toml"
HATCH_TOML = "hatch.toml"
FILES = (PYPROJECT, HATCH_TOML)
POE_KINDS = ("cmd", "script", "shell", "sequence", "expr", "ref", "switch")
PDM_KINDS = ("cmd", "shell", "call", "composite")


def discover_poe(files: ProjectFiles) -> Found:
    """poe tasks: a string (a command), a list (a sequence) or a table of one task kind.

    Names starting with ``_`` are private in poe and left out; ``help`` is the description.
    """
    found = Found("poe")
    parsed = files.toml(PYPROJECT)
    tasks = _table(found, parsed, "tool.poe.tasks")
    if parsed is None or tasks is None:
        return found
    for name, spec in tasks.items():
        line = table_entry_line(parsed.lines, "tool.poe.tasks", name)
        if name.startswith("_"):
            continue
        text = _poe_text(spec)
        if text is None:
            found.error(
                PYPROJECT,
                line,
                f"a poe task is a string, a list or a table with one of {', '.join(POE_KINDS)}",
                f"tool.poe.tasks.{name}",
            )
            continue
        help_text = spec.get("help") if isinstance(spec, dict) else None
        found.add(
            name,
            ("poe", name),
            file=PYPROJECT,
            line=line,
            description=help_text if isinstance(help_text, str) and help_text else text,
        )
    return found


def _poe_text(spec: Any) -> str | None:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return "sequence: " + ", ".join(_poe_text(s) or "?" for s in spec)
    if not isinstance(spec, dict):
        return None
    for kind in POE_KINDS:
        if kind in spec:
            value = spec[kind]
            shown = value if isinstance(value, str) else _poe_text(value) or str(value)
            return shown if kind == "cmd" else f"{kind}: {shown}"
    return None


def discover_pdm(files: ProjectFiles) -> Found:
    """pdm scripts: a string (a command) or a table with ``cmd``, ``shell``, ``call`` or
    ``composite``; the ``_`` table holds shared options. ``{args}`` takes the scope."""
    found = Found("pdm")
    parsed = files.toml(PYPROJECT)
    scripts = _table(found, parsed, "tool.pdm.scripts")
    if parsed is None or scripts is None:
        return found
    for name, spec in scripts.items():
        if name == "_":
            continue
        line = table_entry_line(parsed.lines, "tool.pdm.scripts", name)
        body = spec if isinstance(spec, str) else None
        if isinstance(spec, dict):
            kind = next((k for k in PDM_KINDS if k in spec), None)
            value = spec.get(kind) if kind else None
            body = " ".join(value) if isinstance(value, list) else value
            body = body if kind in (None, "cmd") or body is None else f"{kind}: {body}"
        if not isinstance(body, str):
            found.error(
                PYPROJECT,
                line,
                f"a pdm script is a string or a table with one of {', '.join(PDM_KINDS)}",
                f"tool.pdm.scripts.{name}",
            )
            continue
        help_text = spec.get("help") if isinstance(spec, dict) else None
        takes = "{args" in body
        found.add(
            name,
            ("pdm", "run", name, *(("{path}",) if takes else ())),
            file=PYPROJECT,
            line=line,
            description=help_text if isinstance(help_text, str) and help_text else body,
            accepts_path=takes,
        )
    return found


def discover_hatch(files: ProjectFiles) -> Found:
    """hatch scripts of every environment; ``hatch.toml`` wins over ``pyproject.toml`` as in
    hatch. The default environment's are ``hatch:NAME``, another's ``hatch:ENV:NAME``."""
    found = Found("hatch")
    hatch = files.toml(HATCH_TOML)
    parsed, prefix = (hatch, "envs") if hatch is not None else (files.toml(PYPROJECT), "")
    if parsed is None:
        return found
    prefix = prefix or "tool.hatch.envs"
    envs = _table(found, parsed, prefix)
    for env, spec in (envs or {}).items():
        scripts = spec.get("scripts") if isinstance(spec, dict) else None
        if not isinstance(scripts, dict):
            continue
        for name, commands in scripts.items():
            line = table_entry_line(parsed.lines, f"{prefix}.{env}.scripts", name)
            listed = [commands] if isinstance(commands, str) else commands
            if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
                found.error(
                    parsed.file,
                    line,
                    "a hatch script is a command or a list of commands",
                    f"{prefix}.{env}.scripts.{name}",
                )
                continue
            target = name if env == "default" else f"{env}:{name}"
            takes = any("{args" in c for c in listed)
            found.add(
                target,
                ("hatch", "run", target, *(("{path}",) if takes else ())),
                file=parsed.file,
                line=line,
                description=" && ".join(listed),
                accepts_path=takes,
            )
    return found


def _table(found: Found, parsed: TomlText | None, prefix: str) -> dict[str, Any] | None:
    if parsed is None:
        return None
    table = dig(parsed.data, prefix)
    if table is None or isinstance(table, dict):
        return table
    line = parsed.lines.header(prefix) or parsed.lines.key_anywhere(prefix.rsplit(".", 1)[-1])
    found.error(parsed.file, line, "must be a table", prefix)
    return None

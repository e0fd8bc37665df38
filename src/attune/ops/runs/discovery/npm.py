"""``package.json`` scripts, run with the package manager the project uses.

The manager is the one ``packageManager`` names (Corepack's field, ``"pnpm@9.1.0"``), else the
one whose lockfile is there (bun, pnpm, yarn, npm), else npm. ``pre<name>`` / ``post<name>``
scripts are hooks the manager runs around ``<name>``: they are not listed on their own.
"""

from __future__ import annotations

import json
import re

from attune.ops.runs.discovery.base import Found
from attune.ops.runs.project_file import ProjectFiles

__all__ = ["FILES", "discover"]

MANIFEST = "package.json"
LOCKFILES: tuple[tuple[str, str], ...] = (
    ("bun.lockb", "bun"),
    ("bun.lock", "bun"),
    ("pnpm-lock.yaml", "pnpm"),
    ("yarn.lock", "yarn"),
    ("package-lock.json", "npm"),
    ("npm-shrinkwrap.json", "npm"),
)
MANAGERS = frozenset({"npm", "pnpm", "yarn", "bun"})
FILES = (MANIFEST, *(name for name, _ in LOCKFILES))

# A JSON string, a bracket, or a newline: enough to follow the nesting and count lines.
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\]]|\n')
_COLON = re.compile(r"\s*:")


def discover(files: ProjectFiles) -> Found:
    """The scripts of ``package.json``; a file that is not JSON is one located error."""
    found = Found("npm")
    text = files.text(MANIFEST)
    if text is None:
        return found
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        found.error(MANIFEST, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
        return found
    scripts = data.get("scripts") if isinstance(data, dict) else None
    if scripts is None:
        return found
    lines = script_lines(text)
    if not isinstance(scripts, dict):
        found.error(MANIFEST, lines.get(""), '"scripts" must be an object of strings', "scripts")
        return found
    manager = package_manager(data, files)
    for name, body in scripts.items():
        if not isinstance(body, str):
            found.error(MANIFEST, lines.get(name), "a script must be a string", f"scripts.{name}")
            continue
        if _is_hook(name, scripts):
            continue
        found.add(
            name, (manager, "run", name), file=MANIFEST, line=lines.get(name), description=body
        )
    return found


def _is_hook(name: str, scripts: dict[str, object]) -> bool:
    for prefix in ("pre", "post"):
        if name.startswith(prefix) and name[len(prefix) :] in scripts:
            return True
    return False


def package_manager(data: dict[str, object], files: ProjectFiles) -> str:
    """npm, pnpm, yarn or bun: ``packageManager`` first, then the lockfile, else npm."""
    declared = data.get("packageManager")
    if isinstance(declared, str):
        name = declared.split("@", 1)[0].strip()
        if name in MANAGERS:
            return name
    lockfile = files.first(tuple(name for name, _ in LOCKFILES))
    return dict(LOCKFILES).get(lockfile or "", "npm")


def script_lines(text: str) -> dict[str, int]:
    """The line of each key of the top-level ``"scripts"`` object (``""``: of ``"scripts"``).

    ``json`` keeps no positions, so the text is read once more: strings, brackets and newlines.
    The first spelling of a key counts (JSON's later duplicates win, but are rare).
    """
    lines: dict[str, int] = {}
    line, depth, scripts_depth = 1, 0, -1
    pending_scripts = False
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if piece == "\n":
            line += 1
        elif piece in "{[":
            depth += 1
            if pending_scripts and piece == "{":
                scripts_depth = depth
            pending_scripts = False
        elif piece in "}]":
            if depth == scripts_depth:
                break
            depth -= 1
        elif _COLON.match(text, match.end()):  # a key
            key = _decode(piece)
            if depth == 1 and key == "scripts" and scripts_depth < 0:
                lines[""] = line
                pending_scripts = True
            elif depth == scripts_depth and key is not None:
                lines.setdefault(key, line)
        else:
            pending_scripts = False
    return lines


def _decode(token: str) -> str | None:
    try:
        value = json.loads(token)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None

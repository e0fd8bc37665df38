"""``justfile`` recipes: their doc comments as descriptions, a parameter takes the scope.

When ``just`` is installed, ``just --dump --dump-format json`` (which parses and runs nothing)
is the authority: a file it refuses is an error with its line, and its recipes' docs and
parameters are used. Without it, the file is read here: a recipe line at the start of a line
(``name param='x' *rest: deps``), the ``# comment`` right above it or ``[doc('…')]``, and
``[private]`` or a leading ``_`` to leave it out. Either way the lines come from the text.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from attune.ops.runs.discovery.base import Found
from attune.ops.runs.project_file import ProjectFiles

__all__ = ["FILES", "JustRecipe", "discover", "parse_justfile"]

FILES = ("justfile", "Justfile", "JUSTFILE", ".justfile")
DUMP_TIMEOUT_S = 5.0
_NAME = re.compile(r"@?([A-Za-z_][A-Za-z0-9_-]*)")
_ATTRIBUTE = re.compile(r"^\[(.*)\]\s*(?:#.*)?$")
_DOC_ATTRIBUTE = re.compile(r"""doc\s*\(\s*(?:'([^']*)'|"([^"]*)")\s*\)""")
_KEYWORDS = frozenset({"alias", "set", "export", "import", "mod", "unexport"})
_ERROR_LINE = re.compile(r"(?:justfile|\.just):(\d+):\d+")


@dataclass(frozen=True)
class JustRecipe:
    name: str
    line: int
    doc: str
    parameters: tuple[str, ...]
    private: bool


def discover(files: ProjectFiles) -> Found:
    found = Found("just")
    name = files.first(FILES)
    text = files.text(name) if name else None
    if name is None or text is None:
        return found
    recipes = {r.name: r for r in parse_justfile(text)}
    just = shutil.which("just")
    if just is not None:
        dumped = _dump(just, files, name)
        if isinstance(dumped, tuple):
            found.error(name, dumped[0], dumped[1])
            return found
        recipes = _merge(recipes, dumped)
    for recipe in recipes.values():
        if recipe.private:
            continue
        takes = bool(recipe.parameters)
        found.add(
            recipe.name,
            ("just", recipe.name, *(("{path}",) if takes else ())),
            file=name,
            line=recipe.line,
            description=recipe.doc,
            accepts_path=takes,
        )
    return found


def _dump(just: str, files: ProjectFiles, name: str) -> dict[str, Any] | tuple[int | None, str]:
    """just's own reading of the file, or ``(line, reason)`` when it refuses it."""
    argv = [just, "--justfile", str(files.root / name), "--working-directory", str(files.root)]
    try:
        done = subprocess.run(
            [*argv, "--dump", "--dump-format", "json"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=DUMP_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"`just --dump` could not list the recipes: {exc}"
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        match = _ERROR_LINE.search(message)
        first = message.splitlines()[0] if message else f"exit code {done.returncode}"
        return (int(match.group(1)) if match else None), f"just refuses this file: {first}"
    try:
        data = json.loads(done.stdout)
    except ValueError as exc:
        return None, f"`just --dump` printed no JSON: {exc}"
    return data if isinstance(data, dict) else {}


def _merge(static: dict[str, JustRecipe], dumped: dict[str, Any]) -> dict[str, JustRecipe]:
    recipes: dict[str, JustRecipe] = {}
    table = dumped.get("recipes")
    for name, spec in table.items() if isinstance(table, dict) else []:
        if not isinstance(spec, dict):
            continue
        params = spec.get("parameters") or []
        seen = static.get(name)
        recipes[name] = JustRecipe(
            name=name,
            line=seen.line if seen else 0,
            doc=str(spec.get("doc") or (seen.doc if seen else "")),
            parameters=tuple(str(p.get("name", "")) for p in params if isinstance(p, dict)),
            private=bool(spec.get("private")) or name.startswith("_"),
        )
    order = {name: index for index, name in enumerate(static)}
    return dict(sorted(recipes.items(), key=lambda item: order.get(item[0], len(order))))


def parse_justfile(text: str) -> list[JustRecipe]:
    """The recipes of a justfile, read as text, in file order."""
    recipes: list[JustRecipe] = []
    doc, attributes = "", ""
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            doc, attributes = "", ""
            continue
        if line[0] in " \t":
            continue  # a recipe's body (or a continued expression)
        if line.startswith("#"):
            if not line.startswith("#!"):
                doc, attributes = line[1:].strip(), ""
            continue
        attribute = _ATTRIBUTE.match(line)
        if attribute:
            attributes += "," + attribute.group(1)
            continue
        recipe = _header(line, number, doc, attributes)
        if recipe is not None:
            recipes.append(recipe)
        doc, attributes = "", ""
    return recipes


def _header(line: str, number: int, doc: str, attributes: str) -> JustRecipe | None:
    match = _NAME.match(line)
    if match is None or (match.group(1) in _KEYWORDS and not line[match.end() :].startswith(":")):
        return None
    params = _parameters(line, match.end())
    if params is None:
        return None
    doc_attr = _DOC_ATTRIBUTE.search(attributes)
    if doc_attr:
        doc = doc_attr.group(1) if doc_attr.group(1) is not None else doc_attr.group(2)
    name = match.group(1)
    private = name.startswith("_") or "private" in {a.strip() for a in attributes.split(",")}
    return JustRecipe(name, number, doc, params, private)


def _parameters(line: str, at: int) -> tuple[str, ...] | None:
    """The parameter names up to the recipe's ``:``, or ``None`` when this is no recipe (an
    assignment ``x := …``, an expression)."""
    names: list[str] = []
    quote = ""
    depth = 0
    word = re.compile(r"[+*]?\$?([A-Za-z_][A-Za-z0-9_-]*)")
    expect_name = True
    i = at
    while i < len(line):
        char = line[i]
        if quote:
            if line.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
            i += 1
            continue
        if char in "'\"`":
            quote = line[i : i + 3] if line.startswith(char * 3, i) else char
            i += len(quote)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and char == ":":
            following = line[i + 1 : i + 2]
            return None if following == "=" else tuple(names)
        elif depth == 0 and char == "=":
            expect_name = False  # a default value follows
        elif depth == 0 and char in " \t":
            expect_name = True
        elif depth == 0 and expect_name:
            found = word.match(line, i)
            if found is None:
                return None
            names.append(found.group(1))
            expect_name = False
            i = found.end()
            continue
        i += 1
    return None

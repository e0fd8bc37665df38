"""``noxfile.py`` sessions, read with :mod:`ast`: the file is parsed, never imported or run.

A session is a top-level function decorated with ``@nox.session`` (bare or called, also as
``session`` imported from nox, or nox imported under another name); ``name=`` renames it, its
docstring's first line describes it. ``python=[…]`` and ``@nox.parametrize`` make several
sessions of one function, which ``nox -s NAME`` runs together, so the function is listed once.
A session that reads ``session.posargs`` takes the scope: ``nox -s NAME -- PATH``.
"""

from __future__ import annotations

import ast

from attune.ops.runs.discovery.base import Found
from attune.ops.runs.project_file import ProjectFiles

__all__ = ["FILES", "discover", "sessions"]

FILES = ("noxfile.py",)


def discover(files: ProjectFiles) -> Found:
    found = Found("nox")
    text = files.text("noxfile.py")
    if text is None:
        return found
    try:
        tree = ast.parse(text, "noxfile.py")
    except SyntaxError as exc:
        found.error("noxfile.py", exc.lineno, f"invalid Python: {exc.msg}")
        return found
    except (ValueError, RecursionError, MemoryError) as exc:  # a NUL byte, nesting too deep
        found.error("noxfile.py", None, f"cannot be read as Python: {exc}")
        return found
    for name, line, doc, takes in sessions(tree):
        found.add(
            name,
            ("nox", "-s", name, *(("--", "{path}") if takes else ())),
            file="noxfile.py",
            line=line,
            description=doc,
            accepts_path=takes,
        )
    return found


def sessions(tree: ast.Module) -> list[tuple[str, int, str, bool]]:
    """``(name, line, first docstring line, uses posargs)`` of each session, in file order."""
    modules, functions = _nox_names(tree)
    found = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call is not None else decorator
            if not _is_session(target, modules, functions):
                continue
            name = node.name
            for keyword in call.keywords if call is not None else []:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    name = str(keyword.value.value)
            doc = (ast.get_docstring(node) or "").strip().split("\n", 1)[0]
            takes = any(
                isinstance(n, ast.Attribute) and n.attr == "posargs" for n in ast.walk(node)
            )
            found.append((name, node.lineno, doc, takes))
            break
    return found


def _nox_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """The names nox goes by (``nox``, ``import nox as n``) and ``session`` imported from it."""
    modules, functions = set(), set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "nox"}
        elif isinstance(node, ast.ImportFrom) and node.module == "nox":
            functions |= {a.asname or a.name for a in node.names if a.name == "session"}
    return modules, functions


def _is_session(target: ast.expr, modules: set[str], functions: set[str]) -> bool:
    if isinstance(target, ast.Attribute) and target.attr == "session":
        return isinstance(target.value, ast.Name) and target.value.id in modules
    return isinstance(target, ast.Name) and target.id in functions

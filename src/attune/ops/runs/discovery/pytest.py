"""The test runner itself: a project with pytest configured, or a ``tests/`` folder, gets a
``pytest`` workflow that takes the scope (``python -m pytest PATH``).

Configured means ``pytest.ini`` / ``.pytest.ini``, ``[tool.pytest.ini_options]`` (or pytest 9's
``[tool.pytest]``) in ``pyproject.toml``, ``[pytest]`` in ``tox.ini``, ``[tool:pytest]`` in
``setup.cfg``, or a ``conftest.py`` at the root. It runs with the project's virtualenv
(``.venv`` or ``venv``) when there is one, else with ``python3``.
"""

from __future__ import annotations

import re

from attune.ops.runs.discovery.base import Found
from attune.ops.runs.project_file import ProjectFiles
from attune.ops.runs.project_workflows import dig

__all__ = ["FILES", "discover"]

INTERPRETERS = (".venv/bin/python", "venv/bin/python")
FILES = ("pytest.ini", ".pytest.ini", "conftest.py", "tests", "test", *INTERPRETERS)
_INI_SECTIONS = (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest"))


def discover(files: ProjectFiles) -> Found:
    found = Found("pytest")
    origin = _configured(files)
    if origin is None:
        return found
    file, line = origin
    python = next((p for p in INTERPRETERS if files.is_file(p)), "python3")
    found.add(
        "pytest",
        (python, "-m", "pytest", "{path}"),
        file=file,
        line=line,
        description="Run the tests with pytest over the picked scope",
        accepts_path=True,
        name="pytest",
    )
    return found


def _configured(files: ProjectFiles) -> tuple[str | None, int | None] | None:
    """Where pytest is configured (``(file, line)``; ``(None, None)`` for a bare ``tests/``),
    or ``None`` when nothing says the project uses it."""
    for name in ("pytest.ini", ".pytest.ini"):
        if files.is_file(name):
            return name, 1
    parsed = files.toml("pyproject.toml")
    if parsed is not None:
        for table in ("tool.pytest.ini_options", "tool.pytest"):
            if isinstance(dig(parsed.data, table), dict):
                return "pyproject.toml", parsed.lines.header(table)
    for name, section in _INI_SECTIONS:
        text = files.text(name) if files.is_file(name) else None
        match = re.search(rf"(?m)^\[{re.escape(section)}\]", text or "")
        if text is not None and match:
            return name, text.count("\n", 0, match.start()) + 1
    if files.is_file("conftest.py"):
        return "conftest.py", 1
    if files.is_dir("tests") or files.is_dir("test"):
        return None, None
    return None

"""Zero-config workflows: the tasks a project already declares for its own tools.

One module per source; :func:`discover` runs the ones asked for over one
:class:`~attune.ops.runs.project_file.ProjectFiles` and returns what they found, in the order of
:data:`~attune.ops.runs.definitions.DISCOVERED_SOURCES`. Nothing here runs project code: files
are read as text (TOML with :mod:`tomllib`, YAML composed into nodes, ``noxfile.py`` with
:mod:`ast`); the one subprocess is ``just --dump``, which only parses. A source that fails is
one error of its own and never hides another source's tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from attune.ops.runs.definitions import Workflow, WorkflowFileError
from attune.ops.runs.discovery import just, make, nox, npm, pyproject, pytest, taskfile, tox
from attune.ops.runs.discovery.base import Found
from attune.ops.runs.project_file import ProjectFiles

__all__ = ["READERS", "WATCHED", "discover"]

logger = logging.getLogger(__name__)

READERS: dict[str, tuple[Callable[[ProjectFiles], Found], tuple[str, ...]]] = {
    "npm": (npm.discover, npm.FILES),
    "make": (make.discover, make.FILES),
    "just": (just.discover, just.FILES),
    "task": (taskfile.discover, taskfile.FILES),
    "poe": (pyproject.discover_poe, pyproject.FILES),
    "pdm": (pyproject.discover_pdm, pyproject.FILES),
    "hatch": (pyproject.discover_hatch, pyproject.FILES),
    "tox": (tox.discover, tox.FILES),
    "nox": (nox.discover, nox.FILES),
    "pytest": (pytest.discover, (*pytest.FILES, "pyproject.toml", "tox.ini", "setup.cfg")),
}
# Every path whose change can change what is found (the registry stamps them, never opens them).
WATCHED: tuple[str, ...] = tuple(dict.fromkeys(f for _, names in READERS.values() for f in names))


def discover(
    files: ProjectFiles, sources: Iterable[str]
) -> tuple[list[Workflow], list[WorkflowFileError]]:
    """The tasks of ``sources`` (names of :data:`READERS`) and the problems of their files."""
    workflows: list[Workflow] = []
    errors: list[WorkflowFileError] = []
    for source in sources:
        reader, names = READERS[source]
        try:
            found = reader(files)
        except Exception as exc:  # a reader's bug must not hide the other sources
            logger.exception("discovering %s tasks failed", source)
            errors.append(
                WorkflowFileError(
                    names[0], None, None, f"its {source} tasks could not be read: {exc}"
                )
            )
            continue
        workflows.extend(found.workflows)
        errors.extend(found.errors)
    return workflows, errors

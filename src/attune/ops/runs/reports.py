"""A run's test reports: planned when it starts, read and stored when it ends.

At the start (:func:`plan_reports`), a command that runs pytest and names no report of its own
gets ``--junitxml`` pointed at a file of this run under ``<home>/ops/reports/`` (and
``-o junit_family=xunit1``, so each case carries its file and line) — whatever declared the
workflow, ``attune.toml`` or discovery, since this works on the argv the runner is about to
spawn. A workflow with ``reports = [...]`` globs gets its own files read instead. At the end
(:meth:`ReportCollector.collect`, on the run's pump thread, off the event loop), every report
is read as a stranger's file (capped), parsed without entities (runs/junit.py), each failure
linked to the log line that printed it, and the whole stored in one transaction. A report
that is missing, malformed or too big becomes a note in the run's log and in its test
results, never a failed run or a failed dashboard.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from attune.files import Refused, read_regular
from attune.ops.runs.failure_lines import find_failure_lines
from attune.ops.runs.junit import MAX_CASES, parse_report
from attune.ops.runs.report_files import find_reports
from attune.ops.store.database import Store
from attune.ops.store.tests import CaseRow

__all__ = ["MAX_REPORT_BYTES", "ReportCollector", "plan_reports", "pytest_position"]

logger = logging.getLogger(__name__)

MAX_REPORT_BYTES = 50 * 1024 * 1024
STALE_S = 24 * 3600  # our own report files left by a dashboard that died are removed after a day
JUNIT_FLAGS = ("--junitxml", "--junit-xml")
RUNNERS = frozenset({"uv", "poetry", "pdm", "pipenv", "rye", "hatch"})
PYTEST_NAMES = re.compile(r"^(?:pytest|py\.test)(?:-?\d[\d.]*)?$")


def pytest_position(argv: Sequence[str]) -> int | None:
    """The index of the ``pytest`` word of a command that runs pytest, else ``None``.

    ``pytest …``, ``python -m pytest …``, ``coverage run -m pytest``, ``uv run pytest``,
    ``uvx pytest``; never a ``pytest`` that is an argument of something else (``make pytest``).
    """
    for index, part in enumerate(argv):
        base = PurePath(part).name
        if index == 0 and PYTEST_NAMES.match(base):
            return 0
        if part in ("pytest", "py.test") and index > 0:
            before = argv[index - 1]
            if before == "-m" or PurePath(before).name == "uvx":
                return index
            if before == "run" and index > 1 and PurePath(argv[index - 2]).name in RUNNERS:
                return index
    return None


def _has_junit(argv: Sequence[str]) -> bool:
    return any(part.split("=", 1)[0] in JUNIT_FLAGS for part in argv)


@dataclass
class ReportCollector:
    """What to read when the run ends: our own ``--junitxml`` file and the workflow's globs."""

    root: Path
    workflow: str
    globs: tuple[str, ...] = ()
    junit: Path | None = None
    started: float = field(default_factory=time.time)

    def collect(self, store: Store, run_id: int) -> list[str]:
        """Read, parse and store the run's reports; the notes to append to its log."""
        try:
            notes = self._collect(store, run_id)
        except Exception as exc:  # never fail the run's end over its report
            logger.exception("run %s: its test report could not be stored", run_id)
            notes = [f"the test results could not be stored: {exc}"]
        finally:
            if self.junit is not None:
                with contextlib.suppress(OSError):
                    self.junit.unlink()
        return [f"[attune] {note}" for note in notes]

    def _collect(self, store: Store, run_id: int) -> list[str]:
        files, notes = self._files()
        cases: list[CaseRow] = []
        for name, path in files:
            data = read_regular(path, MAX_REPORT_BYTES)
            if isinstance(data, Refused):
                notes.append(f"test report {name} {data.reason}")
                continue
            parsed = parse_report(data, name, MAX_CASES - len(cases))
            cases.extend(parsed.cases)
            notes.extend(parsed.notes)
        if any(c.status in ("failed", "error") for c in cases):
            cases = find_failure_lines(_log_lines(store, run_id), cases)
        store.save_report(run_id, self.workflow, cases, len(files), notes)
        return notes

    def _files(self) -> tuple[list[tuple[str, Path]], list[str]]:
        files: list[tuple[str, Path]] = []
        notes: list[str] = []
        if self.junit is not None:
            if self.junit.is_file():
                files.append(("pytest --junitxml", self.junit))
            else:
                notes.append(
                    "pytest wrote no JUnit report (--junitxml): it was stopped, or never began"
                )
        if self.globs:
            found, problems = find_reports(self.root, self.globs, self.started)
            notes.extend(problems)
            files.extend(found)
            if not found and not problems:
                notes.append("no test report written by this run matched " + ", ".join(self.globs))
        return files, notes


def _log_lines(store: Store, run_id: int) -> Iterator[tuple[int, str]]:
    for first, lines in store.iter_chunks(run_id):
        for offset, line in enumerate(lines):
            yield first + offset, line


def plan_reports(
    workflow: str, globs: Sequence[str], argv: list[str], root: Path, ops_dir: Path
) -> tuple[list[str], ReportCollector | None]:
    """The argv to spawn and what to collect at the end (``None``: the run has no reports).

    Example: ``plan_reports("tests", (), ["python", "-m", "pytest", "."], root, ops_dir)``
    gives ``[…, "pytest", "--junitxml=<ops_dir>/reports/run-….xml", "-o",
    "junit_family=xunit1", "."]``.
    """
    at = pytest_position(argv)
    junit: Path | None = None
    if at is not None and not globs and not _has_junit(argv):
        junit = _new_report_file(ops_dir / "reports")
        if junit is not None:
            flags = [f"--junitxml={junit}", "-o", "junit_family=xunit1"]
            argv = [*argv[: at + 1], *flags, *argv[at + 1 :]]
    if junit is None and not globs:
        return argv, None
    return argv, ReportCollector(root, workflow, tuple(globs), junit)


def _new_report_file(folder: Path) -> Path | None:
    """A fresh path for this run's pytest report (the folder 0700); ``None`` when it cannot be."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        now = time.time()
        for old in folder.glob("run-*.xml"):
            with contextlib.suppress(OSError):
                if now - old.stat().st_mtime > STALE_S:
                    old.unlink()
    except OSError as exc:
        logger.warning("no folder for test reports at %s: %s", folder, exc)
        return None
    return folder / f"run-{secrets.token_hex(8)}.xml"

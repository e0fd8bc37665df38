"""Reading one spec folder's phase files safely and turning them into a :class:`Spec`.

Nothing here raises for a bad file: an unreadable file, broken front matter, bytes that are not
UTF-8, a file over 2 MB or a symlink loop becomes a ``problem`` string on the spec, and the rest of
the spec (and of the listing) is read as usual.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from attune.ops.specs.status import (
    SpecStatus,
    header_status_lines,
    normalise_status,
    parse_front_matter,
)
from attune.ops.specs.tasks import TaskCounts, count_text_tasks

__all__ = [
    "MAX_FILE_BYTES",
    "PHASE_FILES",
    "FileStat",
    "PhaseText",
    "SpecLayout",
    "SpecReading",
    "read_phase_text",
    "read_spec_files",
    "stat_file",
]

# Reading order: the first status found in this order is the spec's status.
PHASE_FILES = (
    "requirements.md",
    "bugfix.md",
    "spec.md",
    "design.md",
    "plan.md",
    "tasks.md",
    "decisions.md",
)
PHASE_NAMES = {name.lower(): name for name in PHASE_FILES}
MAX_FILE_BYTES = 2 * 1024 * 1024
_SPEC_KIT_NAME = re.compile(r"^\d{3,}-")


class SpecLayout(StrEnum):
    DOCS = "docs"  # docs/specs/<name>/requirements.md, design.md, tasks.md, decisions.md
    KIRO = "kiro"  # .kiro/specs/<name>/requirements.md|bugfix.md, design.md, tasks.md
    SPEC_KIT = "spec-kit"  # specs/NNN-name/spec.md, plan.md, tasks.md


@dataclass(frozen=True)
class FileStat:
    """What the cache compares: a file's identity and age, or why it could not be looked at."""

    name: str  # the phase name (lower case), e.g. "tasks.md"
    filename: str  # the name on disk, e.g. "TASKS.md"
    mtime_ns: int = 0
    size: int = 0
    inode: int = 0
    regular: bool = True
    error: str | None = None


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "broken symbolic link"
    if exc.errno == errno.EACCES or isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


def stat_file(folder: Path, filename: str) -> FileStat:
    """Stat ``folder/filename`` (following links); never raises."""
    name = filename.lower()
    try:
        st = os.stat(f"{folder}/{filename}")  # noqa: PTH116 - str path: cheaper on the hot path
    except OSError as exc:
        return FileStat(name, filename, error=_os_reason(exc))
    regular = stat.S_ISREG(st.st_mode)
    return FileStat(name, filename, st.st_mtime_ns, st.st_size, st.st_ino, regular)


@dataclass(frozen=True)
class PhaseText:
    """A phase file's text, or ``None`` with the reason it could not be used."""

    text: str | None
    problem: str | None = None


def read_phase_text(path: Path | str, info: FileStat) -> PhaseText:
    """The text of a phase file, guarded against every predictable failure."""
    if info.error is not None:
        return PhaseText(None, f"{info.filename}: cannot be read ({info.error})")
    if not info.regular:
        return PhaseText(None, f"{info.filename}: not a regular file, skipped")
    if info.size > MAX_FILE_BYTES:
        size_mb = info.size / (1024 * 1024)
        return PhaseText(None, f"{info.filename}: {size_mb:.1f} MB is over the 2 MB limit, skipped")
    try:
        # Unbuffered, sized by the stat: read(2 MB) would allocate 2 MB for every small file.
        with open(path, "rb", buffering=0) as handle:  # noqa: PTH123 - str paths of the scan
            data = handle.read(info.size + 1 if info.size else 65536) or b""
            while info.size < len(data) <= MAX_FILE_BYTES:  # grew since the stat: read on
                chunk = handle.read(min(65536, MAX_FILE_BYTES + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        return PhaseText(None, f"{info.filename}: cannot be read ({_os_reason(exc)})")
    if len(data) > MAX_FILE_BYTES:
        return PhaseText(None, f"{info.filename}: over the 2 MB limit, skipped")
    try:
        return PhaseText(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        problem = (
            f"{info.filename}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); shown with replacement characters"
        )
        return PhaseText(data.decode("utf-8", errors="replace"), problem)


@dataclass(frozen=True)
class SpecReading:
    """Everything read from one spec folder's files."""

    layout: SpecLayout
    phase_files: tuple[str, ...]
    status: SpecStatus
    status_raw: str | None
    status_source: str | None
    tasks: TaskCounts
    tasks_readable: bool
    last_modified_ns: int | None
    problems: tuple[str, ...]


def guess_layout(root: Path, name: str, phase_names: set[str]) -> SpecLayout:
    """Kiro for ``.kiro/specs``; spec-kit for ``spec.md``/``plan.md`` or ``NNN-name``; else docs."""
    if root.parts[-2:] == (".kiro", "specs"):
        return SpecLayout.KIRO
    if phase_names & {"spec.md", "plan.md"} or _SPEC_KIT_NAME.match(name):
        return SpecLayout.SPEC_KIT
    return SpecLayout.DOCS


def _find_status(
    texts: list[tuple[str, str]], problems: list[str]
) -> tuple[str | None, str | None]:
    """(raw status, where it came from): front matter in any file first, then a ``**Status:**``
    line in a file's header (a requirement's or a task's own status further down is not it)."""
    bodies: list[tuple[str, str, int]] = []
    found: tuple[str, str] | None = None
    for filename, text in texts:
        front = parse_front_matter(text)
        if front.problem:
            problems.append(f"{filename}: {front.problem}")
        status = front.values.get("status", "").strip()
        if status and found is None:
            found = (status, f"front matter of {filename}")
        bodies.append((filename, text, front.body_start))
    if found is not None:
        return found
    for filename, text, body_start in bodies:
        spots = header_status_lines(text, body_start)
        if spots:
            return spots[0].value, f"{filename} line {spots[0].line}"
    return None, None


def read_spec_files(folder: Path, root: Path, stats: tuple[FileStat, ...]) -> SpecReading:
    """Read a spec's phase files (``stats`` in reading order) into a :class:`SpecReading`."""
    problems: list[str] = []
    texts: list[tuple[str, str]] = []
    tasks = TaskCounts()
    tasks_readable = False
    for info in stats:
        phase = read_phase_text(f"{folder}/{info.filename}", info)
        if phase.problem:
            problems.append(phase.problem)
        if phase.text is None:
            continue
        texts.append((info.filename, phase.text))
        if info.name == "tasks.md":
            tasks = count_text_tasks(phase.text)
            tasks_readable = True
    raw, source = _find_status(texts, problems)
    mtimes = [s.mtime_ns for s in stats if s.error is None]
    return SpecReading(
        layout=guess_layout(root, folder.name, {s.name for s in stats}),
        phase_files=tuple(s.filename for s in stats),
        status=normalise_status(raw),
        status_raw=raw,
        status_source=source,
        tasks=tasks,
        tasks_readable=tasks_readable,
        last_modified_ns=max(mtimes) if mtimes else None,
        problems=tuple(problems),
    )

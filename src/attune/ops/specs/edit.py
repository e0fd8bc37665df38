"""Changing a spec's status in place ("Mark complete"), previewed first.

The rewrite touches only the status value — the front matter ``status:`` value or the header's
``**Status:**`` line the listing reads — and keeps every other byte. It writes a temporary file
next to the original and renames it over (keeping the file mode), and refuses (409) whenever it
cannot be sure: conflicting status values, a file that is not UTF-8, a symbolic link, a file
changed while being edited. A spec without any status gets one inserted in its first phase file:
a ``status:`` line in existing front matter, else a ``**Status:**`` line under the title.

:func:`plan_spec_status` works the change out without writing (file, line, old and new line,
exact bytes before and after); :func:`set_spec_status` writes it, optionally only if it is
still the change a preview showed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from attune.ops.config import Config
from attune.ops.errors import (
    InvalidStatusValue,
    StatusNotRewritable,
    StatusPreviewStale,
)
from attune.ops.specs.paths import phase_files, resolve_spec_path
from attune.ops.specs.status import (
    SpecStatus,
    StatusSpot,
    header_status_lines,
    normalise_status,
    parse_front_matter,
)

__all__ = [
    "MAX_EDIT_BYTES",
    "FileEdit",
    "LineChange",
    "StatusChange",
    "StatusPlan",
    "apply_status_plan",
    "plan_spec_status",
    "replace_file",
    "set_spec_status",
]

MAX_EDIT_BYTES = 2 * 1024 * 1024  # the listing's limit too: larger files are never read
_VALUE_RE = re.compile(r"^[^\W_][^\"'#|*\\`<>\[\]{}:\x00-\x1f\x7f]{0,79}$")
_HEADING_RE = re.compile(r"^#{1,6}(?:[ \t]|$)")


@dataclass(frozen=True)
class LineChange:
    """One line a status change rewrites (``old`` is None for an inserted line)."""

    line: int  # 1-based, in the file as it is before (for an insertion: where the line goes)
    old: str | None
    new: str


@dataclass(frozen=True)
class FileEdit:
    """One file of a status change: its exact bytes before and after."""

    filename: str
    path: Path
    before: bytes
    after: bytes
    lines: tuple[LineChange, ...]
    stat: tuple[int, int, int]  # (mtime_ns, size, inode) when it was read


@dataclass(frozen=True)
class StatusPlan:
    """A status change worked out but not written: what "Mark complete" asks to confirm."""

    path: str
    previous: str | None
    status: str  # the text written, e.g. "✅ Complete" where the old value had an emoji
    normalised: SpecStatus
    inserted: bool
    edits: tuple[FileEdit, ...]

    @property
    def file(self) -> str:
        return self.edits[0].filename

    @property
    def digest(self) -> str:
        """Names the exact change (files, bytes before and after): the confirm must match it."""
        h = hashlib.sha256()
        for edit in self.edits:
            for part in (edit.filename.encode(), edit.before, edit.after):
                h.update(len(part).to_bytes(8, "big"))
                h.update(part)
        return h.hexdigest()[:24]


@dataclass(frozen=True)
class StatusChange:
    """What ``set_spec_status`` changed."""

    path: str
    file: str
    previous: str | None
    status: str
    normalised: SpecStatus
    inserted: bool
    edits: tuple[FileEdit, ...] = ()


@dataclass(frozen=True)
class _Source:
    filename: str
    path: Path
    text: str | None  # None when it cannot be read; replacement-decoded when not UTF-8
    why_not: str | None  # why it cannot be rewritten
    st: os.stat_result | None


def _load(folder: Path, filename: str) -> _Source:
    path = folder / filename
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_EDIT_BYTES:
            return _Source(filename, path, None, "not a regular file under 2 MB", None)
        data = path.read_bytes()
    except OSError as exc:
        return _Source(filename, path, None, f"cannot be read ({exc.strerror})", None)
    try:
        return _Source(filename, path, data.decode("utf-8"), None, st)
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        return _Source(filename, path, text, "not valid UTF-8", st)


def _styled(value: str, previous: str) -> str:
    """Match the previous value's style in a Markdown line: capital letter, leading ✅."""
    first_letter = next((c for c in previous if c.isalpha()), "")
    styled = value[0].upper() + value[1:] if first_letter.isupper() else value
    lead = previous.split()[0] if previous.split() else ""
    emoji_lead = bool(lead) and not any(c.isalnum() for c in lead)
    if emoji_lead and normalise_status(value) is SpecStatus.COMPLETE:
        styled = f"✅ {styled}"
    return styled


def _targets(sources: list[_Source]) -> tuple[list[tuple[_Source, list[StatusSpot]]], bool]:
    """The status spots to rewrite, and whether they are front matter ones."""
    front: list[tuple[_Source, list[StatusSpot]]] = []
    for src in sources:
        if src.text is None:
            continue
        fm = parse_front_matter(src.text)
        spot = fm.spots.get("status")
        if fm.present and spot is not None and spot.value.strip():
            front.append((src, [spot]))
    if front:
        values = {spots[0].value.strip().lower() for _, spots in front}
        if len(values) > 1:
            where = ", ".join(f"{s.filename} ({spots[0].value})" for s, spots in front)
            raise StatusNotRewritable(f"The front matter statuses disagree: {where}.")
        return front, True
    for src in sources:
        if src.text is None:
            continue
        fm = parse_front_matter(src.text)
        spots = header_status_lines(src.text, fm.body_start)
        if spots:
            if len({s.value.strip().lower() for s in spots}) > 1:
                lines = ", ".join(str(s.line) for s in spots)
                raise StatusNotRewritable(
                    f"{src.filename} has conflicting **Status:** lines (lines {lines}); "
                    "edit it by hand."
                )
            return [(src, spots)], False
    return [], False


def _inserted(text: str, value: str) -> tuple[str, str, int]:
    """(``text`` with a status added, the value written, its line): in its front matter if it
    has one, else as a ``**Status:**`` line under its title."""
    eol = "\r\n" if "\r\n" in text else "\n"
    fm = parse_front_matter(text)
    if fm.present and fm.problem is None:
        close = text.rfind("\n", 0, fm.body_start - 1) + 1  # start of the closing '---' line
        added = f"{text[:close]}status: {value}{eol}{text[close:]}"
        return added, value, text.count("\n", 0, close) + 1
    shown = f"{value[0].upper()}{value[1:]}"
    line = f"**Status:** {shown}"
    body = text[fm.body_start :] if fm.present else text
    head = text[: len(text) - len(body)]
    head_lines = head.count("\n")
    first_end = body.find("\n")
    first = body if first_end == -1 else body[:first_end]
    if _HEADING_RE.match(first.lstrip("\ufeff")):
        rest = "" if first_end == -1 else body[first_end + 1 :]
        sep = eol if first_end == -1 else body[len(first) : first_end + 1]
        return f"{head}{first}{sep}{eol}{line}{eol}{rest}", shown, head_lines + 3
    bom = "\ufeff" if body.startswith("\ufeff") else ""
    return f"{head}{bom}{line}{eol}{eol}{body[len(bom) :]}", shown, head_lines + 1


def _line_at(text: str, number: int) -> str:
    """Line ``number`` (1-based) of ``text``, without its line break or a leading BOM."""
    return text.split("\n", number)[number - 1].rstrip("\r").lstrip("\ufeff")


def _edit(src: _Source, text: str, lines: list[LineChange]) -> FileEdit:
    assert src.st is not None and src.text is not None
    st = (src.st.st_mtime_ns, src.st.st_size, src.st.st_ino)
    before = src.text.encode("utf-8")
    return FileEdit(src.filename, src.path, before, text.encode("utf-8"), tuple(lines), st)


def replace_file(path: Path, filename: str, data: bytes, expected: tuple[int, int, int]) -> None:
    """Replace ``path`` with ``data`` via a temp file + rename, if its stat is still ``expected``
    ((mtime_ns, size, inode)); keeps the file's mode and owner. Raises StatusNotRewritable."""
    if path.is_symlink():
        raise StatusNotRewritable(f"{filename} is a symbolic link; edit its target by hand.")
    try:
        now = path.stat()
    except OSError as exc:
        raise StatusNotRewritable(f"{filename} vanished while being edited.") from exc
    if (now.st_mtime_ns, now.st_size, now.st_ino) != expected:
        raise StatusNotRewritable(f"{filename} changed while being edited; try again.")
    if now.st_nlink > 1:
        raise StatusNotRewritable(f"{filename} has other hard links; edit it by hand.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StatusNotRewritable(f"cannot write next to {filename}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), stat.S_IMODE(now.st_mode))
            with contextlib.suppress(OSError):
                os.fchown(handle.fileno(), now.st_uid, now.st_gid)
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise StatusNotRewritable(f"cannot rewrite {filename}: {exc.strerror}") from exc


def plan_spec_status(config: Config, path: str, status: str) -> StatusPlan:
    """Work out the change ``set_spec_status`` would make, writing nothing (its dry run).

    Raises what it raises: InvalidPath (400), InvalidStatusValue (400), StatusNotRewritable
    (409). Example: ``plan_spec_status(config, "docs/specs/auth", "complete").edits``.
    """
    value = status.strip()
    if not _VALUE_RE.match(value):
        raise InvalidStatusValue(
            "A status is one line of up to 80 letters, digits, spaces and - . , ( ) / +.",
            status=status[:100],
        )
    folder, shown = resolve_spec_path(config, path)
    sources = [_load(folder, name) for name in phase_files(folder)]
    targets, in_front = _targets(sources)
    if not targets:
        return _plan_insert(sources, shown, value)
    previous = targets[0][1][0].value
    written = value if in_front else _styled(value, previous)
    edits: list[FileEdit] = []
    for src, spots in targets:
        if src.text is None or src.why_not is not None:
            raise StatusNotRewritable(f"{src.filename} is {src.why_not}; edit it by hand.")
        text = src.text
        for spot in sorted(spots, key=lambda s: s.start, reverse=True):
            new = value if in_front else _styled(value, spot.value)
            text = text[: spot.start] + new + text[spot.end :]
        lines = [
            LineChange(s.line, _line_at(src.text, s.line), _line_at(text, s.line)) for s in spots
        ]
        edits.append(_edit(src, text, lines))
    return StatusPlan(shown, previous, written, normalise_status(value), False, tuple(edits))


def _plan_insert(sources: list[_Source], shown: str, value: str) -> StatusPlan:
    for src in sources:
        if src.text is None:
            continue
        if src.why_not is not None:
            raise StatusNotRewritable(
                f"{src.filename} is {src.why_not}, so no status can be added safely."
            )
        text, written, line = _inserted(src.text, value)
        edit = _edit(src, text, [LineChange(line, None, _line_at(text, line))])
        return StatusPlan(shown, None, written, normalise_status(value), True, (edit,))
    raise StatusNotRewritable("No phase file of this spec can be rewritten safely.")


def apply_status_plan(plan: StatusPlan) -> StatusChange:
    """Write a planned change: every file is checked unchanged first, then each is replaced."""
    for edit in plan.edits:
        try:
            st = edit.path.stat()
        except OSError as exc:
            raise StatusNotRewritable(f"{edit.filename} vanished; try again.") from exc
        if (st.st_mtime_ns, st.st_size, st.st_ino) != edit.stat:
            raise StatusNotRewritable(f"{edit.filename} changed while being edited; try again.")
    for edit in plan.edits:
        replace_file(edit.path, edit.filename, edit.after, edit.stat)
    return StatusChange(
        plan.path,
        plan.file,
        plan.previous,
        plan.status,
        plan.normalised,
        plan.inserted,
        plan.edits,
    )


def set_spec_status(
    config: Config, path: str, status: str, *, expect: str | None = None
) -> StatusChange:
    """Rewrite the status of the spec folder ``path`` to ``status``, in place.

    ``expect`` is the ``digest`` of a previewed plan: when given, the change is written only if
    it is still exactly that one (else StatusPreviewStale, 409). Example:
    ``set_spec_status(config, "docs/specs/auth", "complete")``. Raises InvalidPath (400),
    InvalidStatusValue (400) or StatusNotRewritable (409); never leaves a half-written file.
    """
    plan = plan_spec_status(config, path, status)
    if expect is not None and plan.digest != expect:
        raise StatusPreviewStale(
            f"{plan.file} changed since the preview; look at the change again before confirming."
        )
    return apply_status_plan(plan)

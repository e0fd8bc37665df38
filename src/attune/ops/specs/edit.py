"""Changing a spec's status in place ("Mark complete"), and checking that a path is a spec.

The rewrite touches only the status value — the front matter ``status:`` value or the header's
``**Status:**`` line the listing reads — and keeps every other byte. It writes a temporary file
next to the original and renames it over (keeping the file mode), and refuses (409) whenever it
cannot be sure: conflicting status values, a file that is not UTF-8, a symbolic link, a file
changed while being edited. A spec without any status gets one inserted in its first phase file:
a ``status:`` line in existing front matter, else a ``**Status:**`` line under the title.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from attune.ops.config import Config
from attune.ops.errors import InvalidPath, InvalidStatusValue, StatusNotRewritable
from attune.ops.specs.files import PHASE_FILES, PHASE_NAMES
from attune.ops.specs.index import ARCHIVE_DIRS
from attune.ops.specs.listing import display_path
from attune.ops.specs.status import (
    SpecStatus,
    StatusSpot,
    header_status_lines,
    normalise_status,
    parse_front_matter,
)

__all__ = [
    "StatusChange",
    "resolve_spec_path",
    "set_spec_status",
]

_VALUE_RE = re.compile(r"^[^\W_][^\"'#|*\\`<>\[\]{}:\x00-\x1f\x7f]{0,79}$")
_HEADING_RE = re.compile(r"^#{1,6}(?:[ \t]|$)")


@dataclass(frozen=True)
class StatusChange:
    """What ``set_spec_status`` changed."""

    path: str
    file: str
    previous: str | None
    status: str  # the text written, e.g. "✅ Complete" where the old value had an emoji
    normalised: SpecStatus
    inserted: bool


def resolve_spec_path(config: Config, path: str) -> tuple[Path, str]:
    """(real folder, canonical display path) of a spec folder under a root, else InvalidPath.

    ``path`` is relative to the project root (or absolute). Real paths are compared, so ``..``
    and symbolic links cannot reach outside the roots.
    """
    if not path or "\x00" in path or len(path) > 4096:
        raise InvalidPath("The path is empty or not a valid path.", path=path[:200])
    given = Path(path).expanduser()
    candidate = given if given.is_absolute() else config.project_root / given
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise InvalidPath(f"{path} does not exist.", path=path) from exc
    if real.is_dir() and _phase_files(real):
        for root in config.specs_roots:
            try:
                real_root = root.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            inside = _spec_place(real, real_root)
            if inside is not None:
                return real, display_path(root.joinpath(*inside), config.project_root)
    raise InvalidPath(f"{path} is not a spec folder under the specs roots.", path=path)


def _spec_place(real: Path, real_root: Path) -> tuple[str, ...] | None:
    """The parts of ``real`` below ``real_root`` when the index lists it as a spec, else None.

    That is ``name``, ``<archive>/name``, and one level deeper under a grouping folder (one
    without phase files): ``group/name``, ``<archive>/group/name``.
    """
    try:
        parts = real.relative_to(real_root).parts
    except ValueError:
        return None
    archived = bool(parts) and parts[0].lower() in ARCHIVE_DIRS
    inner = parts[1:] if archived else parts
    if not 1 <= len(inner) <= 2:
        return None
    if len(inner) == 2 and _phase_files(real.parent):
        return None  # the parent is a spec itself: its sub-folders are not specs
    return parts


def _phase_files(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries]
    except OSError:
        return []
    found = {PHASE_NAMES[n.lower()]: n for n in names if n.lower() in PHASE_NAMES}
    return [found[p] for p in PHASE_FILES if p in found]


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
        if not stat.S_ISREG(st.st_mode) or st.st_size > 2 * 1024 * 1024:
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


def _inserted(text: str, value: str) -> tuple[str, str]:
    """(``text`` with a status added, the value written): in its front matter if it has one,
    else as a ``**Status:**`` line under its title."""
    eol = "\r\n" if "\r\n" in text else "\n"
    fm = parse_front_matter(text)
    if fm.present and fm.problem is None:
        close = text.rfind("\n", 0, fm.body_start - 1) + 1  # start of the closing '---' line
        return f"{text[:close]}status: {value}{eol}{text[close:]}", value
    shown = f"{value[0].upper()}{value[1:]}"
    line = f"**Status:** {shown}"
    body = text[fm.body_start :] if fm.present else text
    head = text[: len(text) - len(body)]
    first_end = body.find("\n")
    first = body if first_end == -1 else body[:first_end]
    if _HEADING_RE.match(first.lstrip("\ufeff")):
        rest = "" if first_end == -1 else body[first_end + 1 :]
        sep = eol if first_end == -1 else body[len(first) : first_end + 1]
        return f"{head}{first}{sep}{eol}{line}{eol}{rest}", shown
    bom = "\ufeff" if body.startswith("\ufeff") else ""
    return f"{head}{bom}{line}{eol}{eol}{body[len(bom) :]}", shown


def _write_atomic(src: _Source, text: str) -> None:
    """Replace ``src.path`` with ``text`` via a temp file + rename, if it did not change."""
    if src.path.is_symlink():
        raise StatusNotRewritable(f"{src.filename} is a symbolic link; edit its target by hand.")
    assert src.st is not None
    try:
        now = src.path.stat()
    except OSError as exc:
        raise StatusNotRewritable(f"{src.filename} vanished while being edited.") from exc
    before = (src.st.st_mtime_ns, src.st.st_size, src.st.st_ino)
    if (now.st_mtime_ns, now.st_size, now.st_ino) != before:
        raise StatusNotRewritable(f"{src.filename} changed while being edited; try again.")
    if now.st_nlink > 1:
        raise StatusNotRewritable(f"{src.filename} has other hard links; edit it by hand.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{src.filename}.", suffix=".tmp", dir=src.path.parent)
    except OSError as exc:
        raise StatusNotRewritable(f"cannot write next to {src.filename}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fchmod(handle.fileno(), stat.S_IMODE(now.st_mode))
            with contextlib.suppress(OSError):
                os.fchown(handle.fileno(), now.st_uid, now.st_gid)
            os.fsync(handle.fileno())
        Path(tmp).replace(src.path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise StatusNotRewritable(f"cannot rewrite {src.filename}: {exc.strerror}") from exc


def set_spec_status(config: Config, path: str, status: str) -> StatusChange:
    """Rewrite the status of the spec folder ``path`` to ``status``, in place.

    Example: ``set_spec_status(config, "docs/specs/auth", "complete")``. Raises InvalidPath
    (400), InvalidStatusValue (400) or StatusNotRewritable (409); never leaves a half-written file.
    """
    value = status.strip()
    if not _VALUE_RE.match(value):
        raise InvalidStatusValue(
            "A status is one line of up to 80 letters, digits, spaces and - . , ( ) / +.",
            status=status[:100],
        )
    folder, shown = resolve_spec_path(config, path)
    sources = [_load(folder, name) for name in _phase_files(folder)]
    targets, in_front = _targets(sources)
    if not targets:
        return _insert_status(sources, shown, value)
    previous = targets[0][1][0].value
    written = value if in_front else _styled(value, previous)
    for src, spots in targets:
        if src.text is None or src.why_not is not None:
            raise StatusNotRewritable(f"{src.filename} is {src.why_not}; edit it by hand.")
        text = src.text
        for spot in sorted(spots, key=lambda s: s.start, reverse=True):
            new = value if in_front else _styled(value, spot.value)
            text = text[: spot.start] + new + text[spot.end :]
        _write_atomic(src, text)
    return StatusChange(
        shown, targets[0][0].filename, previous, written, normalise_status(value), False
    )


def _insert_status(sources: list[_Source], shown: str, value: str) -> StatusChange:
    for src in sources:
        if src.text is None:
            continue
        if src.why_not is not None:
            raise StatusNotRewritable(
                f"{src.filename} is {src.why_not}, so no status can be added safely."
            )
        text, written = _inserted(src.text, value)
        _write_atomic(src, text)
        return StatusChange(shown, src.filename, None, written, normalise_status(value), True)
    raise StatusNotRewritable("No phase file of this spec can be rewritten safely.")

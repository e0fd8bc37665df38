"""A spec's status: where it is written, what it says, and what it means.

Two places hold a status: YAML front matter (``status: in-progress`` between ``---`` lines at the
top of a phase file, parsed here as simple ``key: value`` lines, no YAML library needed) and a
Markdown line ``**Status:** x`` / ``**Status**: x`` in the file's header — before its first ``##``
heading (or a second title, or the first task checkbox). Real specs also give each requirement or
task its own ``**Status:**`` further down; those describe a part, never the spec. Raw text such
as "✅ Complete", "🔄 In Progress" or "Requirements Phase" is normalised to a
:class:`SpecStatus`, keeping the raw text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from attune.ops.specs.tasks import masked_lines

__all__ = [
    "CLOSED_STATUSES",
    "FrontMatter",
    "FrontMatterItem",
    "SpecStatus",
    "StatusSpot",
    "find_status_lines",
    "front_matter_items",
    "header_end",
    "header_status_lines",
    "normalise_status",
    "parse_front_matter",
]


class SpecStatus(StrEnum):
    """The normalised status of a spec."""

    DRAFT = "draft"
    PLANNED = "planned"
    IN_PROGRESS = "in-progress"
    IN_REVIEW = "in-review"
    BLOCKED = "blocked"
    COMPLETE = "complete"
    SUPERSEDED = "superseded"
    ARCHIVED = "archived"
    UNKNOWN = "unknown"  # a status is written but its words are not recognised
    NONE = "none"  # no status written anywhere


# A spec in one of these is closed: never a completion candidate.
CLOSED_STATUSES = frozenset({SpecStatus.COMPLETE, SpecStatus.SUPERSEDED, SpecStatus.ARCHIVED})

# Keyword → status; the keyword found EARLIEST in the text wins ("In progress, phase 1 complete"
# is in progress; "Complete — phase 3 done" is complete). Multi-word phrases are listed first so
# "not started" is not read as "started".
_KEYWORDS: tuple[tuple[str, SpecStatus], ...] = (
    ("implementation complete", SpecStatus.COMPLETE),
    ("implementation completed", SpecStatus.COMPLETE),
    ("implementation done", SpecStatus.COMPLETE),
    ("tasks complete", SpecStatus.COMPLETE),
    ("tasks completed", SpecStatus.COMPLETE),
    ("tasks done", SpecStatus.COMPLETE),
    ("ready for review", SpecStatus.IN_REVIEW),
    ("not started", SpecStatus.PLANNED),
    ("not yet started", SpecStatus.PLANNED),
    ("not complete", SpecStatus.IN_PROGRESS),
    ("not done", SpecStatus.IN_PROGRESS),
    ("partially complete", SpecStatus.IN_PROGRESS),
    ("partially done", SpecStatus.IN_PROGRESS),
    ("mostly complete", SpecStatus.IN_PROGRESS),
    ("on hold", SpecStatus.BLOCKED),
    ("in progress", SpecStatus.IN_PROGRESS),
    ("in review", SpecStatus.IN_REVIEW),
    ("under review", SpecStatus.IN_REVIEW),
    ("in development", SpecStatus.IN_PROGRESS),
    ("wip", SpecStatus.IN_PROGRESS),
    ("incomplete", SpecStatus.IN_PROGRESS),
    ("partial", SpecStatus.IN_PROGRESS),
    ("ongoing", SpecStatus.IN_PROGRESS),
    ("active", SpecStatus.IN_PROGRESS),
    ("started", SpecStatus.IN_PROGRESS),
    ("implementing", SpecStatus.IN_PROGRESS),
    ("implementation", SpecStatus.IN_PROGRESS),
    ("requirements", SpecStatus.IN_PROGRESS),
    ("design", SpecStatus.IN_PROGRESS),
    ("tasks", SpecStatus.IN_PROGRESS),
    ("phase", SpecStatus.IN_PROGRESS),
    ("testing", SpecStatus.IN_PROGRESS),
    ("review", SpecStatus.IN_REVIEW),
    ("blocked", SpecStatus.BLOCKED),
    ("paused", SpecStatus.BLOCKED),
    ("superseded", SpecStatus.SUPERSEDED),
    ("replaced", SpecStatus.SUPERSEDED),
    ("obsolete", SpecStatus.SUPERSEDED),
    ("deprecated", SpecStatus.SUPERSEDED),
    ("abandoned", SpecStatus.SUPERSEDED),
    ("cancelled", SpecStatus.SUPERSEDED),
    ("canceled", SpecStatus.SUPERSEDED),
    ("rejected", SpecStatus.SUPERSEDED),
    ("archived", SpecStatus.ARCHIVED),
    ("complete", SpecStatus.COMPLETE),
    ("completed", SpecStatus.COMPLETE),
    ("done", SpecStatus.COMPLETE),
    ("finished", SpecStatus.COMPLETE),
    ("shipped", SpecStatus.COMPLETE),
    ("released", SpecStatus.COMPLETE),
    ("implemented", SpecStatus.COMPLETE),
    ("delivered", SpecStatus.COMPLETE),
    ("merged", SpecStatus.COMPLETE),
    ("closed", SpecStatus.COMPLETE),
    ("draft", SpecStatus.DRAFT),
    ("proposed", SpecStatus.DRAFT),
    ("proposal", SpecStatus.DRAFT),
    ("idea", SpecStatus.DRAFT),
    ("rfc", SpecStatus.DRAFT),
    ("planned", SpecStatus.PLANNED),
    ("planning", SpecStatus.PLANNED),
    ("todo", SpecStatus.PLANNED),
    ("backlog", SpecStatus.PLANNED),
    ("approved", SpecStatus.PLANNED),
    ("accepted", SpecStatus.PLANNED),
    ("ready", SpecStatus.PLANNED),
    ("new", SpecStatus.PLANNED),
)
_EMOJI: tuple[tuple[str, SpecStatus], ...] = (
    ("✅", SpecStatus.COMPLETE),
    ("✔", SpecStatus.COMPLETE),
    ("☑", SpecStatus.COMPLETE),
    ("🎉", SpecStatus.COMPLETE),
    ("🚀", SpecStatus.COMPLETE),
    ("🔄", SpecStatus.IN_PROGRESS),
    ("🚧", SpecStatus.IN_PROGRESS),
    ("⏳", SpecStatus.IN_PROGRESS),
    ("🏗", SpecStatus.IN_PROGRESS),
    ("🔨", SpecStatus.IN_PROGRESS),
    ("👀", SpecStatus.IN_REVIEW),
    ("🔍", SpecStatus.IN_REVIEW),
    ("⛔", SpecStatus.BLOCKED),
    ("🛑", SpecStatus.BLOCKED),
    ("❌", SpecStatus.BLOCKED),
    ("⏸", SpecStatus.BLOCKED),
    ("📝", SpecStatus.DRAFT),
    ("📋", SpecStatus.PLANNED),
    ("🗄", SpecStatus.ARCHIVED),
    ("📦", SpecStatus.ARCHIVED),
)
_KEYWORD_RE = re.compile(
    r"\b(" + "|".join(re.escape(k).replace(r"\ ", r"[\s_-]+") for k, _ in _KEYWORDS) + r")\b",
    re.IGNORECASE,
)
_KEYWORD_STATUS = {re.sub(r"\s+", " ", k): v for k, v in _KEYWORDS}

_STATUS_LINE_RE = re.compile(
    r"^(?P<lead>[ \t]*(?:(?:[-*+]|>)[ \t]*)*\*\*status(?::\*\*|\*\*[ \t]*:)[ \t]*)"
    r"(?P<value>[^\r\n]*?)[ \t]*\r?$",
    re.IGNORECASE | re.MULTILINE,
)
# What ends a file's header: an ATX heading (the first ``#`` one is the title and does not), or a
# task checkbox (a task's own details are not the header's).
_HEADER_END_RE = re.compile(
    r"^(?:[ ]{0,3}(?P<hashes>#{1,6})(?:[ \t]|$)|[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\[[ xX~!-]\])",
    re.MULTILINE,
)
_FRONT_MATTER_KEY_RE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)[ \t]*:(?:[ \t]+|$)(?P<rest>.*)$")
_MAX_FRONT_MATTER_LINES = 200


def normalise_status(raw: str | None) -> SpecStatus:
    """The normalised status of ``raw`` text; ``NONE`` for no text, ``UNKNOWN`` if unrecognised."""
    if raw is None or not raw.strip():
        return SpecStatus.NONE
    best: tuple[int, SpecStatus] | None = None
    for emoji, status in _EMOJI:
        at = raw.find(emoji)
        if at != -1 and (best is None or at < best[0]):
            best = (at, status)
    match = _KEYWORD_RE.search(raw)
    if match and (best is None or match.start() < best[0]):
        words = re.sub(r"[\s_-]+", " ", match[1].lower())
        best = (match.start(), _KEYWORD_STATUS.get(words, SpecStatus.UNKNOWN))
    return SpecStatus.UNKNOWN if best is None else best[1]


@dataclass(frozen=True)
class StatusSpot:
    """Where a status value sits: 1-based line and the value's character span in the text."""

    line: int
    start: int
    end: int
    value: str
    quote: str = ""  # a quoted front matter value keeps its quotes on rewrite


@dataclass(frozen=True)
class FrontMatter:
    """The simple ``key: value`` front matter of a file (or the lack of it)."""

    present: bool
    values: dict[str, str]
    spots: dict[str, StatusSpot]
    body_start: int  # character offset of the first line after the closing ``---``
    body_first_line: int  # its 1-based line number
    problem: str | None = None


_NO_FRONT_MATTER = FrontMatter(False, {}, {}, 0, 1)


def _unquote(rest: str) -> tuple[str, int, int, str]:
    """(value, start, end, quote) of a front matter value, offsets relative to ``rest``."""
    stripped = rest.rstrip()
    if stripped[:1] in {'"', "'"}:
        quote = stripped[0]
        close = stripped.find(quote, 1)
        if close != -1:
            return stripped[1:close], 1, close, quote
    comment = re.search(r"[ \t]+#", stripped)
    end = comment.start() if comment else len(stripped)
    return stripped[:end].rstrip(), 0, len(stripped[:end].rstrip()), ""


def parse_front_matter(text: str) -> FrontMatter:
    """Top-level ``key: value`` pairs of the front matter; never raises."""
    offset = 1 if text.startswith("\ufeff") else 0
    first_end = text.find("\n", offset)
    if text[offset : first_end if first_end != -1 else None].rstrip("\r \t") != "---":
        return _NO_FRONT_MATTER
    values: dict[str, str] = {}
    spots: dict[str, StatusSpot] = {}
    pos, number, bad_line = first_end + 1, 1, None
    while pos <= len(text) and number <= _MAX_FRONT_MATTER_LINES and first_end != -1:
        end = text.find("\n", pos)
        end = len(text) if end == -1 else end
        line = text[pos:end].rstrip("\r")
        number += 1
        if line.rstrip() in {"---", "..."}:
            problem = (
                f"front matter line {bad_line} is not a 'key: value' line" if bad_line else None
            )
            return FrontMatter(True, values, spots, end + 1, number + 1, problem)
        match = _FRONT_MATTER_KEY_RE.match(line)
        if match:
            key = match["key"].lower()
            value, start, stop, quote = _unquote(match["rest"])
            base = pos + match.start("rest")
            if key not in values:
                values[key] = value
                spots[key] = StatusSpot(number, base + start, base + stop, value, quote)
        elif line.strip() and not line.lstrip().startswith(("#", "-")) and line[:1] not in " \t":
            bad_line = bad_line or number
        if end == len(text):
            break
        pos = end + 1
    return FrontMatter(False, {}, {}, 0, 1, "front matter opened with '---' is never closed")


def header_end(text: str, body_start: int = 0) -> int:
    """Where the header of ``text`` (starting at ``body_start``, after any front matter) ends.

    The header runs to the first ``##``-or-deeper heading, a second ``#`` heading, or the first
    task checkbox, whichever comes first, skipping lookalikes in code blocks; else to the end.
    """
    hidden: frozenset[int] | None = None
    seen_title = False
    for match in _HEADER_END_RE.finditer(text, body_start):
        if hidden is None:
            hidden = masked_lines(text)
        if hidden and text.count("\n", 0, match.start()) + 1 in hidden:
            continue
        if match["hashes"] == "#" and not seen_title:
            seen_title = True
            continue
        return match.start()
    return len(text)


def header_status_lines(text: str, body_start: int = 0) -> list[StatusSpot]:
    """The ``**Status:** x`` lines of the header of ``text`` (see :func:`header_end`)."""
    if "**" not in text:
        return []
    return find_status_lines(text, skip_until=body_start, stop_at=header_end(text, body_start))


def find_status_lines(
    text: str, *, skip_until: int = 0, stop_at: int | None = None
) -> list[StatusSpot]:
    """Every ``**Status:** x`` line outside code blocks between ``skip_until`` and ``stop_at``."""
    if "**" not in text:
        return []
    hidden: frozenset[int] | None = None
    spots: list[StatusSpot] = []
    line, counted_to = 1, 0
    end = len(text) if stop_at is None else stop_at
    for match in _STATUS_LINE_RE.finditer(text, skip_until, end):
        line += text.count("\n", counted_to, match.start())
        counted_to = match.start()
        if hidden is None:
            hidden = masked_lines(text)
        if line in hidden:
            continue
        value = match["value"]
        # "**Status:** Draft | **Owner:** Ann" — the status is only the part before the next field.
        cut = min((i for i in (value.find("|"), value.find("**")) if i != -1), default=len(value))
        value = value[:cut].rstrip()
        if value:
            begin = match.start("value")
            spots.append(StatusSpot(line, begin, begin + len(value), value))
    return spots


@dataclass(frozen=True)
class FrontMatterItem:
    """One top-level key of the front matter, as a page shows it."""

    key: str  # as written (the values of :class:`FrontMatter` are keyed in lower case)
    value: str  # quotes and a trailing comment removed; "" when the value is a block below
    items: tuple[str, ...] = ()  # the "- x" entries of a list under the key
    block: str = ""  # any other lines under the key, as written


def front_matter_items(text: str) -> tuple[list[FrontMatterItem], int] | None:
    """(the keys of the front matter in order, where the body starts), or ``None`` without one.

    Only front matter that :func:`parse_front_matter` accepts (closed) is split out, so what a
    page shows as metadata is exactly what the status is read from.
    """
    front = parse_front_matter(text)
    if not front.present:
        return None
    start = text.find("\n") + 1
    close = text.rfind("\n", 0, max(front.body_start - 1, 0)) + 1
    entries: list[tuple[str, str, list[str]]] = []
    for line in text[start:close].splitlines():
        match = _FRONT_MATTER_KEY_RE.match(line.rstrip())
        if match:
            entries.append((match["key"], _unquote(match["rest"])[0], []))
        elif entries and line.strip() and not line.startswith("#"):
            entries[-1][2].append(line.rstrip())
    return [_item(key, value, lines) for key, value, lines in entries], front.body_start


def _item(key: str, value: str, lines: list[str]) -> FrontMatterItem:
    listed = [line.strip() for line in lines]
    if listed and all(line == "-" or line.startswith("- ") for line in listed):
        return FrontMatterItem(key, value, tuple(line[2:].strip() for line in listed))
    return FrontMatterItem(key, value, block="\n".join(lines))

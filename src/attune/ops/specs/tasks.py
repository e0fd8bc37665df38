"""Task checkboxes in a spec's ``tasks.md``: every mark real repositories use, read right.

``[x]``/``[X]`` done, ``[ ]`` open, ``[-]``/``[~]`` in progress, ``[!]`` blocked (both still open),
Kiro's optional ``- [ ]*`` (or ``- [ ]\\*``, escaped) counted apart (never blocks completion),
spec-kit lines such as ``- [X] T012 [P] [US1] …`` are ordinary tasks, and its legend line
``- [P] tasks = …`` is not one.
Nested items count; checkboxes inside fenced code blocks or HTML comments do not.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Task",
    "TaskCounts",
    "TaskState",
    "count_tasks",
    "count_text_tasks",
    "iter_code_mask",
    "masked_lines",
    "parse_tasks",
]


class TaskState(StrEnum):
    DONE = "done"
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    BLOCKED = "blocked"


_MARKS = {
    "x": TaskState.DONE,
    "X": TaskState.DONE,
    " ": TaskState.OPEN,
    "-": TaskState.IN_PROGRESS,
    "~": TaskState.IN_PROGRESS,
    "!": TaskState.BLOCKED,
}

# A list item (bullet or ordered) whose content starts with a one-character checkbox. The
# optional ``*`` right after the box is Kiro's "optional task" marker, which Kiro also writes
# Markdown-escaped as ``\\*``.
_TASK_RE = re.compile(
    r"^(?P<indent>[ \t]*)(?:[-*+]|\d{1,9}[.)])[ \t]+\[(?P<mark>[ xX~!-])\](?P<optional>\\?\*)?"
    r"(?:[ \t]+(?P<text>[^\r\n]*))?\r?$",
    re.MULTILINE,
)
# The same lines as _TASK_RE, captured as (mark, optional star, legend start) for counting.
_COUNT_RE = re.compile(
    r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\[([ xX~!-])\]((?:\\?\*)?)"
    r"(?:[ \t]+(=|:|(?i:means\b)|(?i:tasks?[ \t]*=))?[^\r\n]*)?\r?$",
    re.MULTILINE,
)
_FENCE_RE = re.compile(r"^[ \t]*(?:>[ \t]?)*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# Legend lines explain the marks instead of being tasks: "- [ ] = not started", "- [x] means done".
_LEGEND_RE = re.compile(r"^(?:=|:|means\b|tasks?\s*=)", re.IGNORECASE)


@dataclass(frozen=True)
class Task:
    """One checkbox line of ``tasks.md``."""

    line: int
    depth: int
    state: TaskState
    optional: bool
    text: str

    @property
    def done(self) -> bool:
        return self.state is TaskState.DONE


@dataclass(frozen=True)
class TaskCounts:
    """Required tasks (``total``/``done``/…) and optional ones, counted apart."""

    total: int = 0
    done: int = 0
    in_progress: int = 0
    blocked: int = 0
    optional_total: int = 0
    optional_done: int = 0

    @property
    def open(self) -> int:
        """Required tasks not done (in progress and blocked included)."""
        return self.total - self.done

    @property
    def all_done(self) -> bool:
        """At least one required task, and every required task done."""
        return self.total > 0 and self.done == self.total


def iter_code_mask(lines: list[str]) -> list[bool]:
    """For each line, True when it sits inside a fenced code block or an HTML comment."""
    mask: list[bool] = []
    fence: str | None = None
    in_comment = False
    for line in lines:
        if fence is not None:
            mask.append(True)
            stripped = line.strip().lstrip("> \t")
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                fence = None
            continue
        if in_comment:
            mask.append(True)
            in_comment = "-->" not in line
            continue
        match = _FENCE_RE.match(line)
        if match and not (match["fence"][0] == "`" and "`" in match["info"]):
            fence = match["fence"]
            mask.append(True)
            continue
        start = line.find("<!--")
        if start != -1 and "-->" not in line[start + 4 :]:
            # The comment runs on: later lines are hidden; this one only if it opens with it.
            mask.append(line.lstrip().startswith("<!--"))
            in_comment = True
            continue
        mask.append(False)
    return mask


def _depth(indent: str) -> int:
    width = len(indent.expandtabs(4))
    return width // 2


def masked_lines(text: str) -> frozenset[int]:
    """1-based numbers of the lines inside fenced code or HTML comments (fast when none)."""
    if "```" not in text and "~~~" not in text and "<!--" not in text:
        return frozenset()
    mask = iter_code_mask(text.split("\n"))
    return frozenset(number for number, hidden in enumerate(mask, 1) if hidden)


def _task_matches(text: str) -> Iterator[tuple[int, re.Match[str]]]:
    """(line number, match) of every checkbox line outside code and comments, legends left out."""
    hidden = masked_lines(text)
    line, counted_to = 1, 0
    for match in _TASK_RE.finditer(text):
        line += text.count("\n", counted_to, match.start())
        counted_to = match.start()
        body = match["text"]
        if line in hidden or (body and _LEGEND_RE.match(body)):
            continue
        yield line, match


def parse_tasks(text: str) -> list[Task]:
    """Every task of a ``tasks.md`` text, in order. Never raises on any text."""
    return [
        Task(
            line=line,
            depth=_depth(match["indent"]),
            state=_MARKS[match["mark"]],
            optional=match["optional"] is not None,
            text=(match["text"] or "").rstrip(" \t"),
        )
        for line, match in _task_matches(text)
    ]


def count_text_tasks(text: str) -> TaskCounts:
    """``count_tasks(parse_tasks(text))``, computed without building task objects.

    The listing counts a hundred thousand tasks cold, so the common case (no code fences or
    comments) tallies ``findall`` tuples in C; any fenced text takes the line-aware path.
    """
    if masked_lines(text):
        return count_tasks(parse_tasks(text))
    total = done = in_progress = blocked = optional_total = optional_done = 0
    for (mark, optional, legend), n in Counter(_COUNT_RE.findall(text)).items():
        if legend:
            continue
        state = _MARKS[mark]
        if optional:
            optional_total += n
            optional_done += n if state is TaskState.DONE else 0
            continue
        total += n
        done += n if state is TaskState.DONE else 0
        in_progress += n if state is TaskState.IN_PROGRESS else 0
        blocked += n if state is TaskState.BLOCKED else 0
    return TaskCounts(total, done, in_progress, blocked, optional_total, optional_done)


def count_tasks(tasks: list[Task]) -> TaskCounts:
    """Counts of required and optional tasks by state."""
    total = done = in_progress = blocked = optional_total = optional_done = 0
    for task in tasks:
        if task.optional:
            optional_total += 1
            optional_done += task.done
            continue
        total += 1
        done += task.done
        in_progress += task.state is TaskState.IN_PROGRESS
        blocked += task.state is TaskState.BLOCKED
    return TaskCounts(total, done, in_progress, blocked, optional_total, optional_done)

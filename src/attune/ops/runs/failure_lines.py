"""Where in a run's log each failed test printed its failure, so the Tests tab can link there.

Read once, after the run, over the stored log. pytest prints a failure under a header such as
``____ test_name ____`` (``TestClass.test_name``, ``ERROR at setup of test_name``) and names it
again in its short summary (``FAILED tests/test_x.py::test_name - …``); jest marks it with
``● Suite › test name``. The header wins (it is where the traceback is), then the summary, then
jest's mark; a test found in none of them has no line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from attune.ops.runs.ansi import strip_ansi
from attune.ops.store.tests import FAILING, CaseRow

__all__ = ["MAX_SCANNED_LINES", "find_failure_lines"]

MAX_SCANNED_LINES = 2_000_000
HEADER_RE = re.compile(r"^_{3,} (.+?) _{3,}$")
SUMMARY_RE = re.compile(r"^(?:FAILED|ERROR) (\S+)")
JEST_MARK = "● "


def find_failure_lines(lines: Iterable[tuple[int, str]], cases: Sequence[CaseRow]) -> list[CaseRow]:
    """``cases`` with ``log_line`` set for the failed and errored ones found in ``lines``."""
    wanted = [i for i, c in enumerate(cases) if c.status in FAILING]
    if not wanted:
        return list(cases)
    headers: dict[str, int] = {}
    summaries: dict[str, list[tuple[str, int]]] = {}
    marks: list[tuple[str, int]] = []
    for count, (seq, raw) in enumerate(lines):
        if count >= MAX_SCANNED_LINES:
            break
        text = strip_ansi(raw).strip() if "\x1b" in raw else raw.strip()
        if text.startswith("___"):
            match = HEADER_RE.match(text)
            if match:
                headers.setdefault(match.group(1), seq)
        elif text.startswith(("FAILED ", "ERROR ")):
            match = SUMMARY_RE.match(text)
            if match:
                node = match.group(1)
                summaries.setdefault(node.rsplit("::", 1)[-1], []).append((node, seq))
        elif JEST_MARK in text:
            marks.append((text, seq))
    out = list(cases)
    for i in wanted:
        case = cases[i]
        line = _header(headers, case) or _summary(summaries, case) or _mark(marks, case)
        out[i] = case._replace(log_line=line)
    return out


def _header(headers: dict[str, int], case: CaseRow) -> int | None:
    cls = case.classname.rsplit(".", 1)[-1]
    for title in (
        f"{cls}.{case.name}",
        case.name,
        f"ERROR at setup of {case.name}",
        f"ERROR at teardown of {case.name}",
    ):
        if title in headers:
            return headers[title]
    return None


def _summary(summaries: dict[str, list[tuple[str, int]]], case: CaseRow) -> int | None:
    found = summaries.get(case.name)
    if not found:
        return None
    if len(found) == 1:
        return found[0][1]
    dotted = case.classname.replace("/", ".")
    for node, seq in found:  # tests/test_x.py::TestK::test_a is classname tests.test_x.TestK
        path = node.rsplit("::", 1)[0].replace(".py", "").replace("/", ".").replace("::", ".")
        if path == dotted:
            return seq
    return found[0][1]


def _mark(marks: list[tuple[str, int]], case: CaseRow) -> int | None:
    if len(case.name) < 4:
        return None
    return next((seq for text, seq in marks if case.name in text), None)

"""JUnit XML reports read as a stranger's file: every test case, never an entity resolved.

The XML goes through ``defusedxml`` with DTDs forbidden outright, so a billion-laughs bomb or an
external entity (``<!ENTITY x SYSTEM "file:///etc/passwd">``) stops the parse at its
``<!DOCTYPE`` instead of expanding or fetching anything; a JUnit report never needs a DTD. The
file is parsed incrementally and each ``<testcase>`` read through ``junitparser``'s
:class:`~junitparser.TestCase` (its results: ``Failure``, ``Error``, ``Skipped``), then dropped,
so memory stays flat however many cases a report holds. Nothing here raises for a bad report:
the caller gets the cases read so far and a note saying what was wrong.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as safe_etree
from junitparser import Error, Failure, Skipped, TestCase

from attune.ops.store.tests import CaseRow

__all__ = ["MAX_CASES", "ParsedReport", "parse_report"]

MAX_CASES = 200_000  # per run, over all its reports: a bigger one is cut with a note
MESSAGE_CHARS = 2_000
TRACEBACK_LINES = 60  # "the first lines of the traceback"
TRACEBACK_CHARS = 16_000
NAME_CHARS = 1_000


@dataclass
class ParsedReport:
    """The cases of one report and what went wrong reading it (empty when nothing did)."""

    cases: list[CaseRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_report(data: bytes, name: str, max_cases: int = MAX_CASES) -> ParsedReport:
    """Every test case of the JUnit XML ``data`` (the file ``name``, for the notes).

    Example: ``parse_report(Path("junit.xml").read_bytes(), "junit.xml").cases[0].status``.
    """
    report = ParsedReport()
    try:
        for case in _cases(data, name, report):
            if len(report.cases) >= max_cases:
                report.notes.append(
                    f"test report {name}: only its first {max_cases:,} test cases were kept"
                )
                break
            report.cases.append(case)
    except ParseError as exc:
        line, column = exc.position
        report.notes.append(
            f"test report {name}: not valid XML (line {line}, column {column + 1}); "
            + _kept(report)
        )
    except defusedxml.DefusedXmlException as exc:
        report.notes.append(
            f"test report {name}: refused, it declares a DTD or entities "
            f"({type(exc).__name__}), which a JUnit report never needs; " + _kept(report)
        )
    except (ValueError, RecursionError) as exc:
        report.notes.append(f"test report {name}: cannot be read ({exc}); " + _kept(report))
    return report


def _kept(report: ParsedReport) -> str:
    count = len(report.cases)
    if not count:
        return "no test was read from it"
    return f"the {count:,} test case{'s' if count != 1 else ''} before the problem were kept"


def _cases(data: bytes, name: str, report: ParsedReport) -> Iterator[CaseRow]:
    events = safe_etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    stack: list[Element] = []
    suites: list[str] = []
    for event, elem in events:
        tag = _local(elem.tag)
        if event == "start":
            if not stack and tag not in ("testsuites", "testsuite"):
                report.notes.append(
                    f"test report {name}: not a JUnit report (its root is <{tag[:40]}>, "
                    "not <testsuites> or <testsuite>)"
                )
                return
            if tag == "testsuite":
                suites.append(_text(elem.get("name")) or "")
            stack.append(elem)
            continue
        stack.pop()
        if tag == "testcase":
            yield _case(elem, suites[-1] if suites else "")
            if stack:
                stack[-1].remove(elem)  # read: let it go, so a huge report stays small
        elif tag == "testsuite":
            suites.pop()
            if stack:
                stack[-1].remove(elem)


def _case(elem: Element, suite: str) -> CaseRow:
    case = TestCase.fromelem(elem)  # type: ignore[no-untyped-call]
    results = case.result
    status, message, text = "passed", None, None
    for kind, label in ((Failure, "failed"), (Error, "error"), (Skipped, "skipped")):
        found = next((r for r in results if isinstance(r, kind)), None)
        if found is not None:
            status, message, text = label, found.message, found.text
            break
    return CaseRow(
        suite=suite[:NAME_CHARS],
        classname=(_text(case.classname) or "")[:NAME_CHARS],
        name=(_text(case.name) or "")[:NAME_CHARS],
        file=_text(elem.get("file")),
        line=_int(elem.get("line")),
        status=status,
        time_s=_seconds(elem.get("time")),
        message=_message(message, text),
        traceback=_traceback(text) if status != "skipped" else None,
    )


def _local(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1]  # a namespaced tag: {uri}testcase


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and 0 < number < 2**31 else None


def _seconds(value: str | None) -> float:
    try:
        seconds = float(value.replace(",", "")) if value else 0.0
    except ValueError:
        return 0.0
    return round(seconds, 6) if math.isfinite(seconds) and seconds >= 0 else 0.0


def _message(message: str | None, text: str | None) -> str | None:
    chosen = message or next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    return chosen[:MESSAGE_CHARS] if chosen else None


def _traceback(text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    lines = text.strip("\n").splitlines()
    kept = "\n".join(lines[:TRACEBACK_LINES])[:TRACEBACK_CHARS]
    if len(lines) > TRACEBACK_LINES or len(kept) < len("\n".join(lines)):
        kept += f"\n… ({len(lines):,} lines in all: the log has the rest)"
    return kept

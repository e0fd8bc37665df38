"""Test results in the store: every case of a run's JUnit reports, and what each report said.

A test is known by ``(workflow, suite, classname, name)`` (table ``tests``, one row per test
ever seen); each run that reported it has one ``test_results`` row per case, linked to the run
(``ON DELETE CASCADE``: retention takes them with it). ``run_reports`` holds a run's counts and
its notes (a report missing, malformed or too big): a run with a row there "has a report",
even one of zero cases. The same migration records the project's git commit on runs and the
time each stored batch of log lines arrived (a trigger stamps every chunk, whoever writes it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple

from attune.ops.store.damage import reading
from attune.ops.store.sql import Connection

__all__ = [
    "FAILING",
    "TESTS_MIGRATION",
    "CaseRow",
    "ReportRow",
    "StoredCase",
    "TestResultsMixin",
]

FAILING = ("failed", "error")

TESTS_MIGRATION = """
ALTER TABLE runs ADD COLUMN git_commit TEXT;
ALTER TABLE runs ADD COLUMN git_dirty INTEGER;
ALTER TABLE runs ADD COLUMN git_diff TEXT;
ALTER TABLE run_chunks ADD COLUMN arrived_at REAL;
CREATE TRIGGER run_chunks_arrival AFTER INSERT ON run_chunks WHEN new.arrived_at IS NULL
BEGIN
    UPDATE run_chunks SET arrived_at = (julianday('now') - 2440587.5) * 86400.0
    WHERE id = new.id;
END;
CREATE TABLE tests (
    id INTEGER PRIMARY KEY,
    workflow TEXT NOT NULL,
    suite TEXT NOT NULL,
    classname TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (workflow, suite, classname, name)
);
CREATE TABLE test_results (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    test_id INTEGER NOT NULL REFERENCES tests (id),
    status TEXT NOT NULL,
    time_s REAL NOT NULL DEFAULT 0,
    file TEXT,
    line INTEGER,
    message TEXT,
    traceback TEXT,
    log_line INTEGER,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
CREATE INDEX test_results_by_test ON test_results (test_id, run_id, status);
CREATE INDEX test_results_by_time ON test_results (run_id, time_s);
CREATE INDEX test_results_failing ON test_results (run_id, test_id)
    WHERE status IN ('failed', 'error');
CREATE TABLE run_reports (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    files INTEGER NOT NULL,
    tests INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    time_s REAL NOT NULL,
    notes TEXT NOT NULL DEFAULT '[]'
);
"""

_CASE_COLUMNS = (
    "tr.test_id, t.suite, t.classname, t.name, tr.file, tr.line, tr.status, tr.time_s, "
    "tr.message, tr.traceback, tr.log_line, tr.run_id"
)


class CaseRow(NamedTuple):
    """One test case as a report gave it (a named tuple: 20,000 of them per big report)."""

    suite: str
    classname: str
    name: str
    file: str | None
    line: int | None
    status: str  # passed | failed | error | skipped
    time_s: float
    message: str | None
    traceback: str | None
    log_line: int | None = None


@dataclass(frozen=True)
class StoredCase:
    """A case as stored: its test's id (``/api/tests/{id}``) and the run it belongs to."""

    test_id: int
    suite: str
    classname: str
    name: str
    file: str | None
    line: int | None
    status: str
    time_s: float
    message: str | None
    traceback: str | None
    log_line: int | None
    run_id: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StoredCase:
        return cls(*row)


@dataclass(frozen=True)
class ReportRow:
    """What a run's reports added up to, and what went wrong reading them."""

    run_id: int
    files: int
    tests: int
    passed: int
    failed: int
    errors: int
    skipped: int
    time_s: float
    notes: tuple[str, ...]


class TestResultsMixin:
    """The test-result methods of :class:`attune.ops.store.database.Store` (mixed in)."""

    __test__ = False  # not a pytest class, whatever its name

    def read(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store
        raise NotImplementedError

    def write(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store
        raise NotImplementedError

    # -- writing -------------------------------------------------------------------------------

    def save_report(
        self, run_id: int, workflow: str, cases: Sequence[CaseRow], files: int, notes: Sequence[str]
    ) -> ReportRow:
        """Store a run's cases and counts in one transaction (a second call replaces them)."""
        counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for case in cases:
            counts[case.status] = counts.get(case.status, 0) + 1
        total_time = round(sum(c.time_s for c in cases), 3)
        report = ReportRow(
            run_id,
            files,
            len(cases),
            counts["passed"],
            counts["failed"],
            counts["error"],
            counts["skipped"],
            total_time,
            tuple(notes),
        )
        with self.write() as conn:
            ids = _test_ids(conn, workflow, cases)
            conn.execute("DELETE FROM test_results WHERE run_id = ?", (run_id,))
            conn.executemany(
                "INSERT INTO test_results (run_id, idx, test_id, file, line, status, time_s, "
                "message, traceback, log_line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (run_id, i, ids[c.suite, c.classname, c.name], *c[3:])
                    for i, c in enumerate(cases)
                ),
            )
            conn.execute(
                "INSERT INTO run_reports (run_id, files, tests, passed, failed, errors, "
                "skipped, time_s, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) "
                "DO UPDATE SET files = excluded.files, tests = excluded.tests, "
                "passed = excluded.passed, failed = excluded.failed, errors = excluded.errors, "
                "skipped = excluded.skipped, time_s = excluded.time_s, notes = excluded.notes",
                (*_report_values(report), json.dumps(list(notes))),
            )
        return report

    # -- reading -------------------------------------------------------------------------------

    def report_of(self, run_id: int) -> ReportRow | None:
        """The run's report counts and notes; ``None`` when it has no report."""
        with reading(f"the test report of run {run_id}", run_id=run_id), self.read() as conn:
            row = conn.execute(
                "SELECT run_id, files, tests, passed, failed, errors, skipped, time_s, notes "
                "FROM run_reports WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        if row is None:
            return None
        run, files, tests, passed, failed, errors, skipped, time_s, notes = row
        notes_list: list[str] = json.loads(notes)
        return ReportRow(
            run, files, tests, passed, failed, errors, skipped, time_s, tuple(notes_list)
        )

    def run_cases(
        self,
        run_id: int,
        *,
        statuses: Sequence[str] = (),
        order: str = "report",
        limit: int = 1000,
        offset: int = 0,
    ) -> list[StoredCase]:
        """Cases of a run; ``order`` is ``report`` (as written), ``slowest`` or ``failing``
        (failed, then errored, then the rest slowest first)."""
        where = "tr.run_id = ?"
        args: list[Any] = [run_id]
        if statuses:
            where += f" AND tr.status IN ({', '.join('?' * len(statuses))})"
            args.extend(statuses)
        by = {
            "report": "tr.idx",
            "slowest": "tr.time_s DESC, tr.idx",
            "failing": "CASE tr.status WHEN 'failed' THEN 0 WHEN 'error' THEN 1 ELSE 2 END, "
            "tr.time_s DESC, tr.idx",
        }[order]
        sql = (
            f"SELECT {_CASE_COLUMNS} FROM test_results tr JOIN tests t ON t.id = tr.test_id "  # noqa: S608
            f"WHERE {where} ORDER BY {by} LIMIT ? OFFSET ?"
        )
        with reading(f"the tests of run {run_id}", run_id=run_id), self.read() as conn:
            rows = conn.execute(sql, (*args, max(0, limit), max(0, offset))).fetchall()
        return [StoredCase.from_row(r) for r in rows]

    def previous_report_run(self, run_id: int, workflow: str, path: str | None) -> int | None:
        """The latest earlier run of the same workflow and scope that has a report."""
        with self.read() as conn:
            row = conn.execute(
                "SELECT r.id FROM runs r JOIN run_reports rr ON rr.run_id = r.id "
                "WHERE r.workflow = ? AND r.path IS ? AND r.id < ? ORDER BY r.id DESC LIMIT 1",
                (workflow, path, run_id),
            ).fetchone()
        return None if row is None else int(row[0])

    def compare_cases(
        self, run_id: int, previous: int, limit: int = 200
    ) -> dict[str, tuple[int, list[tuple[StoredCase, str | None]]]]:
        """Against ``previous``: ``new_failures``, ``still_failing``, ``fixed``, ``new_tests``,
        ``removed_tests``, each as (count, the first ``limit`` cases with their other status).

        ``fixed`` and ``removed_tests`` list the previous run's cases (this run has no case for
        a removed test); the status beside each is the other run's."""
        failing = "('failed', 'error')"
        queries = {
            "new_failures": (
                run_id,
                previous,
                f"c.status IN {failing} AND (p.status IS NULL OR p.status NOT IN {failing})",
            ),
            "still_failing": (run_id, previous, f"c.status IN {failing} AND p.status IN {failing}"),
            "fixed": (previous, run_id, f"c.status IN {failing} AND p.status = 'passed'"),
            "new_tests": (run_id, previous, "p.test_id IS NULL"),
            "removed_tests": (previous, run_id, "p.test_id IS NULL"),
        }
        out: dict[str, tuple[int, list[tuple[StoredCase, str | None]]]] = {}
        with reading(f"the tests of run {run_id}", run_id=run_id), self.read() as conn:
            for key, (mine, other, condition) in queries.items():
                sql = (
                    f"SELECT {_CASE_COLUMNS.replace('tr.', 'c.')}, p.status "  # noqa: S608
                    "FROM test_results c JOIN tests t ON t.id = c.test_id "
                    "LEFT JOIN test_results p INDEXED BY test_results_by_test "  # else n² by run
                    "ON p.run_id = ? AND p.test_id = c.test_id "
                    f"WHERE c.run_id = ? AND {condition} ORDER BY c.idx"
                )
                rows = conn.execute(sql, (other, mine)).fetchall()
                out[key] = (
                    len(rows),
                    [(StoredCase.from_row(r[:-1]), r[-1]) for r in rows[:limit]],
                )
        return out

    def test_info(self, test_id: int) -> tuple[int, str, str, str, str] | None:
        """``(id, workflow, suite, classname, name)`` of a test, or ``None``."""
        if not 0 < test_id < 2**63:
            return None
        with self.read() as conn:
            row = conn.execute(
                "SELECT id, workflow, suite, classname, name FROM tests WHERE id = ?", (test_id,)
            ).fetchone()
        return None if row is None else (int(row[0]), row[1], row[2], row[3], row[4])

    def test_results_of(self, test_id: int, limit: int = 50) -> list[dict[str, Any]]:
        """A test's latest results, newest first, each with its run's start and git state."""
        with reading(f"the history of test {test_id}"), self.read() as conn:
            rows = conn.execute(
                f"SELECT {_CASE_COLUMNS}, r.started_at, r.git_commit, r.git_dirty, "  # noqa: S608
                "r.git_diff, r.path FROM test_results tr JOIN tests t ON t.id = tr.test_id "
                "JOIN runs r ON r.id = tr.run_id WHERE tr.test_id = ? "
                "ORDER BY tr.run_id DESC, tr.idx LIMIT ?",
                (test_id, limit),
            ).fetchall()
        return [
            {
                "case": StoredCase.from_row(r[:12]),
                "started_at": r[12],
                "git_commit": r[13],
                "git_dirty": None if r[14] is None else bool(r[14]),
                "git_diff": r[15],
                "path": r[16],
            }
            for r in rows
        ]

    def code_states(self, test_ids: Sequence[int], since: str) -> list[tuple[int, int, int]]:
        """``(test id, passes, failures)`` per test and code state (git commit plus the hash of
        its uncommitted diff) since ``since``, for runs that knew their commit."""
        if not test_ids:
            return []
        marks = ", ".join("?" * len(test_ids))
        with self.read() as conn:
            rows = conn.execute(
                "SELECT tr.test_id, sum(CASE WHEN tr.status = 'passed' THEN 1 ELSE 0 END), "  # noqa: S608
                "sum(CASE WHEN tr.status IN ('failed', 'error') THEN 1 ELSE 0 END) "
                "FROM test_results tr "
                "JOIN runs r ON r.id = tr.run_id "
                f"WHERE tr.test_id IN ({marks}) AND r.started_at >= ? "
                "AND r.git_commit IS NOT NULL "
                "GROUP BY tr.test_id, r.git_commit, coalesce(r.git_diff, '')",
                (*test_ids, since),
            ).fetchall()
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    def failing_tests(self, workflow: str, since: str, limit: int = 200) -> list[tuple[int, int]]:
        """``(test id, failures)`` of a workflow's tests that failed since ``since``, most first."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT tr.test_id, count(*) AS n FROM runs r "
                "JOIN test_results tr ON tr.run_id = r.id AND tr.status IN ('failed', 'error') "
                "WHERE r.workflow = ? AND r.started_at >= ? "
                "GROUP BY tr.test_id ORDER BY n DESC, tr.test_id LIMIT ?",
                (workflow, since, limit),
            ).fetchall()
        return [(int(r[0]), int(r[1])) for r in rows]

    def tests_named(self, test_ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
        """``{id: (suite, classname, name)}`` of the given tests."""
        if not test_ids:
            return {}
        marks = ", ".join("?" * len(test_ids))
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT id, suite, classname, name FROM tests WHERE id IN ({marks})",  # noqa: S608
                tuple(test_ids),
            ).fetchall()
        return {int(r[0]): (r[1], r[2], r[3]) for r in rows}

    def reported_workflows(self) -> list[str]:
        """The workflows that have at least one stored test, by name."""
        with self.read() as conn:
            rows = conn.execute("SELECT DISTINCT workflow FROM tests ORDER BY workflow").fetchall()
        return [str(r[0]) for r in rows]


def _report_values(report: ReportRow) -> tuple[Any, ...]:
    return (
        report.run_id,
        report.files,
        report.tests,
        report.passed,
        report.failed,
        report.errors,
        report.skipped,
        report.time_s,
    )


def _test_ids(
    conn: Connection, workflow: str, cases: Sequence[CaseRow]
) -> dict[tuple[str, str, str], int]:
    """The id of every test of ``cases``, creating the ones never seen before."""
    keys = list(dict.fromkeys((c.suite, c.classname, c.name) for c in cases))
    conn.executemany(
        "INSERT INTO tests (workflow, suite, classname, name) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        ((workflow, *key) for key in keys),
    )
    if len(keys) > 500:  # one pass over the workflow's tests beats thousands of lookups
        rows = conn.execute(
            "SELECT suite, classname, name, id FROM tests WHERE workflow = ?", (workflow,)
        ).fetchall()
        return {(r[0], r[1], r[2]): int(r[3]) for r in rows}
    ids: dict[tuple[str, str, str], int] = {}
    for key in keys:
        row = conn.execute(
            "SELECT id FROM tests WHERE workflow = ? AND suite = ? AND classname = ? AND name = ?",
            (workflow, *key),
        ).fetchone()
        ids[key] = int(row[0])
    return ids

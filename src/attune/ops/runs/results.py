"""What a run's tests say, against the previous run, and what a test's history says (DESIGN §12).

- :func:`run_tests` — ``GET /api/runs/{id}/tests``: the counts, the cases (failed, then
  errored, then the rest slowest first), the 10 slowest, and the comparison with the previous
  run of the same workflow and scope that had a report: new failures, still failing, fixed,
  new tests, removed tests.
- :func:`history_of` — ``GET /api/tests/{id}``: the test's last 50 results and whether it is
  flaky: it both passed and failed within the last 14 days on the same code (the same git
  commit, and the same uncommitted changes when the tree was dirty).
- :func:`workflow_board` — the flakiest and the most-failing tests of a workflow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from attune.ops.errors import TestNotFound
from attune.ops.store.database import Store
from attune.ops.store.tests import FAILING, StoredCase

__all__ = ["FLAKY_DAYS", "history_of", "run_tests", "workflow_board"]

FLAKY_DAYS = 14
HISTORY = 50
SLOWEST = 10
MAX_FAILING = 500
MAX_CASES = 50_000
COMPARED_SHOWN = 200
BOARD = 10


def _since(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)) - timedelta(days=FLAKY_DAYS)
    return moment.isoformat(timespec="milliseconds")


def case_json(case: StoredCase, *, traceback: bool = True) -> dict[str, Any]:
    """One case as the API shows it; ``id`` is its test's id (``/api/tests/{id}``)."""
    data: dict[str, Any] = {
        "id": case.test_id,
        "suite": case.suite,
        "classname": case.classname,
        "name": case.name,
        "file": case.file,
        "line": case.line,
        "status": case.status,
        "time_s": case.time_s,
        "message": case.message,
        "log_line": case.log_line,
        "run_id": case.run_id,
    }
    if traceback:
        data["traceback"] = case.traceback
    return data


def flaky_tests(store: Store, test_ids: Sequence[int], since: str | None = None) -> dict[int, int]:
    """``{test id: score}`` of the flaky ones among ``test_ids``; the score counts the
    pass/fail pairs seen on the same code (higher: flakier)."""
    scores: dict[int, int] = defaultdict(int)
    for test_id, passes, failures in store.code_states(list(test_ids), since or _since()):
        if passes and failures:
            scores[test_id] += min(passes, failures)
    return dict(scores)


def run_tests(
    store: Store,
    run_id: int,
    *,
    statuses: Sequence[str] = (),
    limit: int = 1000,
    offset: int = 0,
) -> dict[str, Any]:
    """The Tests tab's data. Raises :class:`RunNotFound`. ``summary`` is ``null`` for a run
    that had no report to read (not a test run); ``notes`` say what went wrong reading one."""
    run = store.require_run(run_id)
    report = store.report_of(run_id)
    empty: dict[str, Any] = {k: [] for k in _COMPARED}
    base: dict[str, Any] = {
        "run_id": run_id,
        "summary": None,
        "notes": [],
        "cases": [],
        "cases_total": 0,
        "slowest": [],
        "compared_to": None,
        "compared_counts": dict.fromkeys(_COMPARED, 0),
        **empty,
    }
    if report is None:
        return base
    limit = max(0, min(int(limit), MAX_CASES))
    counts = {
        "passed": report.passed,
        "failed": report.failed,
        "error": report.errors,
        "skipped": report.skipped,
    }
    cases = store.run_cases(
        run_id, statuses=statuses, order="failing", limit=limit, offset=max(0, offset)
    )
    failing_ids = [c.test_id for c in cases if c.status in FAILING][:MAX_FAILING]
    flaky = flaky_tests(store, failing_ids) if failing_ids else {}
    base.update(
        summary={
            "passed": report.passed,
            "failed": report.failed,
            "errors": report.errors,
            "skipped": report.skipped,
            "total": report.tests,
            "time_s": report.time_s,
            "files": report.files,
        },
        notes=list(report.notes),
        cases=[{**case_json(c), "flaky": c.test_id in flaky} for c in cases],
        cases_total=sum(counts.get(s, 0) for s in statuses) if statuses else report.tests,
        offset=max(0, offset),
        limit=limit,
        slowest=[
            case_json(c, traceback=False)
            for c in store.run_cases(run_id, order="slowest", limit=SLOWEST)
        ],
    )
    previous = store.previous_report_run(run_id, run.workflow, run.path)
    if previous is not None:
        base["compared_to"] = previous
        for key, (count, pairs) in store.compare_cases(run_id, previous, COMPARED_SHOWN).items():
            base["compared_counts"][key] = count
            base[key] = [
                {**case_json(c, traceback=False), "other_status": other} for c, other in pairs
            ]
    return base


_COMPARED = ("new_failures", "still_failing", "fixed", "new_tests", "removed_tests")


def history_of(store: Store, test_id: int, now: datetime | None = None) -> dict[str, Any]:
    """A test's last 50 results (newest first) and ``flaky``. Raises :class:`TestNotFound`."""
    info = store.test_info(test_id)
    if info is None:
        raise TestNotFound(f"no test with id {test_id}", test_id=test_id)
    _, workflow, suite, classname, name = info
    since = _since(now)
    rows = store.test_results_of(test_id, HISTORY)
    recent = [r for r in rows if r["started_at"] >= since]
    flaky = flaky_tests(store, [test_id], since)
    latest = rows[0]["case"] if rows else None
    return {
        "test": {
            "id": test_id,
            "workflow": workflow,
            "suite": suite,
            "classname": classname,
            "name": name,
            "file": latest.file if latest else None,
            "line": latest.line if latest else None,
        },
        "flaky": test_id in flaky,
        "window_days": FLAKY_DAYS,
        "recent": {
            "runs": len(recent),
            "passed": sum(r["case"].status == "passed" for r in recent),
            "failed": sum(r["case"].status in FAILING for r in recent),
        },
        "results": [
            {
                **case_json(r["case"]),
                "started_at": r["started_at"],
                "path": r["path"],
                "git_commit": r["git_commit"],
                "git_dirty": r["git_dirty"],
            }
            for r in rows
        ],
    }


def workflow_board(store: Store, workflow: str, now: datetime | None = None) -> dict[str, Any]:
    """The flakiest and the most-failing tests of ``workflow`` over the last 14 days."""
    since = _since(now)
    failing = store.failing_tests(workflow, since)
    scores = flaky_tests(store, [t for t, _ in failing], since)
    failures = dict(failing)
    flakiest = sorted(scores, key=lambda t: (-scores[t], -failures.get(t, 0), t))[:BOARD]
    most = [t for t, _ in failing[:BOARD]]
    names = store.tests_named(list(dict.fromkeys(flakiest + most)))

    def item(test_id: int) -> dict[str, Any]:
        suite, classname, name = names.get(test_id, ("", "", ""))
        return {
            "id": test_id,
            "suite": suite,
            "classname": classname,
            "name": name,
            "failures": failures.get(test_id, 0),
            "flaky": test_id in scores,
            "flaky_score": scores.get(test_id, 0),
        }

    return {
        "workflow": workflow,
        "window_days": FLAKY_DAYS,
        "flakiest": [item(t) for t in flakiest],
        "most_failing": [item(t) for t in most],
    }

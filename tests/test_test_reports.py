"""Test results of real pytest runs, through the HTTP API as the Tests tab reads them.

A small real pytest project (passing, failing, erroring, skipped, parametrised and class tests)
is written on tmp_path, made a git repository, and run by the dashboard's own runner: the run
gets ``--junitxml`` without asking, its cases are stored, and a second run after a change says
what broke, what was fixed, what is new and what is gone. A third run on the same code with a
test that flips makes that test flaky in its history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.config import Config
from tests.helpers import PY, astart_run, await_finished, workflow_toml, write_workflows
from tests.pytest_project import V2, git, write_project


@pytest.fixture
def config(backend_config: Config) -> Config:
    """Every test here runs on both store backends (SQLite, then PostgreSQL)."""
    return backend_config


def names(items: list[dict[str, Any]]) -> list[str]:
    return sorted(item["name"] for item in items)


async def run_tests(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    run = await await_finished(client, (await astart_run(client, "tests", "tests"))["id"])
    tests = (await client.get(f"/api/runs/{run['id']}/tests")).json()
    return run, tests


async def test_two_runs_compared_and_a_flaky_test(client: httpx.AsyncClient, project: Path) -> None:
    write_project(project)
    run1, tests1 = await run_tests(client)
    assert run1["status"] == "failed"
    assert "--junitxml" in " ".join(run1["command"])  # injected, the workflow never asked
    assert run1["git_commit"] == git(project, "rev-parse", "HEAD").strip()
    assert run1["git_dirty"] is False
    assert tests1["summary"] == {
        "passed": 6,
        "failed": 3,
        "errors": 1,
        "skipped": 1,
        "total": 11,
        "time_s": tests1["summary"]["time_s"],
        "files": 1,
    }
    assert tests1["notes"] == [] and tests1["compared_to"] is None
    # failed and errored first, each with its message, file and line, and its log line
    failing = [c for c in tests1["cases"] if c["status"] in ("failed", "error")]
    assert [c["status"] for c in tests1["cases"][: len(failing)]] == ["failed"] * 3 + ["error"]
    fail = next(c for c in failing if c["name"] == "test_fail")
    assert "one is not two" in fail["message"]
    assert "assert 1 == 2" in fail["traceback"]
    assert fail["file"] == "tests/test_sample.py" and fail["line"] > 0
    assert fail["classname"] == "tests.test_sample"
    log = (await client.get(f"/api/runs/{run1['id']}/log?ansi=0")).text.split("\n")
    assert "test_fail" in log[fail["log_line"] - 1]
    error = next(c for c in failing if c["status"] == "error")
    assert error["name"] == "test_error" and "fixture broke" in error["traceback"]
    skipped = next(c for c in tests1["cases"] if c["status"] == "skipped")
    assert skipped["message"] == "not today"
    assert {c["name"] for c in tests1["cases"]} >= {"test_param[1]", "test_param[3]"}
    assert len(tests1["slowest"]) == 10

    (project / "tests" / "test_sample.py").write_text(V2)  # uncommitted: a dirty tree
    run2, tests2 = await run_tests(client)
    assert run2["git_dirty"] is True and run2["git_commit"] == run1["git_commit"]
    assert tests2["compared_to"] == run1["id"]
    assert names(tests2["new_failures"]) == ["test_pass"]
    assert names(tests2["still_failing"]) == ["test_error", "test_fail", "test_param[3]"]
    assert names(tests2["fixed"]) == ["test_fixed_later"]
    assert names(tests2["new_tests"]) == ["test_added"]
    assert names(tests2["removed_tests"]) == ["test_removed_later"]
    assert tests2["compared_counts"]["fixed"] == 1

    (project / "state.txt").write_text("fail")  # ignored by git: the same code, a flip
    run3, tests3 = await run_tests(client)
    assert run3["git_commit"] == run2["git_commit"]
    flaky = next(c for c in tests3["cases"] if c["name"] == "test_flaky")
    assert flaky["status"] == "failed" and flaky["flaky"] is True
    assert not next(c for c in tests3["cases"] if c["name"] == "test_fail")["flaky"]

    history = (await client.get(f"/api/tests/{flaky['id']}")).json()
    assert history["flaky"] is True
    assert [r["run_id"] for r in history["results"]] == [run3["id"], run2["id"], run1["id"]]
    assert [r["status"] for r in history["results"]] == ["failed", "passed", "passed"]
    assert history["recent"] == {"runs": 3, "passed": 2, "failed": 1}
    steady = (await client.get(f"/api/tests/{fail['id']}")).json()
    assert steady["flaky"] is False and steady["recent"]["failed"] == 3

    boards = (await client.get("/api/tests?workflow=tests")).json()["workflows"]
    assert [t["name"] for t in boards[0]["flakiest"]] == ["test_flaky"]
    assert boards[0]["most_failing"][0]["failures"] == 3

    page = await client.get(f"/tests/{flaky['id']}")
    assert page.status_code == 200
    assert "flaky" in page.text and f"/runs/{run3['id']}" in page.text
    assert (await client.get("/tests?workflow=tests")).status_code == 200


async def test_no_report_no_git_and_unknown_ids(client: httpx.AsyncClient, project: Path) -> None:
    write_workflows(project, workflow_toml("echo", [PY, "-c", "print('hello')"]))
    run = await await_finished(client, (await astart_run(client, "echo"))["id"])
    assert run["git_commit"] is None and run["git_dirty"] is None  # not a git repository
    tests = (await client.get(f"/api/runs/{run['id']}/tests")).json()
    assert tests["summary"] is None and tests["cases"] == [] and tests["compared_to"] is None
    missing = await client.get("/api/runs/999999/tests")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "run_not_found"
    for path in ("/api/tests/424242", "/api/tests/99999999999999999999", "/tests/abc"):
        answer = await client.get(path)
        assert answer.status_code in (404, 422), path
    gone = await client.get("/api/tests/424242")
    assert gone.json()["error"]["code"] == "test_not_found"
    bad = await client.get(f"/api/runs/{run['id']}/tests?status=weird")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"

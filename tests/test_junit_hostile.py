"""Hostile and broken JUnit reports: nothing resolves, nothing crashes, the run says why.

Entities never expand and external ones are never fetched (a billion-laughs bomb, a
``SYSTEM "file:///…"`` entity naming a secret); a malformed, a huge (100 MB) or a missing report
is a visible note on the run and in its test results, and the dashboard keeps answering.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from attune.ops.runs.junit import parse_report
from attune.ops.runs.report_files import report_glob_problems
from attune.ops.runs.reports import pytest_position
from tests.helpers import PY, astart_run, await_finished, workflow_toml, write_workflows

GOOD = b"""<?xml version="1.0"?>
<testsuites><testsuite name="s">
<testcase classname="a.b" name="ok" time="0.5"/>
<testcase classname="a.b" name="bad" time="1,250.5">
<failure message="boom">trace</failure></testcase>
</testsuite></testsuites>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<testsuite name="&lol4;"><testcase classname="x" name="&lol4;"/></testsuite>"""


def xxe(secret: Path) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY s SYSTEM "file://{secret}">]>'
        '<testsuite name="s"><testcase classname="x" name="leak">'
        "<failure message='&s;'>&s;</failure></testcase></testsuite>"
    ).encode()


def test_a_good_report_reads_with_its_statuses() -> None:
    report = parse_report(GOOD, "good.xml")
    assert report.notes == []
    assert [(c.name, c.status, c.time_s) for c in report.cases] == [
        ("ok", "passed", 0.5),
        ("bad", "failed", 1250.5),
    ]
    assert report.cases[1].message == "boom" and report.cases[1].suite == "s"


def test_entities_never_resolve(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    for data in (LAUGHS, xxe(secret)):
        report = parse_report(data, "evil.xml")
        assert report.cases == []
        assert "refused, it declares a DTD" in report.notes[0]
        assert "TOP-SECRET" not in repr(report) and "lollol" not in repr(report)


def test_broken_reports_keep_what_came_before() -> None:
    cut = GOOD[: GOOD.index(b'<testcase classname="a.b" name="bad"')] + b"<testcase"
    report = parse_report(cut, "cut.xml")
    assert [c.name for c in report.cases] == ["ok"]
    assert "not valid XML" in report.notes[0] and "1 test case before" in report.notes[0]
    html = parse_report(b"<html><body>oops</body></html>", "page.xml")
    assert html.cases == [] and "not a JUnit report" in html.notes[0]
    many = b"<testsuite>" + b'<testcase classname="c" name="t"/>' * 30 + b"</testsuite>"
    capped = parse_report(many, "many.xml", max_cases=10)
    assert len(capped.cases) == 10 and "first 10 test cases" in capped.notes[0]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(lambda t: f"<testsuite>{t}".encode()))
def test_any_bytes_give_cases_or_a_note(data: bytes) -> None:
    report = parse_report(data, "fuzz.xml")
    assert report.cases or report.notes or data.strip() == b""


def test_what_counts_as_a_pytest_command_and_a_report_glob() -> None:
    assert pytest_position(["python", "-m", "pytest", "."]) == 2
    assert pytest_position(["/venv/bin/pytest", "-q"]) == 0
    assert pytest_position(["uv", "run", "pytest"]) == 2
    assert pytest_position(["coverage", "run", "-m", "pytest"]) == 3
    assert pytest_position(["make", "pytest"]) is None
    assert pytest_position(["python", "-c", "import pytest"]) is None
    assert report_glob_problems(["reports/*.xml"]) == []
    assert report_glob_problems("reports/*.xml")
    assert report_glob_problems(["/etc/*.xml"]) and report_glob_problems(["../x/*.xml"])


WRITE_REPORTS = """
import os, pathlib, sys
out = pathlib.Path("reports")
out.mkdir(exist_ok=True)
(out / "good.xml").write_bytes(sys.argv[1].encode())
(out / "broken.xml").write_text("<testsuite><testcase name='x'")
(out / "evil.xml").write_bytes(sys.argv[2].encode())
with open(out / "huge.xml", "wb") as f:
    f.truncate(100 * 1024 * 1024)
print("reports written")
"""


async def test_a_run_with_hostile_reports_says_why(
    client: httpx.AsyncClient, project: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    (project / "reports").mkdir()
    (project / "reports" / "old.xml").write_bytes(GOOD)  # left by an earlier run: not this run's
    os.utime(project / "reports" / "old.xml", (1_000_000_000, 1_000_000_000))
    write_workflows(
        project,
        workflow_toml(
            "reports", [PY, "-c", WRITE_REPORTS, GOOD.decode(), xxe(secret).decode()]
        ).rstrip()
        + '\nreports = ["reports/*.xml", "missing/*.xml"]\n',
    )
    workflows = (await client.get("/api/workflows")).json()
    assert not workflows["errors"], workflows["errors"]
    run = await await_finished(client, (await astart_run(client, "reports"))["id"])
    assert run["status"] == "succeeded"
    tests = (await client.get(f"/api/runs/{run['id']}/tests")).json()
    assert tests["summary"]["total"] == 2 and tests["summary"]["files"] == 4
    notes = "\n".join(tests["notes"])
    assert "broken.xml: not valid XML" in notes
    assert "evil.xml: refused" in notes
    assert "huge.xml is 104,857,600 bytes" in notes
    assert "old.xml" not in notes
    log = (await client.get(f"/api/runs/{run['id']}/log")).text
    assert "[attune] test report reports/huge.xml is 104,857,600 bytes" in log
    assert "TOP-SECRET" not in log and "TOP-SECRET" not in str(tests)
    assert (await client.get("/healthz")).status_code == 200


async def test_a_bad_reports_value_is_a_located_error(
    client: httpx.AsyncClient, project: Path
) -> None:
    write_workflows(project, '[workflows.t]\ncommand = ["true"]\nreports = ["../../etc/*.xml"]\n')
    errors = (await client.get("/api/workflows")).json()["errors"]
    assert errors[0]["key"] == "workflows.t.reports" and errors[0]["line"] == 3
    assert "inside the project root" in errors[0]["message"]

"""The Tests tab and the structured log in real headless Chromium against a real server.

A real pytest project is run twice with a change between; the second run's page shows its
Tests tab (what broke, what was fixed, the failures with their message, traceback and log line)
and a test's history page. A workflow printing CI markers shows folded groups with the failed
one open, annotations above the log, "First error", the times and wrap toggles (remembered),
and a log that fills the window and follows to its true last line, wide and on a phone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, open_page
from tests.helpers import python_workflow, start_run, wait_finished, write_workflows
from tests.pytest_project import V2, write_project

pytestmark = pytest.mark.browser

MARKERS = r"""
import random, time
random.seed(7)
for g in range(1, 7):
    print(f"::group::Step {g}", flush=True)
    for i in range(40):
        words = " ".join("w" * random.randint(1, 9) for _ in range(random.randint(1, 40)))
        print(f"step {g} line {i} {words}", flush=True)
    if g == 4:
        print("::error file=src/app.py,line=12,title=Build::the build broke", flush=True)
        print("Traceback (most recent call last):", flush=True)
    print("::endgroup::", flush=True)
    time.sleep(0.05)
print("::warning file=setup.cfg::deprecated option")
print("--- Buildkite section")
print("in buildkite")
for i in range(200):
    print(f"tail {i} " + "z" * random.randint(10, 300))
print("THE LAST LINE")
"""

LAST_LINE_IN_VIEW = """() => {
  const lines = [...document.querySelectorAll('#log-body .ll')]
    .filter((e) => e.getClientRects().length);
  const last = lines.at(-1), log = document.getElementById('log').getBoundingClientRect();
  const r = last.getBoundingClientRect();
  return {text: last.textContent, lastBottom: r.bottom, logTop: log.top, logBottom: log.bottom,
          inner: window.innerHeight};
}"""


def test_tests_tab_after_two_runs_and_a_test_history(
    server_factory: Callable[..., ServerProcess], project: Path, browser: Any, tmp_path: Path
) -> None:
    write_project(project)
    srv = server_factory(project)
    first = wait_finished(srv, start_run(srv, "tests", "tests")["id"])
    (project / "tests" / "test_sample.py").write_text(V2)
    second = wait_finished(srv, start_run(srv, "tests", "tests")["id"])
    errors: list[str] = []
    with open_page(browser, errors, tmp_path / "tests-tab.png") as page:
        page.goto(f"{srv.url}/runs/{second['id']}")
        tab = page.locator("#tab-tests")
        tab.wait_for()
        assert "4 failing" in tab.inner_text()  # 3 failed + 1 error
        tab.click()
        assert page.url.endswith("#tests")
        summary = page.locator("#tests-summary").inner_text()
        assert "11 tests" in summary and f"run #{first['id']}" in summary
        new = page.locator('.compare[data-kind="new_failures"]')
        assert new.get_attribute("open") is not None and "test_pass" in new.inner_text()
        fixed = page.locator('.compare[data-kind="fixed"]')
        fixed.locator("summary").click()
        assert "test_fixed_later" in fixed.inner_text()
        item = page.locator('.fail[data-test="test_fail"]')
        assert "one is not two" in item.locator(".fail-msg").inner_text()
        trace = item.locator(".fail-trace")
        assert not trace.locator("pre").is_visible()
        trace.locator("summary").click()
        assert "assert 1 == 2" in trace.locator("pre").inner_text()
        assert page.locator("#log-panel").is_hidden()
        item.locator(".fail-log").click()  # back on the log, at the line that printed it
        target = page.locator(".ll.ll-target")
        target.wait_for()
        assert "test_fail" in (target.text_content() or "")
        assert page.locator("#tests-panel").is_hidden()
        assert page.locator("#tab-log").get_attribute("aria-selected") == "true"

        page.goto(f"{srv.url}/runs/{second['id']}#tests")  # a link straight to the tab
        page.locator("#tests-failing").wait_for()
        page.locator('.fail[data-test="test_fail"] a.test-name').click()
        page.wait_for_url("**/tests/*")
        rows = page.locator("#test-history tbody tr")
        assert rows.count() == 2
        assert "failed 2 times" in page.locator("#test-recent").inner_text()
        assert page.locator(".test-board").count() == 1
    assert errors == []


def test_groups_annotations_first_error_toggles_and_follow(
    server_factory: Callable[..., ServerProcess], project: Path, browser: Any, tmp_path: Path
) -> None:
    write_workflows(project, python_workflow("markers", MARKERS))
    srv = server_factory(project)
    run = start_run(srv, "markers")
    errors: list[str] = []
    with open_page(browser, errors, tmp_path / "groups.png") as page:
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(f"{srv.url}/runs/{run['id']}")
        page.locator("#run-page[data-stream-done='1']").wait_for(timeout=30_000)
        page.wait_for_timeout(300)
        heads = page.locator(".lg-head")
        assert heads.count() == 7  # six GitHub groups and one Buildkite section
        opened = page.locator(".lg.open > .lg-head .lg-title").all_inner_texts()
        # the group holding the first error, and the last Buildkite section (none was "+++")
        assert opened == ["Step 4", "Buildkite section"]
        assert "41 lines" in page.locator(".lg[data-g='0'] .lg-dur").inner_text()
        assert page.locator(".lg[data-g='0'] .lg-body").is_hidden()
        heads.nth(0).click(position={"x": 200, "y": 5})
        assert page.locator(".lg[data-g='0'] .lg-body").is_visible()
        # annotations above the log, each a jump to its line
        items = page.locator("#ann-list li")
        assert items.count() == 2
        assert "src/app.py:12" in items.nth(0).inner_text()
        assert "Build: the build broke" in items.nth(0).inner_text()
        items.nth(1).locator("button").click()
        assert "deprecated option" in page.locator(".ll.ll-target").text_content()
        page.locator("#log-first-error").click()
        assert "the build broke" in page.locator(".ll.ll-target").text_content()
        # times and wrap, remembered in this browser
        page.locator("#log-times").click()
        page.locator("#log-wrap").click()
        stamp = page.locator(".ll.ll-target").get_attribute("data-t") or ""
        assert len(stamp) == 12 and stamp[2] == ":"
        page.reload()
        page.locator("#run-page[data-stream-done='1']").wait_for()
        log_class = page.locator("#log").get_attribute("class") or ""
        assert "show-times" in log_class and "nowrap" in log_class
        page.locator("#log-times").click()
        page.locator("#log-wrap").click()
        # following: the true last line in view, the log inside the window
        page.locator("#log-follow").click()
        page.wait_for_timeout(300)
        seen = page.evaluate(LAST_LINE_IN_VIEW)
        assert seen["text"].endswith("THE LAST LINE")
        assert seen["lastBottom"] <= seen["logBottom"] + 1 <= seen["inner"] + 1
        assert seen["inner"] - seen["logBottom"] < 60  # it fills the space left
    assert errors == []
    with open_page(browser, errors, tmp_path / "phone.png") as page:
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{srv.url}/runs/{run['id']}")
        page.locator("#run-page[data-stream-done='1']").wait_for()
        page.wait_for_timeout(500)
        seen = page.evaluate(LAST_LINE_IN_VIEW)
        assert seen["text"].endswith("THE LAST LINE")
        assert seen["lastBottom"] <= seen["logBottom"] + 1
        assert seen["logBottom"] - seen["logTop"] > 250  # the log shows without scrolling
        tops = page.locator(".run-actions > *").evaluate_all(
            "els => els.filter(e => !e.hidden).map(e => Math.round(e.getBoundingClientRect().top))"
        )
        assert len(set(tops)) == 1  # the actions on one row
    assert errors == []

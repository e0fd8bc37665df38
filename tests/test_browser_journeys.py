"""A new user's first day, end to end, in real headless Chromium against real ``attune ops``.

One journey per test, each through the pages a person would click: first visit without a key,
connecting billing, running a workflow on a folder picked from a spec's page, searching and
downloading its log, finding it again in the history after a restart, and closing the spec.
Every page is checked for console errors and CSP violations; a failing step leaves a
screenshot in the test's tmp dir.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, open_page
from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic
from tests.helpers import python_workflow, write_workflows

pytestmark = pytest.mark.browser


def page_of(browser: Any, errors: list[str], shots: Path, name: str) -> Any:
    return open_page(browser, errors, shots / f"{name}-failure.png", accept_downloads=True)


def wait_js(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS expression until truthy (``wait_for_function`` would need the CSP's eval)."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate(expression):
                return
        except PlaywrightError as exc:  # the page navigated under us (a filter reloads it)
            if "context was destroyed" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(50)


@pytest.fixture
def journey_project(project: Path) -> Path:
    (project / "src" / "billing").mkdir(parents=True)
    (project / "src" / "billing" / "invoice.py").write_text(
        "def total():\n    # TODO: round half up, not half even\n    return 0\n"
    )
    (project / "src" / "other.py").write_text("# FIXME: outside the picked folder\n")
    spec = project / "docs" / "specs" / "billing"
    spec.mkdir(parents=True)
    (spec / "requirements.md").write_text("# Billing\n\n**Status:** In Progress\n\nRound totals.\n")
    (spec / "tasks.md").write_text("# Tasks\n\n- [x] Round totals\n- [x] Show invoices\n")
    slow = "import time\nfor i in range(400):\n print(i, flush=True)\n time.sleep(0.05)"
    write_workflows(project, python_workflow("slow", slow, description="Counts slowly"))
    return project


def test_first_visit_without_a_key_shows_how_to_connect_billing(
    server_factory: Callable[..., ServerProcess],
    journey_project: Path,
    browser: Any,
    tmp_path: Path,
) -> None:
    srv = server_factory(journey_project)
    errors: list[str] = []
    with page_of(browser, errors, tmp_path, "no-key") as page:
        page.goto(srv.url + "/", wait_until="networkidle")
        panel = page.locator(".panel-spend")
        assert "Connect billing" in panel.inner_text()
        assert "attune ops setup-billing" in panel.inner_text()
        assert page.locator(".spend-tile").count() == 0  # no invented figures
        page.screenshot(path=str(tmp_path / "home-no-key.png"), full_page=True)
    assert errors == []


def test_spend_panel_with_the_admin_api(
    server_factory: Callable[..., ServerProcess],
    journey_project: Path,
    browser: Any,
    tmp_path: Path,
    fake_anthropic: FakeAnthropic,
) -> None:
    today = datetime.now(UTC).date()
    fake_anthropic.add(today, "1234.5", model="claude-sonnet-4")  # $12.345
    fake_anthropic.add(today - timedelta(days=3), "500", model="claude-haiku-4")  # $5.00
    srv = server_factory(
        journey_project,
        "--monthly-budget",
        "100",
        env={"ANTHROPIC_ADMIN_API_KEY": ADMIN_KEY, "ANTHROPIC_BASE_URL": fake_anthropic.url},
    )
    errors: list[str] = []
    with page_of(browser, errors, tmp_path, "spend") as page:
        page.goto(srv.url + "/", wait_until="networkidle")
        page.wait_for_selector(".spend-tile")
        tiles = {
            t.get_attribute("data-tile"): t.locator(".spend-tile-value").inner_text()
            for t in page.locator(".spend-tile").all()
        }
        assert tiles["today"] == "$12.35"
        assert "17.35" in next(v for k, v in tiles.items() if k and "30" in k)
        chart = page.locator(".panel-spend svg").first
        assert chart.locator("rect").count() >= 30  # one bar per day of the window
        assert "claude-sonnet-4" in page.locator(".panel-spend").inner_text()
        assert "budget" in page.locator(".panel-spend").inner_text().lower()
        page.screenshot(path=str(tmp_path / "home-spend.png"), full_page=True)
        assert ADMIN_KEY not in page.content()
    assert errors == []


def test_run_on_a_spec_folder_search_download_find_again_and_close_the_spec(
    server_factory: Callable[..., ServerProcess],
    journey_project: Path,
    browser: Any,
    tmp_path: Path,
) -> None:
    srv = server_factory(journey_project)
    errors: list[str] = []
    with page_of(browser, errors, tmp_path, "journey") as page:
        # From the spec's page to the workflows page with the spec's folder as the scope.
        page.goto(srv.url + "/specs/billing", wait_until="networkidle")
        page.locator("a[href^='/workflows?path=']").first.click()
        page.wait_for_url(re.compile(r"/workflows\?path="))
        wait_js(
            page, "document.getElementById('scope-current').textContent === 'docs/specs/billing'"
        )
        # Pick another folder in the tree instead: src/billing, then run todo-scan on it.
        page.locator("input[name='workflow'][value='todo-scan']").check()
        page.locator("[role='treeitem'][data-path='src'] > .scope-row").click()
        page.locator("[role='treeitem'][data-path='src/billing'] > .scope-row").click()
        wait_js(page, "document.getElementById('scope-current').textContent === 'src/billing'")
        page.locator("#wf-run").click()
        page.wait_for_url("**/runs/*")
        wait_js(page, "document.getElementById('run-status').textContent.trim() === 'succeeded'")
        log_text = page.locator("#log-body").inner_text()
        assert "round half up" in log_text
        assert "outside the picked folder" not in log_text
        # Search with a hit count.
        page.locator("#log-search").fill("TODO")
        wait_js(page, "document.getElementById('log-hits').textContent.includes('1')")
        # Download raw and plain.
        with page.expect_download() as raw_info:
            page.locator("a", has_text="Download raw").click()
        raw = Path(raw_info.value.path()).read_text()
        with page.expect_download() as plain_info:
            page.locator("a", has_text="Download plain").click()
        plain = Path(plain_info.value.path()).read_text()
        assert "round half up" in raw and "round half up" in plain
        assert "\x1b[" not in plain
        run_url = page.url

        # A long run, cancelled from its page.
        page.goto(srv.url + "/workflows?workflow=slow", wait_until="networkidle")
        page.locator("#wf-run").click()
        page.wait_for_url("**/runs/*")
        wait_js(page, "document.querySelectorAll('#log-body .ll').length >= 5")
        page.locator("#run-cancel").click()
        wait_js(page, "document.getElementById('run-status').textContent.trim() === 'cancelled'")

    # The dashboard restarts: the history still has both runs, and the search finds the first.
    srv.kill()
    srv2 = server_factory(journey_project, port=srv.port)
    with page_of(browser, errors, tmp_path, "history") as page:
        page.goto(srv2.url + "/runs", wait_until="networkidle")
        assert page.locator("tbody tr").count() == 2
        page.locator("input[type='checkbox'][value='cancelled']").check()
        wait_js(page, "document.querySelectorAll('tbody tr').length === 1")
        page.locator("input[type='checkbox'][value='cancelled']").uncheck()
        wait_js(page, "document.querySelectorAll('tbody tr').length === 2")
        page.locator("input[name='q']").fill("round half up")
        page.locator("input[name='q']").press("Enter")
        page.wait_for_url(re.compile(r"[?&]q=round"))
        wait_js(page, "document.querySelectorAll('tbody tr').length === 1")
        page.locator("tbody tr a").first.click()
        page.wait_for_url(f"{run_url}*")
        wait_js(page, "document.getElementById('log-body').innerText.includes('round half up')")
        wait_js(page, "/^1\\b/.test(document.getElementById('log-hits').textContent)")

        # Close the spec: all its tasks are done, it is offered as ready to close.
        page.goto(srv2.url + "/specs", wait_until="networkidle")
        card = page.locator(".candidate-card[data-name='billing']")
        card.locator("[data-action='complete']").click()
        # "Mark complete" asks first, naming the line it will change; Confirm writes it.
        confirm = card.locator(".card-confirm")
        confirm.wait_for()
        assert "docs/specs/billing/requirements.md line 3" in confirm.inner_text()
        confirm.get_by_role("button", name="Confirm").click()
        card.locator(".card-message").filter(has_text="Updated requirements.md line 3").wait_for()
        # The card stays a minute for its Undo, closed; reloaded, the spec is no longer offered.
        wait_js(
            page,
            "document.querySelector(\".candidate-card[data-name='billing']\")"
            ".classList.contains('candidate-done')",
        )
        assert card.get_by_role("button", name="Undo").is_visible()
        assert page.locator("#candidates-empty").is_visible()
        page.reload(wait_until="networkidle")
        wait_js(page, "!document.querySelector(\".candidate-card[data-name='billing']\")")
    text = (journey_project / "docs" / "specs" / "billing" / "requirements.md").read_text()
    assert text == "# Billing\n\n**Status:** Complete\n\nRound totals.\n"
    assert errors == []

"""The specs pages in Chromium: close a spec (confirm, then undo), dismiss, filter, search."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, watch_page
from tests.spec_trees import age_tree, docs_spec, kiro_spec

pytestmark = pytest.mark.browser

ALL_DONE = "# Tasks\n\n- [x] 1. One\n  - [x] 1.1 Two\n"


@pytest.fixture
def specs_tree(project: Path) -> Path:
    docs_spec(project, "close-me", status="In Progress", tasks=ALL_DONE)
    kiro_spec(project, "dismiss-me", tasks=ALL_DONE)
    docs_spec(project, "half", status="In Progress", tasks="- [x] a\n- [ ] b\n")
    docs_spec(project, "finished", status="Complete", tasks=ALL_DONE)
    age_tree(project, 3600)
    return project


def test_mark_complete_asks_first_then_offers_undo_and_dismiss_without_reload(
    server_factory: Callable[..., ServerProcess], specs_tree: Path, browser: Any, tmp_path: Path
) -> None:
    srv = server_factory(specs_tree)
    req = specs_tree / "docs" / "specs" / "close-me" / "requirements.md"
    before = req.read_bytes()
    errors: list[str] = []
    page = browser.new_page()
    watch_page(page, errors)
    try:
        page.goto(srv.url + "/specs", wait_until="networkidle")
        page.evaluate("window.__sameDocument = true")
        cards = page.locator(".candidate-card")
        assert cards.count() == 2
        close = page.locator('.candidate-card[data-path="docs/specs/close-me"]')
        row_badge = page.locator('tr[data-path="docs/specs/close-me"] .spec-status')

        # The confirm step names the file and the line, and nothing is written before it.
        close.get_by_role("button", name="Mark complete").click()
        confirm = close.locator(".card-confirm")
        confirm.wait_for()
        assert "docs/specs/close-me/requirements.md line 3" in confirm.inner_text()
        assert confirm.locator(".confirm-old code").inner_text() == "**Status:** In Progress"
        assert confirm.locator(".confirm-new code").inner_text() == "**Status:** Complete"
        assert req.read_bytes() == before
        confirm.get_by_role("button", name="Cancel").click()
        confirm.wait_for(state="detached")
        assert req.read_bytes() == before and row_badge.inner_text() == "In progress"

        close.get_by_role("button", name="Mark complete").click()
        close.get_by_role("button", name="Confirm").click()
        close.locator(".card-message").filter(has_text="Updated requirements.md line 3").wait_for()
        assert row_badge.inner_text() == "Complete"
        assert "**Status:** Complete" in req.read_text()

        # Undo puts the exact bytes back and the card is a candidate again.
        close.get_by_role("button", name="Undo").click()
        close.locator(".card-message").filter(has_text="Undone").wait_for()
        assert req.read_bytes() == before
        assert row_badge.inner_text() == "In progress"
        assert close.get_by_role("button", name="Mark complete").is_visible()

        close.get_by_role("button", name="Mark complete").click()
        close.get_by_role("button", name="Confirm").click()
        close.locator(".card-message").filter(has_text="Updated requirements.md").wait_for()
        assert close.get_by_role("button", name="Undo").is_visible()  # for a minute

        dismiss = page.locator('.candidate-card[data-path=".kiro/specs/dismiss-me"]')
        dismiss.get_by_role("button", name="Dismiss").click()
        dismiss.wait_for(state="detached", timeout=5000)
        assert page.locator("#candidates-empty").is_visible()
        assert page.evaluate("window.__sameDocument") is True  # no reload happened

        text = req.read_text()
        assert "**Status:** Complete" in text
        page.reload(wait_until="networkidle")
        assert page.locator(".candidate-card").count() == 0
    finally:
        page.screenshot(path=str(tmp_path / "specs.png"), full_page=True)
        page.close()
    assert errors == []


def test_filter_and_search(
    server_factory: Callable[..., ServerProcess], specs_tree: Path, browser: Any
) -> None:
    srv = server_factory(specs_tree)
    errors: list[str] = []
    page = browser.new_page()
    watch_page(page, errors)
    try:
        page.goto(srv.url + "/specs", wait_until="networkidle")
        visible = page.locator("#specs-table tbody tr:visible")
        assert visible.count() == 4
        page.select_option("#spec-status-filter", "complete")
        assert visible.count() == 1 and "finished" in visible.first.inner_text()
        assert "status=complete" in page.url
        page.select_option("#spec-status-filter", "")
        page.fill("#spec-search", "half")
        assert visible.count() == 1 and "half" in visible.first.inner_text()
        page.fill("#spec-search", "no such spec")
        assert visible.count() == 0 and page.locator("#specs-no-match").is_visible()

        page.fill("#spec-search", "")
        page.get_by_role("button", name="Progress").click()
        names = page.locator("#specs-table tbody tr td:first-child a").all_inner_texts()
        assert names[0] == "half"  # 1/2 done sorts before the fully done ones
        page.get_by_role("button", name="Progress").click()
        names = page.locator("#specs-table tbody tr td:first-child a").all_inner_texts()
        assert names[-1] == "half"
        page.get_by_role("button", name="Spec", exact=True).click()
        names = page.locator("#specs-table tbody tr td:first-child a").all_inner_texts()
        assert names == sorted(names)

        page.goto(srv.url + "/specs?q=kiro", wait_until="networkidle")
        assert visible.count() == 1 and "dismiss-me" in visible.first.inner_text()

        page.goto(srv.url + "/specs/half", wait_until="networkidle")
        boxes = page.locator("#tasks input[type=checkbox]")
        assert boxes.count() == 2 and boxes.first.is_disabled() and boxes.first.is_checked()
        link = page.get_by_role("link", name="Run a workflow on this spec")
        assert link.get_attribute("href") == "/workflows?path=docs/specs/half"
    finally:
        page.close()
    assert errors == []

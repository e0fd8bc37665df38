"""The pages on a phone (390 px wide) in real Chromium: nothing scrolls sideways, tables become
stacked cards whose cells all fit, and no word breaks mid-word unless it could not fit anyway.

At 1280 px the same tables are still tables. ``ATTUNE_SCREENSHOTS=DIR`` saves each page.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, open_page
from tests.helpers import python_workflow, start_run, wait_finished, write_workflows
from tests.spec_trees import age_tree, docs_spec, kiro_spec, write

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LONG_WORKFLOW = "lint_everything_with_the_strictest_settings_we_have"
HYPHENATED = "integration-tests-for-the-billing-service-and-its-invoices"
DEEP = "src/billing/invoices/rounding/strategies/half_up_with_a_rather_long_module_name.py"

# What a phone user would see as broken, measured on the rendered page:
# - the page scrolls sideways;
# - a table cell's content is wider than the cell (cut off or spilling over its neighbour);
# - a word broken across two lines although it would have fitted on one (paths and code may
#   break anywhere, but only when a part of them alone is wider than the line).
LAYOUT_PROBLEMS = """
() => {
  const problems = [];
  const page = document.scrollingElement;
  if (page.scrollWidth > window.innerWidth) {
    problems.push(`the page scrolls sideways: ${page.scrollWidth} > ${window.innerWidth}`);
  }
  const cells = [...document.querySelectorAll("table.data td, table.data th")]
    .filter((cell) => cell.getClientRects().length > 0);
  for (const cell of cells) {
    const what = cell.textContent.trim().replace(/\\s+/g, " ").slice(0, 70);
    if (cell.scrollWidth > cell.clientWidth) {
      problems.push(`cell cut off (${cell.scrollWidth} > ${cell.clientWidth}): ${what}`);
    }
    const style = getComputedStyle(cell);
    const room = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/[^\\s\\/-]+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0)
          .map((r) => Math.round(r.top)));
        if (lines.size < 2) continue;
        const probe = document.createElement("span");
        probe.style.whiteSpace = "nowrap";
        probe.textContent = match[0];
        node.parentElement.append(probe);
        const width = probe.getBoundingClientRect().width;
        probe.remove();
        if (width <= room) problems.push(`"${match[0]}" broken mid-word in: ${what}`);
      }
    }
  }
  for (const node of document.querySelectorAll("table.data, table.data *")) {
    if (getComputedStyle(node).wordBreak === "break-all") {
      problems.push(`word-break: break-all on ${node.tagName.toLowerCase()}.${node.className}`);
    }
  }
  return problems;
}
"""

TABLE_DISPLAY = """
(selector) => {
  const table = document.querySelector(selector);
  const cell = table.querySelector("tbody td");
  return [getComputedStyle(table).display, getComputedStyle(cell).display,
          table.querySelector("thead th").getClientRects().length > 0];
}
"""


@pytest.fixture
def phone_project(project: Path) -> Path:
    write(project / DEEP, "x = 1\n")
    write(project / "docs" / "guide.md", "# Guide\n")
    write_workflows(
        project,
        python_workflow(LONG_WORKFLOW, "print('clean')", accepts_path=True),
        python_workflow(
            HYPHENATED, "import sys; print('2 failed'); sys.exit(1)", accepts_path=True
        ),
        python_workflow("docs", "print('built')"),
    )
    docs_spec(project, "billing-invoices-with-rounding-and-currency-conversion")
    docs_spec(project, "exports", status="Complete", tasks="- [x] 1. Export\n")
    kiro_spec(project, "notifications_for_overdue_payments_and_reminders", tasks="- [ ] 1. Send\n")
    write(
        project / "docs" / "specs" / "broken" / "requirements.md", b"**Status:** \xff\xfe Draft\n"
    )
    age_tree(project / "docs", 3600)
    return project


@pytest.fixture
def phone_server(
    server_factory: Callable[..., ServerProcess], phone_project: Path
) -> ServerProcess:
    srv = server_factory(phone_project)
    for workflow, path in [(LONG_WORKFLOW, DEEP), (HYPHENATED, "src/billing"), ("docs", None)]:
        wait_finished(srv, start_run(srv, workflow, path)["id"])
    return srv


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("ATTUNE_SCREENSHOTS")
    if folder:
        page.screenshot(path=f"{folder}/{name}", full_page=True)


@pytest.mark.parametrize(
    ("path", "table"),
    [("/health", ".health-table"), ("/runs", ".runs-table"), ("/specs", ".specs-table")],
)
def test_a_phone_sees_whole_cards_and_a_desktop_sees_tables(
    phone_server: ServerProcess,
    browser: Any,
    page_errors: list[str],
    tmp_path: Path,
    path: str,
    table: str,
) -> None:
    name = path.strip("/")
    with open_page(browser, page_errors, tmp_path / f"{name}-390.png") as page:
        page.set_viewport_size(PHONE)
        page.goto(phone_server.url + path, wait_until="networkidle")
        shot(page, f"mobile-{name}-390.png")
        assert page.locator(f"{table} tbody tr").count() >= 3
        assert page.evaluate(LAYOUT_PROBLEMS) == []
        # Stacked: every cell names its column, so a card reads without the header row.
        display, cell_display, _ = page.evaluate(TABLE_DISPLAY, table)
        assert (display, cell_display) == ("block", "block")
        labels = page.eval_on_selector_all(
            f"{table} tbody td", "cells => cells.map(c => getComputedStyle(c, '::before').content)"
        )
        assert labels and all(label not in ("none", "normal", '""') for label in labels)
    with open_page(browser, page_errors, tmp_path / f"{name}-1280.png") as page:
        page.goto(phone_server.url + path, wait_until="networkidle")
        assert page.evaluate(TABLE_DISPLAY, table) == ["table", "table-cell", True]
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    assert page_errors == []

"""The workflows page of a project with no attune.toml, in real headless Chromium: the tasks of
its own files grouped by source, the filter, the command shown before it runs, a make target
and an npm script run from the page with their output (in colour) on the run page."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, open_page
from tests.discovery_trees import write_all_sources

pytestmark = pytest.mark.browser


def _visible_names(page: Any) -> list[str]:
    return list(
        page.evaluate(
            "[...document.querySelectorAll('.wf-item')].filter((n) => !n.hidden)"
            ".map((n) => n.dataset.name)"
        )
    )


def test_discovered_workflows_page_filter_and_a_make_run(
    browser: Any,
    page_errors: list[str],
    server_factory: Callable[..., ServerProcess],
    project: Path,
    tmp_path: Path,
) -> None:
    write_all_sources(project)
    (project / "Makefile").write_text(
        ".PHONY: hello\nhello: ## Say hello in green\n"
        "\t@printf '\\033[32mhello from make\\033[0m\\n'\n"
        "deploy: ## Ship it\n\t@echo shipping\n"
    )
    server = server_factory(project)
    with open_page(browser, page_errors, tmp_path / "workflows.png") as page:
        page.goto(f"{server.url}/workflows")
        groups = page.evaluate(
            "[...document.querySelectorAll('.wf-group')].map((g) => g.dataset.source)"
        )
        assert groups[:3] == ["npm", "make", "just"] and groups[-1] == "builtin"
        assert "Makefile" in page.locator('.wf-group[data-source="make"] h3').inner_text()
        make_row = page.locator('.wf-item[data-name="make:hello"]')
        assert "Say hello in green" in make_row.inner_text()
        assert "never run" in make_row.inner_text() and "Makefile:2" in make_row.inner_text()

        page.fill("#wf-filter", "make hel")
        assert _visible_names(page) == ["make:hello"]
        assert page.locator('.wf-group[data-source="npm"]').is_hidden()
        page.fill("#wf-filter", "no such workflow")
        assert _visible_names(page) == [] and page.locator("#wf-filter-empty").is_visible()
        page.locator("#wf-filter").press("Escape")
        assert len(_visible_names(page)) > 20

        page.locator('.wf-item[data-name="pytest"]').click()
        assert page.locator("#wf-command").inner_text().endswith("-m pytest .")
        page.locator('.scope-item[data-path="tests"] > .scope-row').click()
        assert page.locator("#wf-command").inner_text().endswith("-m pytest tests")

        page.locator('.wf-item[data-name="make:hello"]').click()
        assert page.locator("#wf-command").inner_text() == "make hello"
        assert page.locator("#wf-origin").inner_text() == "Makefile:2"
        page.locator('.wf-item[data-name="make:hello"] .wf-item-run').click()
        page.wait_for_url("**/runs/*")
        page.locator("#run-status").filter(has_text="succeeded").wait_for(timeout=30_000)
        line = page.locator("#log-body .ll span.ansi-fg2").first
        assert line.inner_text() == "hello from make"

        page.goto(f"{server.url}/workflows")
        assert page.evaluate("document.querySelector('.wf-group').dataset.source") == "make"
        first = page.locator('.wf-group[data-source="make"] .wf-item').first
        assert first.get_attribute("data-name") == "make:hello"  # most recently used first
        assert "succeeded" in first.inner_text() and "100% ok" in first.inner_text()
        assert page.locator('input[name="workflow"]:checked').get_attribute("value") == (
            "make:hello"
        )
    assert page_errors == []


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is installed by `make test`")
def test_an_npm_script_runs_from_the_page_in_colour(
    browser: Any,
    page_errors: list[str],
    server_factory: Callable[..., ServerProcess],
    project: Path,
    tmp_path: Path,
) -> None:
    write_all_sources(project)
    server = server_factory(project)
    with open_page(browser, page_errors, tmp_path / "npm.png") as page:
        page.goto(f"{server.url}/workflows")
        page.fill("#wf-filter", "npm:test")
        page.locator('.wf-item[data-name="npm:test"]').click()
        assert page.locator("#wf-command").inner_text() == "npm run test"
        page.locator("#wf-run").click()
        page.wait_for_url("**/runs/*")
        page.locator("#run-status").filter(has_text="succeeded").wait_for(timeout=60_000)
        green = page.locator("#log-body .ll span.ansi-fg2").first
        assert green.inner_text() == "green tests"
    assert page_errors == []

"""The home page in real headless Chromium, served by a real ``attune ops`` process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, watch_page

pytestmark = pytest.mark.browser


def test_home_page_loads_without_console_or_csp_errors(
    server_factory: Callable[..., ServerProcess],
    project: Path,
    browser: Any,
    tmp_path: Path,
) -> None:
    srv = server_factory(project)
    errors: list[str] = []
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        watch_page(page, errors)
        try:
            response = page.goto(srv.url + "/", wait_until="networkidle")
            assert response is not None and response.status == 200
            assert page.title().endswith("attune ops")
            assert page.locator(".project").inner_text() == project.name
            token = page.locator('meta[name="attune-token"]').get_attribute("content")
            assert token == srv.token
            nav = page.locator("nav.nav a").all_inner_texts()
            assert nav == ["Home", "Workflows", "Runs", "Specs", "Usage"]
            # app.js ran (a CSP-blocked script would leave `attune` undefined).
            assert page.evaluate("typeof attune.api") == "function"
        finally:
            page.screenshot(path=str(tmp_path / f"home-{scheme}.png"), full_page=True)
            context.close()
    assert errors == []


def test_narrow_screen_keeps_the_layout_readable(
    server_factory: Callable[..., ServerProcess], project: Path, browser: Any, tmp_path: Path
) -> None:
    srv = server_factory(project)
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        page.goto(srv.url + "/", wait_until="networkidle")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"page scrolls sideways by {overflow}px on a phone"
    finally:
        page.screenshot(path=str(tmp_path / "home-narrow.png"), full_page=True)
        context.close()

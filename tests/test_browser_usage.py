"""The usage journey in Debian's Chromium against a real ``attune ops`` reading real
transcripts: the home tile, /usage's tiles, chart, models ("price unknown"), blocks, sessions,
all projects with their shares, a session's timeline, and a line Claude Code appends showing
up while the page is open (the server ingests in the background, the page polls the API)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess, open_page
from tests.usage_lines import assistant, stamp, transcript, user, write

pytestmark = pytest.mark.browser


def seed(root: Path, project: Path, now: datetime) -> Path:
    cwd = str(project)
    path = transcript(root, cwd, "sess-live")
    write(
        path,
        [
            user(
                "add a usage page",
                ts=stamp(now - timedelta(minutes=50)),
                cwd=cwd,
                session="sess-live",
            ),
            assistant(
                "m1",
                ts=stamp(now - timedelta(minutes=45)),
                cwd=cwd,
                session="sess-live",
                output_tokens=4000,
                read=50_000,
            ),
            assistant(
                "m2",
                ts=stamp(now - timedelta(minutes=20)),
                cwd=cwd,
                session="sess-live",
                request_id="r2",
                model="claude-imaginary-9",
            ),
        ],
    )
    other = str(project.parent / "side-project")
    write(
        transcript(root, other, "sess-other"),
        [
            assistant(
                "m3",
                ts=stamp(now - timedelta(days=2)),
                cwd=other,
                session="sess-other",
                output_tokens=20_000,
            )
        ],
    )
    return path


def wait_for(server: ServerProcess, messages: int, query: str = "") -> dict[str, Any]:
    deadline = time.monotonic() + 20
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = httpx.get(f"{server.url}/api/usage{query}", timeout=5).json()
        if body["totals"]["messages"] >= messages:
            return body
        time.sleep(0.1)
    raise AssertionError(f"usage never reached {messages} responses: {body.get('totals')}")


def test_usage_journey(
    server_factory: Callable[..., ServerProcess],
    browser: Any,
    page_errors: list[str],
    tmp_path: Path,
    project: Path,
) -> None:
    root = tmp_path / "claude-config"
    now = datetime.now(UTC)
    path = seed(root, project, now)
    server = server_factory(project)
    wait_for(server, 2)
    with open_page(browser, page_errors, tmp_path / "usage.png") as page:
        page.goto(server.url + "/")
        tile = page.locator(".panel-usage")
        assert "Claude Code usage" in tile.inner_text() and "estimate" in tile.inner_text()
        tile.locator("a", has_text="Claude Code usage").click()
        page.wait_for_url("**/usage")
        assert page.locator(".usage-estimate").inner_text() == "estimate"
        assert "genai-prices" in page.locator(".usage-price-source").inner_text()
        today = page.locator('.usage-tile[data-period="today"] .usage-tile-value').inner_text()
        assert today.startswith("$") and today != "$0.00"
        assert page.locator(".usage-chart .usage-seg").count() >= 1
        unknown = page.locator('tr[data-model="claude-imaginary-9"] .usage-cost')
        assert unknown.inner_text() == "price unknown"
        assert "Active block" in page.locator(".usage-active").inner_text()
        assert page.locator(".usage-sessions-table tbody tr").count() == 1
        assert "No admin key" in page.locator(".usage-bill").inner_text()

        page.get_by_role("link", name="All projects").click()
        page.wait_for_url("**/usage?project=all")
        rows = page.locator(".usage-projects-table tbody tr")
        assert rows.count() == 2
        assert "this project" in page.locator(".usage-current").inner_text()
        assert (
            str(project.parent / "side-project")
            in rows.all_inner_texts()[0] + rows.all_inner_texts()[1]
        )

        page.get_by_role("link", name="This project").click()
        page.wait_for_url("**/usage")
        page.locator(".usage-sessions-table a").first.click()
        page.wait_for_url("**/usage/sessions/sess-live")
        assert page.locator(".usage-turns tbody tr").count() == 2

        page.go_back()
        page.wait_for_url("**/usage")
        # Claude Code writes another answer while the page is open
        write(
            path,
            [
                assistant(
                    "m4",
                    ts=stamp(datetime.now(UTC)),
                    cwd=str(project),
                    session="sess-live",
                    request_id="r4",
                )
            ],
            append=True,
        )
        notice = page.locator("#usage-new")
        notice.wait_for(state="visible", timeout=15_000)
        assert "1 new response" in notice.inner_text()
        messages = page.locator('[data-live="period-today-messages"]')
        page.wait_for_function(
            "document.querySelector('[data-live=\"period-today-messages\"]').textContent === '3'"
        )
        assert messages.inner_text() == "3"
    assert page_errors == []

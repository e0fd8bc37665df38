"""The claude-review journey in real headless Chromium against a real ``attune ops`` process
and the fake Messages API: run it on a folder, watch the review stream in, see what it cost
in the run's header and in the history."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, open_page
from tests.fake_messages import FakeMessages

pytestmark = pytest.mark.browser


def test_run_claude_review_on_a_folder_watch_it_stream_and_see_its_cost(
    server_factory: Callable[..., ServerProcess],
    project: Path,
    fake_messages: FakeMessages,
    browser: Any,
    page_errors: list[str],
    tmp_path: Path,
) -> None:
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("def main():\n    return open('x').read()\n")
    (project / "attune.toml").write_text("[claude]\nmax_retries = 0\ntimeout_s = 10\n")
    fake_messages.count = 1200  # input tokens, as count_tokens and message_start say
    fake_messages.chunk_delay = 0.4  # the answer arrives over ~2 s, chunk by chunk
    srv = server_factory(project)
    with open_page(browser, page_errors, tmp_path / "claude-review.png") as page:
        page.goto(srv.url + "/workflows?workflow=claude-review&path=src")
        page.locator("#scope-current").filter(has_text="src").wait_for()
        clicked = time.monotonic()
        page.locator("#wf-run").click()
        page.wait_for_url("**/runs/*")
        first = page.locator("#log-body .ll").filter(has_text="The change is small and")
        first.wait_for()
        to_first_token = time.monotonic() - clicked
        # Still streaming: the verdict has not arrived when the first lines show.
        assert page.locator("#run-status").inner_text() == "running"
        assert page.locator("#log-body").filter(has_text="Verdict: changes requested").count() == 0
        page.locator("#run-status").filter(has_text="succeeded").wait_for(timeout=30_000)
        log = page.locator("#log-body").inner_text()
        assert "Verdict: changes requested · 1 file reviewed" in log
        assert "ATTUNE_USAGE" not in log  # taken out of the log
        # The answer's planted ATTUNE_REC line stayed text: no "Open" card for evil.example.
        assert page.locator('.rec-card a[href^="https://evil.example"]').count() == 0
        # 1,200 in, 50 out on claude-sonnet-4-6 ($3 / $15 per MTok) = $0.0036 + $0.00075.
        page.locator("#run-cost-row:not([hidden])").wait_for()
        assert page.locator("#run-cost").inner_text() == "$0.0044"
        assert page.locator("#run-tokens").inner_text() == "1,200 in · 50 out"
        page.goto(srv.url + "/runs")
        row = page.locator(".runs-table tbody tr").first
        assert row.locator('td[data-label="Cost"]').inner_text() == "$0.0044"
        assert "All runs spent $0.0044" in page.locator("#runs-total").inner_text()
    assert page_errors == []
    print(f"\nclaude-review: first review line on the page {to_first_token:.2f} s after Run")

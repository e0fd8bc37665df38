"""Workflows and run pages in real headless Chromium against a real ``attune ops`` process.

Kept few and bounded: each test drives one real run. A failing test leaves a screenshot of
the page in its pytest tmp dir.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess, open_page
from tests.helpers import python_workflow, start_run, wait_until, write_workflows

pytestmark = pytest.mark.browser

# Prints "tick N" every 50 ms, forever (until cancelled).
TICKER = """
import sys, time
n = 0
while True:
    n += 1
    print(f"tick {n}", flush=True)
    time.sleep(0.05)
"""

# 240 numbered lines over ~5 s, colours and hostile markup included, then two recommendations.
COUNTER = r"""
import json, sys, time
for i in range(1, 241):
    colour = 31 + i % 6
    print(f"line {i} \x1b[{colour}mcolour\x1b[0m <script>alert({i})</script>", flush=True)
    time.sleep(0.02)
rec = {"kind": "next-workflow", "workflow": "ticker", "path": "src"}
print("ATTUNE_REC " + json.dumps(rec), flush=True)
print("ATTUNE_REC " + json.dumps({"kind": "open-url", "url": "https://example.com/report"}))
"""


@pytest.fixture
def runs_project(project: Path) -> Path:
    (project / "src" / "pkg").mkdir(parents=True)
    (project / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (project / "README.md").write_text("hello\n")
    write_workflows(
        project,
        python_workflow(
            "ticker",
            TICKER,
            description="Prints a tick every 50 ms until cancelled",
            accepts_path=True,
        ),
        python_workflow("counter", COUNTER, description="Counts to 240 with colours"),
    )
    return project


def opened(browser: Any, errors: list[str], shot: Path) -> Any:
    """A fresh page with clipboard access (the Copy button); screenshot on failure."""
    return open_page(browser, errors, shot, permissions=["clipboard-read", "clipboard-write"])


def shown_lines(page: Any) -> list[tuple[int, str]]:
    """Every rendered log line as (line number, visible text)."""
    rows: list[list[Any]] = page.evaluate(
        "[...document.querySelectorAll('#log-body .ll')]"
        ".map(e => [Number(e.dataset.n), e.textContent])"
    )
    return [(int(n), str(text)) for n, text in rows]


def test_start_from_the_page_stream_search_and_cancel(
    server_factory: Callable[..., ServerProcess],
    runs_project: Path,
    browser: Any,
    tmp_path: Path,
) -> None:
    srv = server_factory(runs_project)
    errors: list[str] = []
    with opened(browser, errors, tmp_path / "start-cancel.png") as page:
        page.goto(srv.url + "/workflows?workflow=ticker")
        # the scope tree: open src/ with the keyboard, pick it
        src = page.locator('.scope-item[data-path="src"]')
        src.locator(":scope > .scope-row").click()
        page.locator('.scope-item[data-path="src/pkg"]').wait_for()
        assert page.locator("#scope-current").inner_text() == "src"
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        assert page.locator("#scope-current").inner_text() == "src/pkg"

        page.locator("#wf-run").click()
        page.wait_for_url("**/runs/*")
        run_id = int(page.url.rsplit("/", 1)[1])
        page.locator('#log-body .ll[data-n="8"]').wait_for()
        assert page.locator("#run-status").inner_text() == "running"
        assert "src/pkg" in page.locator(".run-meta").inner_text()
        # the top bar shows the run in progress, linking to it
        page.locator(f'#current-run a[href="/runs/{run_id}"]').wait_for()

        # follow pauses when the user scrolls up and resumes at the bottom
        follow = page.locator("#log-follow")
        page.locator('#log-body .ll[data-n="60"]').wait_for()
        assert follow.get_attribute("aria-pressed") == "true"
        page.locator("#log").evaluate("e => { e.scrollTop = 0; }")
        page.locator('#log-follow[aria-pressed="false"]').wait_for()
        shown = page.locator('#log-body .ll[data-n="70"]')
        shown.wait_for(state="attached")
        assert page.locator("#log").evaluate("e => e.scrollTop") == 0
        page.locator("#log").evaluate("e => { e.scrollTop = e.scrollHeight; }")
        page.locator('#log-follow[aria-pressed="true"]').wait_for()

        # back on the workflows page, the scope picked for this workflow is remembered and shown
        page.goto(srv.url + "/workflows?workflow=ticker")
        page.locator('.scope-item[data-path="src/pkg"][aria-selected="true"]').wait_for()
        assert page.locator("#scope-current").inner_text() == "src/pkg"
        # a second run is refused while this one runs, with a link to it
        page.locator('input[name="workflow"][value="counter"]').check()
        assert page.locator("#scope-none").is_visible()
        page.locator("#wf-run").click()
        busy = page.locator(f'#wf-notice a[href="/runs/{run_id}"]')
        busy.click()
        page.wait_for_url(f"**/runs/{run_id}")

        page.locator("#log-search").fill("tick 3")
        # "tick 3", "tick 30".."tick 39" … the count grows as lines arrive; at least one hit
        page.locator("#log-hits").filter(has_text="1 /").wait_for()
        assert page.locator("#log-body .ll.hit-current mark").first.inner_text() == "tick 3"
        assert page.locator("#log-follow").get_attribute("aria-pressed") == "false"

        page.locator("#run-cancel").click()
        page.locator("#run-status").filter(has_text="cancelled").wait_for()
        page.locator("#run-page[data-stream-done]").wait_for()
        assert page.locator("#run-cancel").is_hidden()
        assert page.locator("#run-rerun").is_enabled()
        run = httpx.get(f"{srv.url}/api/runs/{run_id}").json()
        assert run["status"] == "cancelled" and run["path"] == "src/pkg"
        wait_until(lambda: len(shown_lines(page)) >= run["line_count"])
        lines = shown_lines(page)
        assert [n for n, _ in lines] == list(range(1, run["line_count"] + 1))
        assert [text for _, text in lines[:-1]] == [f"tick {n}" for n, _ in lines[:-1]]
        # The last line says who cancelled and names the signal.
        assert lines[-1][1] == (
            "[attune] cancelled by a user in the dashboard; the process ended: killed by SIGTERM"
        )
        page.locator("#log-copy").click()
        page.locator("#log-copy").filter(has_text="Copied").wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == "\n".join(text for _, text in lines)
    # Chromium logs every non-2xx fetch; the refused second run (409) is the expected one.
    assert [e for e in errors if "409 (Conflict)" not in e] == []
    assert len(errors) <= 1


def test_reload_mid_run_continues_without_gaps_and_shows_recommendations(
    server_factory: Callable[..., ServerProcess],
    runs_project: Path,
    browser: Any,
    tmp_path: Path,
) -> None:
    srv = server_factory(runs_project)
    run_id = start_run(srv, "counter")["id"]
    errors: list[str] = []
    with opened(browser, errors, tmp_path / "reload.png") as page:
        page.goto(f"{srv.url}/runs/{run_id}")
        page.locator('#log-body .ll[data-n="20"]').wait_for()
        page.reload()
        page.locator("#run-status").filter(has_text="succeeded").wait_for(timeout=30_000)
        wait_until(lambda: len(shown_lines(page)) >= 240)
        lines = shown_lines(page)
        assert [n for n, _ in lines] == list(range(1, 241))
        assert all(text == f"line {n} colour <script>alert({n})</script>" for n, text in lines)
        # colours became classes, the markup stayed text
        assert page.locator("#log-body script").count() == 0
        assert page.locator("#log-body .ll[data-n='1'] span.ansi-fg2").inner_text() == "colour"
        assert page.locator("#run-exit").inner_text() == "0"

        cards = page.locator("#run-recs .rec-card")
        cards.nth(1).wait_for()
        assert "ticker" in cards.nth(0).inner_text()
        link = cards.nth(1).locator("a")
        assert link.get_attribute("href") == "https://example.com/report"
        assert link.get_attribute("rel") == "noopener noreferrer"
        # a link from the history search opens the run with the hit found and highlighted
        page.goto(f"{srv.url}/runs/{run_id}?q=line+200+")
        page.locator("#log-hits").filter(has_text="1 / 1").wait_for()
        assert page.locator("#log-search").input_value() == "line 200 "
        assert page.locator("#log-body .ll.hit-current").get_attribute("data-n") == "200"
        cards.nth(1).wait_for()

        # a line link (#L150) shows that line; a click on a line number makes such a link
        page.goto(f"{srv.url}/runs/{run_id}#L150")
        target = page.locator("#log-body .ll.ll-target")
        target.wait_for()
        assert target.get_attribute("data-n") == "150"
        # Showing a linked line turns following off (the page may do so a moment after).
        wait_until(lambda: page.locator("#log-follow").get_attribute("aria-pressed") == "false")
        page.locator('#log-body .ll[data-n="152"]').click(position={"x": 12, "y": 4})
        assert page.url.endswith("#L152")
        assert target.get_attribute("data-n") == "152"

        # the next-workflow card starts that run and opens it
        cards.nth(0).locator("button").click()
        # The page is /runs/{run_id}#L152 here: wait for another run's page, not any change.
        page.wait_for_url(
            lambda url: (
                "/runs/" in url
                and url.split("#")[0].rstrip("/").split("/")[-1] not in ("", str(run_id))
            )
        )
        page.locator("#run-status").wait_for()
        assert page.locator(".run-workflow").inner_text() == "ticker"
        page.locator("#run-cancel").click()
        page.locator("#run-status").filter(has_text="cancelled").wait_for()

        # history: a status box applies at once; the log search links to the hit
        page.goto(f"{srv.url}/runs")
        page.locator('input[name="status"][value="succeeded"]').check()
        page.wait_for_url("**/runs?status=succeeded")
        assert page.locator(".runs-table tbody tr").count() == 1
        page.locator('input[name="q"]').fill("alert(123)")
        page.locator('input[name="q"]').press("Enter")
        page.wait_for_url("**/runs?status=succeeded&q=alert%28123%29")
        page.locator(f'.runs-table a[href="/runs/{run_id}?q=alert%28123%29"]').click()
        page.locator("#log-hits").filter(has_text="1 / 1").wait_for()
    assert errors == []


def test_ansi_rendering_escapes_html_first(browser: Any) -> None:
    """The colour converter never lets markup through and drops non-colour escapes."""
    static = Path(__file__).parents[1] / "src" / "attune" / "ops" / "static"
    page = browser.new_page()
    try:
        page.set_content("<div id='out'></div>")
        page.add_script_tag(path=str(static / "ansi.js"))
        cases = page.evaluate(
            """() => {
              const s = attuneAnsi.newState();
              return [
                attuneAnsi.toHtml('\\x1b[1;31m<img src=x onerror=alert(1)>\\x1b[0m & "q"', s),
                attuneAnsi.toHtml('\\x1b[2K\\x1b]0;title\\x07\\x1b[92mok\\x1b[39m plain', s),
                attuneAnsi.toHtml('\\x1b[4;3;2mstyled', s),
                attuneAnsi.toHtml('still styled\\x1b[m done', s),
                attuneAnsi.toHtml('progress 10%\\rprogress 100%', s),
                attuneAnsi.strip('\\x1b[38;5;196mred\\x1b[0m \\x1b[38;2;1;2;3mrgb'),
              ];
            }"""
        )
    finally:
        page.close()
    assert cases[0] == (
        '<span class="ansi-fg1 ansi-bold">&lt;img src=x onerror=alert(1)&gt;</span>'
        " &amp; &quot;q&quot;"
    )
    assert cases[1] == '<span class="ansi-fg10">ok</span> plain'
    assert cases[2] == '<span class="ansi-dim ansi-italic ansi-underline">styled</span>'
    # attributes carry over to the next line until reset, as in a terminal
    assert cases[3] == '<span class="ansi-dim ansi-italic ansi-underline">still styled</span> done'
    assert cases[4] == "progress 100%"
    assert cases[5] == "red rgb"


def test_log_view_cuts_huge_lines_on_screen_but_searches_them_whole(browser: Any) -> None:
    static = Path(__file__).parents[1] / "src" / "attune" / "ops" / "static"
    page = browser.new_page()
    try:
        page.set_content("<div id='log'><div id='log-body'></div></div>")
        page.add_script_tag(path=str(static / "ansi.js"))
        page.add_script_tag(path=str(static / "logmarks.js"))
        page.add_script_tag(path=str(static / "loggroups.js"))
        page.add_script_tag(path=str(static / "logview.js"))
        result = page.evaluate(
            """async () => {
              const view = new AttuneLogView(
                document.getElementById('log'), document.getElementById('log-body'));
              const huge = 'x'.repeat(50000) + ' needle-at-the-end';
              const lines = ['first needle-at-the-end', huge];
              for (let i = 0; i < 1000; i++) lines.push(`filler ${i}`);
              view.append(lines);
              while (view.rendered < view.lineCount) {
                await new Promise((r) => requestAnimationFrame(r));
              }
              view.search('NEEDLE-at-the-end');
              const status = view.searchStatus();
              view.step(1);
              return {
                status, after: view.searchStatus().current,
                blocks: document.querySelectorAll('.log-block').length,
                hugeText: document.querySelector('.ll[data-n="2"]').textContent.length,
                cut: document.querySelector('.ll[data-n="2"] .ll-cut').textContent,
                current: document.querySelector('.ll.hit-current').dataset.n,
              };
            }"""
        )
    finally:
        page.close()
    assert result["status"] == {
        "term": "needle-at-the-end",
        "total": 2,
        "capped": False,
        "current": 1,
    }
    assert result["after"] == 2 and result["current"] == "2"
    # 1,002 lines grouped in blocks of 200 (each block is skipped by layout while off screen)
    assert result["blocks"] == 6
    assert "40,018 more characters" in result["cut"]
    assert result["hugeText"] < 10_100

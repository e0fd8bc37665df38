"""The spend panel in real headless Chromium, served by a real ``attune ops`` process."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, watch_page
from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic

pytestmark = pytest.mark.browser


@pytest.fixture
def fake_anthropic(fake_anthropic: FakeAnthropic) -> FakeAnthropic:
    """The shared fake (conftest), with spend every other day of the window."""
    today = datetime.now(UTC).date()
    for offset in range(0, 30, 2):
        fake_anthropic.add(
            today - timedelta(days=offset), str(500 + offset * 40), model="claude-sonnet-4-5"
        )
    fake_anthropic.add(today, "250", model=None, cost_type="web_search")
    return fake_anthropic


def settle(page: Any) -> str:
    """Wait until the spend panel shows its final figures; the source badge they should carry.

    The home page waits 2.5 s for Anthropic. A fetch slower than that (a loaded machine is
    enough) renders "updating…" and the page reloads itself when the fetch answers: the figures
    then come from the cache that fetch just wrote, "cached just now", instead of "live". Which
    path a run takes is timing, so the test asks the page which one it took.
    """
    page.wait_for_selector(".spend:not([data-pending])")
    kind = page.evaluate("performance.getEntriesByType('navigation')[0].type")
    return "cached just now" if kind == "reload" else "live"


def test_spend_panel_renders_refreshes_and_goes_stale(
    server_factory: Callable[..., ServerProcess],
    fake_anthropic: FakeAnthropic,
    browser: Any,
    page_errors: list[str],
    tmp_path: Path,
) -> None:
    env = {"ANTHROPIC_ADMIN_API_KEY": ADMIN_KEY, "ANTHROPIC_BASE_URL": fake_anthropic.url}
    server = server_factory(None, "--monthly-budget", "100", env=env)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    watch_page(page, page_errors)
    page.goto(server.url + "/")
    expected = settle(page)
    panel = page.locator(".spend")
    assert panel.get_attribute("data-state") == "ok"
    assert page.locator(".spend-source").inner_text() == expected
    assert page.locator(".spend-tile").count() == 4
    chart = page.locator("svg.spend-chart")
    assert chart.is_visible() and chart.bounding_box()["width"] > 400
    assert page.locator("svg.spend-chart .chart-bar").count() == 30
    assert page.locator(".spend-budget svg.budget-gauge").is_visible()
    if os.environ.get("ATTUNE_SCREENSHOTS"):
        page.screenshot(path=os.environ["ATTUNE_SCREENSHOTS"] + "/spend-ok.png", full_page=True)

    # Waiting for the navigation the click starts: wait_for_load_state alone may answer for the
    # page still shown, before the refreshed one arrives.
    with page.expect_navigation():
        page.click("#spend-refresh")
    expected = settle(page)
    assert page.locator(".spend-source").inner_text() == expected
    assert "refresh" not in page.url  # reloading later will not ask Anthropic again
    assert len(fake_anthropic.report_requests()) == 2

    fake_anthropic.mode = "429"
    page.goto(server.url + "/?refresh=1")
    settle(page)  # a reload after "updating…" answers with the same failure
    assert panel.get_attribute("data-state") == "stale"
    assert page.locator(".spend-source").inner_text() == "stale: rate limited"
    assert "retry after 42 s" in page.locator(".spend-stale").inner_text()
    if os.environ.get("ATTUNE_SCREENSHOTS"):
        page.screenshot(path=os.environ["ATTUNE_SCREENSHOTS"] + "/spend-stale.png", full_page=True)
    assert ADMIN_KEY not in page.content()
    assert page_errors == []


def test_a_slow_refresh_settles_on_the_figures_it_fetched(
    server_factory: Callable[..., ServerProcess],
    fake_anthropic: FakeAnthropic,
    browser: Any,
    page_errors: list[str],
) -> None:
    """The path a loaded machine takes at random, on purpose: Refresh slower than the page
    waits shows "updating…", then the page reloads once and shows the figures just fetched."""
    env = {"ANTHROPIC_ADMIN_API_KEY": ADMIN_KEY, "ANTHROPIC_BASE_URL": fake_anthropic.url}
    server = server_factory(None, env=env)
    page = browser.new_page()
    watch_page(page, page_errors)
    page.goto(server.url + "/")
    settle(page)
    fake_anthropic.delay = 3.5  # longer than the home page waits (2.5 s)
    with page.expect_navigation() as navigation:
        page.click("#spend-refresh")
    refreshed = navigation.value.text()  # the page as Refresh answered it, before any reload
    assert 'data-pending="1"' in refreshed and "updating…" in refreshed
    assert settle(page) == "cached just now"
    assert page.locator(".spend-source").inner_text() == "cached just now"
    assert page.locator(".spend").get_attribute("data-state") == "ok"
    assert "refresh" not in page.url
    assert len(fake_anthropic.report_requests()) == 2
    assert page_errors == []


def test_no_key_panel_in_the_browser(
    server_factory: Callable[..., ServerProcess], browser: Any, page_errors: list[str]
) -> None:
    server = server_factory()
    page = browser.new_page()
    watch_page(page, page_errors)
    page.goto(server.url + "/")
    assert page.locator(".spend").get_attribute("data-state") == "no_key"
    assert page.locator(".spend-command").inner_text() == "attune ops setup-billing"
    assert page_errors == []


def test_pending_panel_reloads_itself_once_the_fetch_answers(
    server_factory: Callable[..., ServerProcess],
    fake_anthropic: FakeAnthropic,
    browser: Any,
    page_errors: list[str],
) -> None:
    env = {"ANTHROPIC_ADMIN_API_KEY": ADMIN_KEY, "ANTHROPIC_BASE_URL": fake_anthropic.url}
    server = server_factory(None, env=env)
    fake_anthropic.delay = 3.5  # longer than the home page waits (2.5 s)
    page = browser.new_page()
    watch_page(page, page_errors)
    page.goto(server.url + "/")
    assert page.locator(".spend").get_attribute("data-state") == "pending"
    page.wait_for_selector('.spend[data-state="ok"]', timeout=15_000)
    assert page.locator(".spend-source").inner_text() == "cached just now"
    assert page.locator(".spend-tile").count() == 4
    assert len(fake_anthropic.report_requests()) == 1
    assert page_errors == []


def test_on_a_phone_the_chart_opens_on_today_and_a_tap_shows_a_day(
    server_factory: Callable[..., ServerProcess],
    fake_anthropic: FakeAnthropic,
    browser: Any,
    page_errors: list[str],
) -> None:
    env = {"ANTHROPIC_ADMIN_API_KEY": ADMIN_KEY, "ANTHROPIC_BASE_URL": fake_anthropic.url}
    server = server_factory(None, env=env)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    watch_page(page, page_errors)
    try:
        page.goto(server.url + "/")
        settle(page)
        today = datetime.now(UTC).date()
        scroller = page.locator(".spend-chart-scroll")
        # The chart is wider than the phone: it opens scrolled to its right end, today.
        left, room, width = scroller.evaluate("s => [s.scrollLeft, s.clientWidth, s.scrollWidth]")
        assert width > room and left == width - room
        bars = page.locator("svg.spend-chart .chart-bar")
        today_bar = page.locator("svg.spend-chart .chart-bar-today")
        box, view = today_bar.bounding_box(), scroller.bounding_box()
        assert view["x"] <= box["x"] and box["x"] + box["width"] <= view["x"] + view["width"] + 1
        label = page.locator("#spend-day")
        assert label.is_visible()
        assert label.inner_text() == f"Today, {today:%a %d %b %Y}: $7.50"  # $5 + $2.50 search
        if os.environ.get("ATTUNE_SCREENSHOTS"):
            page.screenshot(
                path=os.environ["ATTUNE_SCREENSHOTS"] + "/spend-390.png", full_page=True
            )

        # A tap on a day's bar shows its date and amount, not only the hover title.
        two_days_ago = today - timedelta(days=2)
        bars.nth(27).tap()
        assert label.inner_text() == f"{two_days_ago:%a %d %b %Y}: $5.80"
        assert bars.nth(27).get_attribute("aria-checked") == "true"
        assert today_bar.get_attribute("aria-checked") == "false"

        # The keyboard: one tab stop on the checked day, arrows move, Enter and Space show.
        page.locator("#spend-refresh").focus()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('aria-checked')") == "true"
        page.keyboard.press("ArrowLeft")
        assert label.inner_text() == f"{today - timedelta(days=3):%a %d %b %Y}: $0.00"
        page.keyboard.press("End")
        assert label.inner_text().startswith("Today, ")
        page.keyboard.press("Home")
        first = today - timedelta(days=29)
        assert label.inner_text() == f"{first:%a %d %b %Y}: $0.00"
        assert scroller.evaluate("s => s.scrollLeft") < left  # the focused day scrolled in
        bars.nth(28).focus()
        page.keyboard.press("Enter")
        assert label.inner_text() == f"{today - timedelta(days=1):%a %d %b %Y}: $0.00"
        page.keyboard.press("Tab")  # out of the chart at once: one stop, not thirty
        assert page.evaluate("!document.activeElement.closest('svg.spend-chart')")
    finally:
        context.close()
    assert page_errors == []

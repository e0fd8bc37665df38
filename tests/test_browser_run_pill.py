"""The top bar's run pill in real Chromium: it follows a run started elsewhere to its end.

The pill polls the runs API. While its run runs it says "running" with the elapsed time; when
the run ends it says how (status and duration, still a link to the run) for a few seconds,
then hides. Each run here waits for a gate file, so the test decides when it ends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, open_page
from tests.helpers import python_workflow, start_run, wait_finished, write_workflows

pytestmark = pytest.mark.browser

# Waits until the file named by argv[1] exists, then exits with the code in argv[2].
GATED = """
import os, sys, time
print("waiting for the gate", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
sys.exit(int(sys.argv[2]))
"""


@pytest.fixture
def gates(tmp_path: Path) -> Path:
    folder = tmp_path / "gates"
    folder.mkdir()
    return folder


@pytest.fixture
def pill_project(project: Path, gates: Path) -> Path:
    write_workflows(
        project,
        python_workflow("passes", GATED, str(gates / "passes"), "0"),
        python_workflow("breaks", GATED, str(gates / "breaks"), "3"),
    )
    return project


def test_the_pill_shows_how_its_run_ended_then_hides(
    server_factory: Callable[..., ServerProcess],
    pill_project: Path,
    gates: Path,
    browser: Any,
    page_errors: list[str],
    tmp_path: Path,
) -> None:
    srv = server_factory(pill_project)
    pill = "#current-run .current-run"
    with open_page(browser, page_errors, tmp_path / "pill.png") as page:
        page.clock.install()  # real time flows; fast_forward skips the pill's last seconds
        run = start_run(srv, "passes")
        page.goto(srv.url + "/")
        page.locator(pill, has_text="running").wait_for()
        assert page.locator(f"{pill} .current-run-name").inner_text() == "passes"
        assert page.locator(pill).get_attribute("href") == f"/runs/{run['id']}"
        assert page.locator(".home-current .badge").inner_text() == "running"

        (gates / "passes").touch()
        finished = wait_finished(srv, run["id"])
        assert finished["status"] == "succeeded"
        # Without a reload, the pill turns into the run's outcome, still a link to it.
        ended = page.locator(f"{pill}.current-run-ended")
        ended.wait_for()
        assert ended.locator(".badge").inner_text() == "succeeded"
        assert "status-succeeded" in (ended.locator(".badge").get_attribute("class") or "")
        assert ended.locator(".current-run-name").inner_text() == "passes"
        assert re.fullmatch(r"[\d.]+ (ms|s)|\d+ min \d+ s", ended.locator(".muted").inner_text())
        assert ended.get_attribute("href") == f"/runs/{run['id']}"
        assert "succeeded" in (ended.get_attribute("title") or "")
        # The home page's Runs panel no longer claims it runs either.
        assert page.locator(".home-current .badge").inner_text() == "succeeded"
        page.clock.fast_forward("00:11")
        page.locator(pill).wait_for(state="detached")

        # The next run, started elsewhere while the page stays open, is picked up and ends badly.
        second = start_run(srv, "breaks")
        page.locator(pill, has_text="running").wait_for()
        assert page.locator(pill).get_attribute("href") == f"/runs/{second['id']}"
        (gates / "breaks").touch()
        assert wait_finished(srv, second["id"])["status"] == "failed"
        page.locator(f"{pill}.current-run-ended .badge.status-failed", has_text="failed").wait_for()
        page.locator(f"{pill}.current-run-ended").click()
        page.wait_for_url(f"**/runs/{second['id']}")
    assert page_errors == []

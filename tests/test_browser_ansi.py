"""One plain text for a log: the run page's search and rendering equal "Download plain".

A real run prints coloured output (SGR, OSC 8 links, cursor moves, ``\\r`` progress); the
page's rendered lines and the text its search matches are compared with
``GET /api/runs/{id}/log?ansi=0`` line by line. A second test feeds ``static/ansi.js`` and
``strip_ansi`` the same few thousand generated lines.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.runs.ansi import strip_ansi
from tests.conftest import ServerProcess, open_page

pytestmark = pytest.mark.browser

STATIC = Path(__file__).parents[1] / "src" / "attune" / "ops" / "static"

# Written as raw bytes so that no newline translation or encoding gets in between.
COLOURS = r"""
import sys
w = sys.stdout.buffer.write
w(b"\x1b[1;32mbuild\x1b[0m \x1b[31mfai\x1b[0m\x1b[1mlu\x1b[4mre\x1b[0m split by SGR\n")
w(b"see \x1b]8;;https://example.com/docs\x1b\\the docs\x1b]8;;\x1b\\ now\n")
w(b"bel \x1b]8;id=1;https://example.com/bel\x07link\x1b]8;;\x07 end\n")
w(b"\x1b]0;window title\x07titled\n")
w(b"\x1b[2J\x1b[Hcleared \x1b[Kerased \x1b[3Aup \x1b[10Cright \x1b[?25lhidden\x1b[?25h\n")
w(b"\x1b(Bcharset \x1b=keypad \x1b7saved\x1b8 lone \x1b\n")
w(b"progress 10%\rprogress 20%\rprogress 100%\n")
w(b"\x1b[32mcoloured 50%\r\x1b[32mcoloured 99%\x1b[0m\r\r\n")
w(b"spinner |\r\x1b[Kspinner /\r\x1b[Kspinner done\n")
w(b"\x1b[38;5;196m256\x1b[0m \x1b[38;2;255;128;0mrgb\x1b[0m <b>&amp;</b> \x1b[31;1\n")
w(b"tab\there\x07bell\x08bs\x7fdel\n")
w("".join(f"\rfetching {i}%" for i in range(1500)).encode() + b"\rfetched all\n")
w(b"kept\r\x1b[K\n")
"""

EXPECTED = [
    "build failure split by SGR",
    "see the docs now",
    "bel link end",
    "titled",
    "cleared erased up right hidden",
    "charset keypad saved lone ",
    "progress 100%",
    "coloured 99%",
    "spinner done",
    "256 rgb <b>&amp;</b> ",
    "tab\therebellbsdel",
    "fetched all",
    "kept",
]


@pytest.fixture
def colours_project(project: Path) -> Path:
    command = json.dumps([sys.executable, "-c", COLOURS])
    (project / "attune.toml").write_text(
        f'[workflows.colours]\ndescription = "Coloured output"\ncommand = {command}\n'
    )
    return project


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def rendered_lines(page: Any) -> list[str]:
    """The text content of every rendered log line, in order."""
    return list(
        page.evaluate("[...document.querySelectorAll('#log-body .ll')].map(e => e.textContent)")
    )


def searchable_lines(page: Any, run_id: int) -> list[str]:
    """What the page's search matches: the raw log, line by line, through ``attuneAnsi.strip``."""
    return list(
        page.evaluate(
            """async (id) => {
              const raw = await (await fetch(`/api/runs/${id}/log`)).text();
              return raw.split("\\n").slice(0, -1).map((line) => attuneAnsi.strip(line));
            }""",
            run_id,
        )
    )


def test_search_and_rendering_see_the_plain_download(
    server_factory: Callable[..., ServerProcess],
    colours_project: Path,
    browser: Any,
    tmp_path: Path,
) -> None:
    srv = server_factory(colours_project)
    created = httpx.post(
        f"{srv.url}/api/runs",
        json={"workflow": "colours", "path": None},
        headers={"X-Attune-Token": srv.token},
    )
    assert created.status_code == 201
    run_id = created.json()["id"]
    errors: list[str] = []
    shot = tmp_path / "ansi.png"
    with open_page(
        browser, errors, shot, permissions=["clipboard-read", "clipboard-write"]
    ) as page:
        page.goto(f"{srv.url}/runs/{run_id}")
        page.locator("#run-status").filter(has_text="succeeded").wait_for(timeout=30_000)
        wait_until(lambda: len(rendered_lines(page)) >= len(EXPECTED))
        plain = httpx.get(f"{srv.url}/api/runs/{run_id}/log", params={"ansi": 0}).text
        assert plain.split("\n") == [*EXPECTED, ""]
        assert rendered_lines(page) == EXPECTED
        assert searchable_lines(page, run_id) == EXPECTED
        # the long progress line shows its last state whole, not a cut of its first ones
        assert page.locator("#log-body .ll-cut").count() == 0
        # colours set before a \r still colour what is shown after it
        coloured = page.locator("#log-body .ll[data-n='8'] span.ansi-fg2")
        assert coloured.inner_text() == "coloured 99%"

        search = page.locator("#log-search")
        # a word split by SGR codes (and spread over three colour spans) is found and marked
        search.fill("failure")
        search.press("Enter")
        page.locator("#log-hits").filter(has_text="1 / 1").wait_for()
        current = page.locator("#log-body .ll.hit-current")
        assert current.get_attribute("data-n") == "1"
        assert "".join(current.locator("mark").all_inner_texts()) == "failure"
        # what was stripped or overwritten is not found: a link's URL, a title, an old state
        for gone in ("example.com", "window title", "progress 20%", "fetching 7%", "[31"):
            search.fill(gone)
            search.press("Enter")
            page.locator("#log-hits").filter(has_text="no match").wait_for()
        search.fill("the docs")
        search.press("Enter")
        page.locator("#log-hits").filter(has_text="1 / 1").wait_for()
        assert page.locator("#log-body .ll.hit-current").get_attribute("data-n") == "2"
        # Copy puts the same text on the clipboard as "Download plain"
        page.locator("#log-copy").click()
        page.locator("#log-copy").filter(has_text="Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == plain.removesuffix("\n")
    assert errors == []


# Single characters that start, continue or end sequences (or need escaping as HTML), then
# whole sequences, an OSC 8 URL full of markup, and words.
CHARACTERS = "\x1b[]\\\x07\r\t\x00\x7f;8mK?(B=P_ aé<>&'"
SEQUENCES = ["\x1b[31m", "\x1b[1;4m", "\x1b[0m", "\x1b[38;5;", "\x1b]8;;https://x/?a=1&b=<2>"]
FRAGMENTS = [*CHARACTERS, *SEQUENCES, "\x1b\\", "\x1b[2K", "\x1b[>", "\x1b(B", "10%", "word"]


def generated_lines(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(FRAGMENTS, k=rng.randint(0, 24))) for _ in range(count)]


def test_the_browser_and_the_server_strip_alike(browser: Any) -> None:
    """``attuneAnsi.strip`` and the text of ``attuneAnsi.toHtml`` equal ``strip_ansi``."""
    lines = generated_lines(3000, seed=11)
    page = browser.new_page()
    try:
        page.set_content("<div id='out'></div>")
        page.add_script_tag(path=str(STATIC / "ansi.js"))
        stripped, shown = page.evaluate(
            """(lines) => {
              const out = document.getElementById("out"), state = attuneAnsi.newState();
              const shown = lines.map((line) => {
                out.innerHTML = attuneAnsi.toHtml(line, state);
                return out.textContent;
              });
              return [lines.map((line) => attuneAnsi.strip(line)), shown];
            }""",
            lines,
        )
    finally:
        page.close()
    expected = [strip_ansi(line) for line in lines]
    mismatches = [
        (line, want, got, html)
        for line, want, got, html in zip(lines, expected, stripped, shown, strict=True)
        if not want == got == html
    ]
    assert mismatches == []

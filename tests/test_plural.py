"""Counted words: ``attune.text.plural``, its template twin (``_text.html``) and its JS twin
(``attune.plural`` in ``static/app.js``) say "1 warning" and "2 warnings" alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from attune.ops.cli.doctor import format_checks
from attune.ops.doctor import Check, CheckStatus
from attune.text import plural

STATIC = Path(__file__).resolve().parents[1] / "src" / "attune" / "ops" / "static"
TEMPLATES = STATIC.parent / "templates"

CASES = [
    ((0, "file"), "0 files"),
    ((1, "file"), "1 file"),
    ((2, "file"), "2 files"),
    ((1, "likely secret"), "1 likely secret"),
    ((3, "likely secret"), "3 likely secrets"),
    ((1, "match", "matches"), "1 match"),
    ((2, "match", "matches"), "2 matches"),
    ((-1, "degree"), "-1 degrees"),  # only exactly one is singular
    ((1000, "line"), "1000 lines"),
]


@pytest.mark.parametrize(("args", "expected"), CASES)
def test_plural(args: tuple[Any, ...], expected: str) -> None:
    assert plural(*args) == expected


@pytest.mark.parametrize(("args", "expected"), CASES)
def test_the_template_macro_agrees(args: tuple[Any, ...], expected: str) -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    page = env.from_string('{% from "_text.html" import plural %}[{{ plural(*args) }}]')
    assert page.render(args=args) == f"[{expected}]"


def test_the_template_macro_escapes_the_word() -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    page = env.from_string('{% from "_text.html" import plural %}{{ plural(2, w) }}')
    assert page.render(w="<b>") == "2 &lt;b&gt;s"


@pytest.mark.browser
def test_the_page_helper_agrees(browser: Any) -> None:
    page = browser.new_page()
    try:
        page.set_content("<!doctype html><title>plural</title>")
        page.add_script_tag(path=str(STATIC / "app.js"))
        for args, expected in CASES:
            assert page.evaluate("(args) => attune.plural(...args)", list(args)) == expected
    finally:
        page.close()


def test_the_doctor_verdict_counts_in_words() -> None:
    ok = Check("store", CheckStatus.PASS, "fine")
    warn = Check("admin key", CheckStatus.WARN, "none", fix="attune ops setup-billing")
    fail = Check("listen", CheckStatus.FAIL, "port taken")
    assert format_checks([ok, warn], colour=False).endswith("\n0 failed, 1 warning.")
    assert format_checks([ok, warn, warn, fail], colour=False).endswith("\n1 failed, 2 warnings.")
    assert format_checks([ok], colour=False).endswith("\nall good.")

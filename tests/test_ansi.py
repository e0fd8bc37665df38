"""A log's plain text (``strip_ansi``): what "Download plain", ``runs log --plain`` and search see.

Each case of the grammar is pinned by example; a property test checks the regex version
against a plain character-by-character scanner of the same grammar. The browser's twin
(``static/ansi.js``) is compared with it in ``tests/test_browser_ansi.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attune.ops.runs.ansi import strip_ansi

ESC = "\x1b"

CASES = [
    # SGR colours and attributes go, the text stays
    ("\x1b[1;31mred\x1b[0m plain", "red plain"),
    ("\x1b[mreset \x1b[38;5;196m256\x1b[39m \x1b[38;2;255;128;0mrgb\x1b[0m", "reset 256 rgb"),
    ("fai\x1b[31ml\x1b[0med", "failed"),
    # other CSI: cursor moves, erase line / screen, private modes
    ("\x1b[2J\x1b[Hcleared \x1b[Kerased \x1b[3Aup \x1b[10C!", "cleared erased up !"),
    ("\x1b[?25lhidden\x1b[?25h \x1b[>4;2mkeys", "hidden keys"),
    # a CSI cut short by the line's end loses what it read; a foreign byte ends it and stays
    ("bad \x1b[31;1", "bad "),
    ("bad \x1b[31\x1b[0mgood", "bad good"),
    ("bad \x1b[31éok", "bad éok"),
    # OSC 8 hyperlinks: the link text stays, the URL (and its parameters) does not
    ("see \x1b]8;;https://example.com/docs\x1b\\the docs\x1b]8;;\x1b\\ now", "see the docs now"),
    ("bel \x1b]8;id=1;https://example.com/x\x07link\x1b]8;;\x07 end", "bel link end"),
    # other OSC (window title), DCS, APC: removed up to BEL, ST, the next ESC or the line's end
    ("\x1b]0;window title\x07titled", "titled"),
    ("\x1bPtmux;passthrough\x1b\\dcs \x1b_apc body\x1b\\apc", "dcs apc"),
    ("\x1b]0;unterminated title", ""),
    ("\x1b]0;cut by\x1b[32mgreen", "green"),
    # other escapes: charset, keypad, save/restore cursor, index, a bare ST
    (
        "\x1b(Bcharset \x1b=keypad\x1b> \x1b7saved\x1b8 \x1bMindex\x1b\\",
        "charset keypad saved index",
    ),
    # a lone ESC goes; the character after it stays unless it completes an escape
    ("lone \x1b", "lone "),
    ("lone\x1b\x1b[0m ok", "lone ok"),
    ("lone\x1bé", "loneé"),
    # C0 controls other than tab go (bell, backspace, NUL, form feed), as does DEL
    ("tab\there\x07bell\x08bs\x00nul\x0cff\x7fdel", "tab\therebellbsnulffdel"),
    # carriage return: the last non-empty part is what a terminal shows
    ("progress 10%\rprogress 20%\rprogress 100%", "progress 100%"),
    ("\x1b[32m 50%\x1b[0m\r\x1b[32m 99%\x1b[0m", " 99%"),
    ("spinner |\r\x1b[Kspinner /\r\x1b[Kspinner done", "spinner done"),
    ("\rleading", "leading"),
    # ... and an empty part never erases: a CRLF line, trailing escapes after \r, \r\r
    ("crlf line\r", "crlf line"),
    ("kept\r\x1b[K", "kept"),
    ("kept\r\r", "kept"),
    ("a\r\rb\r", "b"),
    ("\r\r", ""),
    # markup is text, not ours to touch
    ("<b>&amp;</b> 'q' \"q\"", "<b>&amp;</b> 'q' \"q\""),
]


@pytest.mark.parametrize(("raw", "plain"), CASES)
def test_each_case_of_the_grammar(raw: str, plain: str) -> None:
    assert strip_ansi(raw) == plain
    # lines are independent: a sequence or a \r never reaches across a newline
    assert strip_ansi(f"{raw}\nnext\n") == f"{plain}\nnext\n"
    assert strip_ansi(f"first\n{raw}") == f"first\n{plain}"


def test_a_whole_log_keeps_its_lines() -> None:
    log = "\x1b[32mok\x1b[0m\n10%\r100%\n\n\x1b]8;;u\x07\nunterminated \x1b]0;x\nafter\r\n"
    assert strip_ansi(log) == "ok\n100%\n\n\nunterminated \nafter\n"


def _scan_escape(s: str, i: int) -> int:
    """Index just past the escape sequence starting at ``s[i] == ESC``."""
    n = len(s)
    nxt = s[i + 1] if i + 1 < n else ""
    j = i + 2
    if nxt == "[":
        while j < n and "0" <= s[j] <= "?":
            j += 1
        while j < n and " " <= s[j] <= "/":
            j += 1
        return j + 1 if j < n and "@" <= s[j] <= "~" else j
    if nxt != "" and nxt in "]PX^_":
        while j < n and s[j] not in "\x07\x1b\n":
            j += 1
        if s.startswith("\x07", j):
            return j + 1
        return j + 2 if s.startswith("\x1b\\", j) else j
    j = i + 1
    while j < n and " " <= s[j] <= "/":
        j += 1
    return j + 1 if j < n and "0" <= s[j] <= "~" else j


def reference_strip(text: str) -> str:
    """The grammar spelt out one character at a time (no regular expressions)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == ESC:
            i = _scan_escape(text, i)
            continue
        if c in "\t\n\r" or not (c < " " or c == "\x7f"):
            out.append(c)
        i += 1
    lines = []
    for line in "".join(out).split("\n"):
        parts = [part for part in line.split("\r") if part]
        lines.append(parts[-1] if parts else "")
    return "\n".join(lines)


# Single characters that start, continue or end sequences, then whole sequences and words.
CHARACTERS = "\x1b[]\\\x07\r\n\t\x00\x7f;8mK?(B=P_ aé<&"
SEQUENCES = ["\x1b[31m", "\x1b[0m", "\x1b]8;;u", "\x1b\\", "\x1b[2K", "\x1b(B", "10%", "word"]
FRAGMENTS = st.sampled_from([*CHARACTERS, *SEQUENCES])
LOGS = st.one_of(st.lists(FRAGMENTS, max_size=40).map("".join), st.text(max_size=80))


@given(LOGS)
def test_matches_the_grammar_read_one_character_at_a_time(text: str) -> None:
    assert strip_ansi(text) == reference_strip(text)


@given(LOGS)
def test_plain_text_has_no_controls_left_and_is_stable(text: str) -> None:
    plain = strip_ansi(text)
    assert not any((c < " " and c not in "\t\n") or c == "\x7f" for c in plain)
    assert plain.count("\n") == text.count("\n")
    assert strip_ansi(plain) == plain


@given(st.text(alphabet=st.characters(blacklist_categories=["Cc"]), max_size=80))
def test_text_without_controls_is_untouched(text: str) -> None:
    assert strip_ansi(text) == text

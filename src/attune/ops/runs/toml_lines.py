"""Where a key of a TOML file is written: the line of a table header or of one of its keys.

``tomllib`` gives values without positions, so a workflow error is located by reading the text
once: every ``[header]`` line and every ``key =`` line, by section. Each lookup is then a
dictionary read, so locating thousands of errors costs one pass over the file, not one per error.
Only the first spelling of a header or key counts, as TOML allows each once.
"""

from __future__ import annotations

import re

__all__ = ["TomlLines", "toml_error_line"]

# A key at the start of an assignment: "quoted", 'literal' or bare (up to a dot of a dotted key).
_KEY_RE = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")
_ERROR_LINE_RE = re.compile(r"line (\d+)")


def toml_error_line(message: str) -> int | None:
    """The line ``tomllib`` names in a decode error (``… (at line 4, column 1)``)."""
    match = _ERROR_LINE_RE.search(message)
    return int(match.group(1)) if match else None


def _header_key(line: str) -> str:
    # ``[ workflows . "a" ]`` and ``[[x]]`` compare as ``workflows."a"`` and ``x``.
    return line.strip("[] \t").replace(" ", "")


class TomlLines:
    """A line index of one TOML text, built in one pass; lines are numbered from 1.

    The pass runs at the first lookup: a valid file, which needs none, costs nothing.
    """

    def __init__(self, text: str) -> None:
        self._text: str | None = text
        self._headers: dict[str, int] = {}
        self._keys: dict[int, dict[str, int]] = {0: {}}  # section (its header line) -> keys
        self._anywhere: dict[str, int] = {}  # a key's first line in any section

    def _index(self) -> None:
        text, self._text = self._text, None
        if text is None:
            return
        section = 0
        # Split on "\n" only, as tomllib counts lines (splitlines would also cut at U+2028).
        for number, raw in enumerate(text.split("\n"), start=1):
            stripped = raw.strip()
            if stripped.startswith("["):
                # Any line opening with "[" ends the section, as a header would.
                section = number
                self._headers.setdefault(_header_key(stripped), number)
                self._keys[section] = {}
                continue
            match = _KEY_RE.match(raw)
            if match:
                key = next(g for g in match.groups() if g is not None)
                self._keys[section].setdefault(key, number)
                self._anywhere.setdefault(key, number)

    def header(self, dotted: str, last: str | None = None) -> int | None:
        """The line of ``[dotted]`` or ``[dotted.LAST]`` (``LAST`` bare or quoted)."""
        self._index()
        if last is None:
            return self._headers.get(_header_key(dotted))
        found = [
            self._headers.get(_header_key(f"{dotted}.{spelling}"))
            for spelling in (last, f'"{last}"', f"'{last}'")
        ]
        lines = [line for line in found if line is not None]
        return min(lines) if lines else None

    def key_in(self, section: int, key: str) -> int | None:
        """The line of ``key = …`` in the section whose header is on line ``section``."""
        self._index()
        return self._keys.get(section, {}).get(key)

    def key_anywhere(self, key: str) -> int | None:
        """The first line of ``key = …`` in any section (an inline table or a stray value)."""
        self._index()
        return self._anywhere.get(key)

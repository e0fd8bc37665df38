"""Counted words for people: ``plural(1, "marker")`` is "1 marker", ``plural(3, "file")`` "3 files".

On the ground floor beside ``gitignore.py``: the CLI, the doctor's verdict and the built-in
workflows (programs of their own, which may lean on this floor only) all count things. The pages
have its twin, ``attune.plural`` in ``static/app.js``, and ``_text.html`` for the templates.
"""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the word agreeing with it: singular for exactly one, else the plural.

    The plural is ``word + "s"`` unless ``words`` names it. Examples: ``plural(1, "warning")``
    → ``"1 warning"``; ``plural(0, "file")`` → ``"0 files"``;
    ``plural(2, "match", "matches")`` → ``"2 matches"``.
    """
    return f"{n} {word if n == 1 else (words if words is not None else word + 's')}"

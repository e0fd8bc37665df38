"""Markdown of spec files rendered to safe HTML (markdown-it-py, raw HTML disabled).

YAML front matter is metadata, not Markdown: it is shown as a small key/value table (as GitHub
does) and the body after it is rendered. Task list items get a disabled checkbox; everything
else is CommonMark plus tables and strikethrough. Raw HTML in a spec is shown as text (the
front matter table escapes every key and value), and markdown-it's link validation drops
``javascript:``-style URLs, so a spec file cannot script the dashboard.
"""

from __future__ import annotations

import re
from functools import cache
from html import escape

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from attune.ops.specs.status import FrontMatterItem, front_matter_items

__all__ = ["render_markdown"]

_BOX_RE = re.compile(r"^\[([ xX~!-])\](\*)?(?:[ \t]+|$)")
_BOX_STATE = {"x": "done", "X": "done", " ": "open", "-": "in-progress", "~": "in-progress"}


def _task_checkboxes(state: StateCore) -> None:
    """``- [x] text`` list items → a disabled checkbox and state classes on the item."""
    tokens = state.tokens
    for i in range(2, len(tokens)):
        inline = tokens[i]
        if inline.type != "inline" or not inline.children:
            continue
        if tokens[i - 1].type != "paragraph_open" or tokens[i - 2].type != "list_item_open":
            continue
        first = inline.children[0]
        match = _BOX_RE.match(first.content) if first.type == "text" else None
        if match is None:
            continue
        box_state = _BOX_STATE.get(match[1], "blocked")
        first.content = first.content[match.end() :]
        checked = " checked" if box_state == "done" else ""
        box = Token("html_inline", "", 0)
        box.content = f'<input type="checkbox" class="task-box" disabled{checked}> '
        inline.children.insert(0, box)
        item_class = f"task-item task-{box_state}" + (" task-optional" if match[2] else "")
        tokens[i - 2].attrSet("class", item_class)


@cache
def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("task_checkboxes", _task_checkboxes)
    return md


def _front_matter_table(items: list[FrontMatterItem]) -> str:
    rows = []
    for item in items:
        if item.items:
            value = "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in item.items) + "</ul>"
        elif item.block:
            value = f"<pre>{escape(item.block)}</pre>"
        else:
            value = escape(item.value)
        rows.append(f'<tr><th scope="row">{escape(item.key)}</th><td>{value}</td></tr>')
    return '<table class="front-matter">\n<tbody>\n' + "\n".join(rows) + "\n</tbody>\n</table>\n"


def render_markdown(text: str) -> str:
    """HTML for ``text``, front matter as a table; raw HTML is escaped, never passed through."""
    front = front_matter_items(text)
    if front is None:
        html: str = _renderer().render(text)
        return html
    items, body_start = front
    body: str = _renderer().render(text[body_start:])
    return _front_matter_table(items) + body

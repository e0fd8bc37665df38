"""``todo-scan``: TODO, FIXME, HACK and XXX markers in a scope, grouped by file.

Usage: ``python -m attune.workflows.todo_scan [PATH]`` (default: the current directory).
Prints each file with its markers and line numbers, then a summary by kind. Exit code 0.
Suggests a ``secrets-scan`` of the same path to the dashboard (an ``ATTUNE_REC`` line).
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections import Counter
from pathlib import Path

from attune.text import plural
from attune.workflows._walk import iter_text_files, rel

MARKER_RE = re.compile(r"(?<![A-Za-z0-9_])(TODO|FIXME|HACK|XXX)(?![A-Za-z0-9_])[:(\s]?(.*)")
MAX_TEXT = 160


def scan_text(text: str) -> list[tuple[int, str, str]]:
    """``(line number, kind, text)`` of every marker in one file's text."""
    found = []
    for number, line in enumerate(io.StringIO(text, newline=None), start=1):
        match = MARKER_RE.search(line)
        if match:
            marker = match.group(2).strip().lstrip(":)").strip()
            found.append((number, match.group(1), marker[:MAX_TEXT]))
    return found


def main(argv: list[str]) -> int:
    root = Path.cwd().resolve()
    scope = (root / argv[0]).resolve() if argv else root
    if not scope.exists():
        print(f"todo-scan: {argv[0]} does not exist", file=sys.stderr)
        return 2
    totals: Counter[str] = Counter()
    files = scanned = 0
    print(f"Scanning {rel(scope, root)} for TODO, FIXME, HACK and XXX markers…", flush=True)
    for path, text in iter_text_files(scope, root):
        scanned += 1
        hits = scan_text(text)
        if not hits:
            continue
        files += 1
        print(f"\n\x1b[1m{rel(path, root)}\x1b[0m ({len(hits)})")
        for number, kind, text in hits:
            totals[kind] += 1
            print(f"  {number:>5}  \x1b[33m{kind:<5}\x1b[0m {text}")
        sys.stdout.flush()
    print()
    summary = ", ".join(f"{totals[k]} {k}" for k in ("TODO", "FIXME", "HACK", "XXX"))
    found = plural(sum(totals.values()), "marker")
    print(f"{found} in {files} of {plural(scanned, 'file')} scanned ({summary})")
    target = rel(scope, root)
    rec = {
        "kind": "next-workflow",
        "workflow": "secrets-scan",
        "path": None if target == "." else target,
        "title": "Check this scope for leaked secrets",
        "reason": f"{found} found; secrets often hide next to them",
    }
    print("ATTUNE_REC " + json.dumps(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

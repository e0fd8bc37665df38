"""``secrets-scan``: likely secrets in a scope, each shown masked; exit 1 when any is found.

Usage: ``python -m attune.workflows.secrets_scan [PATH]``. Detects Anthropic (``sk-ant-…``),
OpenAI (``sk-…``, ``sk-proj-…``), AWS access key ids (``AKIA…``) and secret keys assigned to an
``aws_secret_access_key``-like name, GitHub tokens (``ghp_``, ``gho_``, ``ghs_``, ``ghu_``,
``ghr_``, ``github_pat_``) and private key PEM headers. A finding is printed as its kind, file,
line and a masked value (``sk-ant-…a1b2``): the full value is never printed.
"""

from __future__ import annotations

import io
import re
import sys
from collections import Counter
from pathlib import Path

from attune.text import plural
from attune.workflows._walk import iter_text_files, rel

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?(?!ant-)[A-Za-z0-9_-]{20,}")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    (
        "AWS secret access key",
        re.compile(
            r"(?i)aws_?secret_?(?:access_?)?key['\"]?\s*[:=]\s*['\"]?(?P<v>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
    ),
    ("GitHub token", re.compile(r"\b(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{36,}\b")),
    ("GitHub fine-grained token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}")),
    ("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
)


def mask(value: str) -> str:
    """A recognisable but useless form of a secret: its prefix and its last 4 characters."""
    if value.startswith("-----BEGIN"):
        return value
    prefix = re.match(r"(sk-ant-|sk-proj-|sk-|github_pat_|gh[pousr]_|AKIA|ASIA)", value)
    head = prefix.group(1) if prefix else ""
    tail = value[-4:] if len(value) >= 16 else ""
    return f"{head}…{tail}"


def scan_line(line: str) -> list[tuple[str, str]]:
    """``(kind, masked value)`` of every likely secret on one line."""
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(line):
            group = "v" if "v" in pattern.groupindex else 0
            start, end = match.span(group)
            if any(s <= start < e for s, e in taken):
                continue
            taken.append((start, end))
            found.append((kind, mask(match.group(group))))
    return found


def main(argv: list[str]) -> int:
    root = Path.cwd().resolve()
    scope = (root / argv[0]).resolve() if argv else root
    if not scope.exists():
        print(f"secrets-scan: {argv[0]} does not exist", file=sys.stderr)
        return 2
    kinds: Counter[str] = Counter()
    scanned = 0
    print(f"Scanning {rel(scope, root)} for likely secrets…", flush=True)
    for path, text in iter_text_files(scope, root):
        scanned += 1
        for number, line in enumerate(io.StringIO(text, newline=None), start=1):
            for kind, masked in scan_line(line):
                kinds[kind] += 1
                print(f"\x1b[31m{kind}\x1b[0m  {rel(path, root)}:{number}  {masked}")
    total = sum(kinds.values())
    if not total:
        print(f"No likely secrets in {plural(scanned, 'file')} scanned.")
        return 0
    details = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    print(f"\n{plural(total, 'likely secret')} in {plural(scanned, 'file')} scanned ({details}).")
    print("Rotate each exposed credential, then remove it from the files and their history.")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

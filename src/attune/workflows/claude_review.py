"""``claude-review``: Claude reviews the scope, streamed into the log, and ends with a verdict.

Usage: ``python -m attune.workflows.claude_review [PATH]`` in the project root, with
``ANTHROPIC_API_KEY`` set (a normal key; an admin key is refused) and the ``anthropic`` SDK
installed (``pip install 'attune-ops[claude]'``). Settings: ``[claude]`` in ``attune.toml``
(``_claude_config.py``).

What is sent: the scope's uncommitted diff when it has changes, else its text files
(``_review_scope.py``). Before any request every line of it is scanned for likely secrets; one
finding refuses the review (exit 1, findings masked, nothing sent). Then the request's tokens
are counted (``messages.count_tokens``) and a scope over ``max_input_tokens`` is refused with
the count and the cap (exit 3), never cut. The answer streams as it arrives; an ``ATTUNE_USAGE``
line reports each call's tokens, an ``ATTUNE_REC`` line suggests the project's ``tests``.

Exit codes: 0 reviewed (whatever the verdict), 1 a likely secret, 2 a usage problem (no key,
an admin key, no SDK, a bad ``[claude]``, a missing path), 3 over the cap, 4 network (refused,
reset, no answer within ``timeout_s``), 5 the key was refused, 6 rate limited, 7 the API is
overloaded or failing, 8 any other API error. Output already streamed stays in the log.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from attune.text import plural
from attune.workflows._claude_call import ApiFailure, count_tokens, make_client, stream_review
from attune.workflows._claude_config import ClaudeConfig, ConfigProblem, load_config
from attune.workflows._review_scope import MAX_SEND_BYTES, Material, find_secrets, gather
from attune.workflows._walk import rel

EXIT_SECRET = 1
EXIT_USAGE = 2
EXIT_OVER_CAP = 3
ADMIN_PREFIX = "sk-ant-admin"
_VERDICT = re.compile(r"^[\s>*_`#-]*verdict[*_`]*\s*:\s*[*_`]*\s*(.+?)\s*$", re.IGNORECASE)
_COLOURS = {"approve": "32", "approve with nits": "33", "changes requested": "31"}


def main(argv: list[str]) -> int:
    root = Path.cwd().resolve()
    scope = (root / argv[0]).resolve() if argv else root
    if not scope.exists():
        return _fail(EXIT_USAGE, f"claude-review: {argv[0]} does not exist")
    try:
        config = load_config(root)
    except ConfigProblem as exc:
        return _fail(EXIT_USAGE, f"claude-review: {exc}")
    key = os.environ.get("ANTHROPIC_API_KEY", "").strip()
    problem = key_problem(key) or _sdk_problem()
    if problem:
        return _fail(EXIT_USAGE, problem)
    target = rel(scope, root)
    print(f"Reviewing {_label(target)} with {config.model}…", flush=True)
    material = gather(scope, root)
    refused = _refusal(material, target)
    if refused is not None:
        return refused
    print(_describe(material, target), flush=True)
    content = request_text(material, target)
    client = make_client(key, config)
    try:
        tokens = count_tokens(client, config, content)
        if tokens > config.max_input_tokens:
            return _fail(
                EXIT_OVER_CAP,
                f"claude-review: {_label(target)} is {tokens:,} input tokens, over the cap of "
                f"{config.max_input_tokens:,} ([claude] max_input_tokens in attune.toml); "
                "pick a smaller scope or raise the cap. Nothing was sent for review.",
            )
        print(f"{tokens:,} input tokens (cap {config.max_input_tokens:,}); the review:", flush=True)
        answer = stream_review(client, config, content)
    except ApiFailure as exc:
        return _fail(exc.code, exc.line)
    _verdict(answer.text, answer.stop_reason, material, answer)
    _recommend(config, target)
    return 0


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be used for the review, or ``None``."""
    if not key:
        return (
            "claude-review: ANTHROPIC_API_KEY is not set; create an API key in the Claude "
            "Console and set it in the environment attune ops starts from"
        )
    if key.startswith(ADMIN_PREFIX):
        return (
            "claude-review: ANTHROPIC_API_KEY holds an admin key (sk-ant-admin…), which reads "
            "the organisation's billing and is never used to send code; use a normal API key"
        )
    return None


def _sdk_problem() -> str | None:
    try:
        import anthropic  # noqa: F401 - loaded here to say clearly when it is missing
    except ImportError:
        return (
            "claude-review: the anthropic SDK is not installed; "
            "pip install 'attune-ops[claude]' (or: pip install anthropic)"
        )
    return None


def _refusal(material: Material, target: str) -> int | None:
    """The exit code when nothing may be sent (over the size bound, a secret, nothing to send)."""
    if material.over_limit:
        mb = MAX_SEND_BYTES // (1024 * 1024)
        return _fail(
            EXIT_OVER_CAP,
            f"claude-review: {_label(target)} is over {mb} MB of text, more than one request "
            "can carry; pick a smaller scope. Nothing was sent.",
        )
    findings = find_secrets(material)
    if findings:
        for f in findings:
            where = f"{f.path}:{f.line}" + (" (a removed line)" if f.removed else "")
            print(f"\x1b[31m{f.kind}\x1b[0m  {where}  {f.masked}")
        files = len({f.path for f in findings})
        _fail(
            EXIT_SECRET,
            f"claude-review: refused: {plural(len(findings), 'likely secret')} in "
            f"{plural(files, 'file')} of what would be sent; nothing was sent. Remove it "
            "(and rotate it), or review a scope without it.",
        )
        _rec("secrets-scan", target, "Scan this scope for secrets", "the review was refused")
        return EXIT_SECRET
    if not material.parts:
        print(f"claude-review: nothing to review in {_label(target)} (no text files)")
        print("\x1b[1mVerdict: nothing to review\x1b[0m")
        return 0
    return None


def _describe(material: Material, target: str) -> str:
    files = plural(len(material.parts), "file")
    size = f"{material.size:,} bytes"
    if material.kind == "diff":
        what = f"the uncommitted changes of {_label(target)}: {files} ({size}, diff against HEAD)"
    else:
        what = f"{files} of {_label(target)} ({size}; no uncommitted changes there)"
    skipped = f"; left out: {', '.join(material.skipped[:5])}" if material.skipped else ""
    more = f" and {len(material.skipped) - 5} more" if len(material.skipped) > 5 else ""
    return f"Sending {what}{skipped}{more}"


def request_text(material: Material, target: str) -> str:
    """The user message: what is reviewed, then each file's diff or text in tags."""
    if material.kind == "diff":
        intro = (
            f"Review the uncommitted changes of `{target}` in this project: each file's "
            "`git diff HEAD`, and new files in full."
        )
    else:
        intro = f"Review these files of `{target}` in this project (no uncommitted changes)."
    blocks = [intro]
    for part in material.parts:
        tag = "diff" if part.is_diff else "file"
        blocks.append(f'<{tag} path="{part.path}">\n{part.text.rstrip()}\n</{tag}>')
    return "\n\n".join(blocks)


def _verdict(text: str, stop: str | None, material: Material, answer: object) -> None:
    verdict = next(
        (m.group(1) for m in map(_VERDICT.match, reversed(text.splitlines())) if m), None
    )
    reviewed = plural(len(material.parts), "file")
    if verdict is None:
        hint = " (the answer hit max_tokens; raise it in [claude])" if stop == "max_tokens" else ""
        print(f"\x1b[1mclaude-review: no verdict line in the answer{hint}\x1b[0m · {reviewed}")
        return
    word = re.split(r"\s+[-–—:]\s+", verdict, maxsplit=1)[0].strip(" .*`").lower()
    colour = _COLOURS.get(word, "1")
    print(f"\x1b[1;{colour}mVerdict: {word}\x1b[0m · {reviewed} reviewed")


def _recommend(config: ClaudeConfig, target: str) -> None:
    if "tests" in config.workflows:
        _rec("tests", target, "Run the tests on this scope", "after reading the review")


def _rec(workflow: str, target: str, title: str, reason: str) -> None:
    path = None if target == "." else target
    rec = {"kind": "next-workflow", "workflow": workflow, "path": path, "title": title}
    print("ATTUNE_REC " + json.dumps({**rec, "reason": reason}), flush=True)


def _label(target: str) -> str:
    return "the whole project" if target == "." else target


def _fail(code: int, line: str) -> int:
    sys.stdout.flush()
    print(line, file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

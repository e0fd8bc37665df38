"""The cases where our token counts and ccusage 20.0.24's differ by design (bench/usage.py).

Each case is a one-session corpus; both tools read it and the output tokens are compared. We
follow the reference rules (dedup by message id, else request id, else uuid; the largest value
of each field; ``<synthetic>`` dropped); ccusage keys on message id + request id, keeps the
line with the most tokens, counts lines without a message id each, adds ``<synthetic>``
answers to its totals and only reads compact JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from _gen_transcripts import encode

CWD = "/home/dev/code/cases"
MODEL = "claude-sonnet-4-5-20250929"


def _line(
    mid: str | None,
    rid: str | None,
    out: int,
    *,
    creation: int = 0,
    model: str = MODEL,
    side: bool = False,
    uuid: str = "u",
    ts: str = "2026-11-20T10:00:00.000Z",
    compact: bool = True,
) -> str:
    usage = {
        "input_tokens": 3,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": 100,
        "output_tokens": out,
    }
    message: dict[str, Any] = {
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "hi"}],
        "usage": usage,
    }
    if mid:
        message = {"id": mid, **message}
    line: dict[str, Any] = {
        "isSidechain": side,
        "cwd": CWD,
        "sessionId": "case",
        "type": "assistant",
        "message": message,
        "uuid": uuid,
        "timestamp": ts,
    }
    if rid:
        line["requestId"] = rid
    return json.dumps(line, separators=(",", ":") if compact else (", ", ": "))


CASES: list[tuple[str, list[str], str]] = [
    (
        "a /btw sidechain replay: same message id, a new request id",
        [_line("m1", "r1", 40), _line("m1", "r2", 40, side=True)],
        "one response (one message id) once; so does ccusage when the replay repeats the usage",
    ),
    (
        "one response whose lines disagree field by field",
        [_line("m1", "r1", 50, creation=10), _line("m1", "r1", 5, creation=90)],
        "the largest value of each field; ccusage keeps the one line with the most tokens",
    ),
    (
        "a `<synthetic>` answer that carries tokens",
        [_line("m1", "r1", 7, model="<synthetic>")],
        "not an API response: dropped; ccusage adds it to its totals (not to its model breakdown)",
    ),
    (
        "lines without a message id sharing a request id",
        [_line(None, "r9", 4, uuid="a"), _line(None, "r9", 9, uuid="b")],
        "dedup falls back to the request id; ccusage counts each line",
    ),
    (
        "a line written with spaces after its colons",
        [_line("m1", "r1", 11, compact=False)],
        "valid JSON is read whatever its spacing; ccusage matches compact JSON only",
    ),
]


def _ours(claude: Path) -> int:
    from attune.ops.spend.usage.ingest import Ingester
    from attune.ops.spend.usage.pricing import PriceBook
    from attune.ops.store.database import Store
    from attune.ops.store.usage import UsageStore

    store = Store(claude.parent / "ops.db")
    try:
        Ingester(UsageStore(store), PriceBook(), Path(CWD), roots=lambda: [claude]).run_once()
        with store.read() as conn:
            return int(
                conn.execute(
                    "SELECT coalesce(sum(output_tokens), 0) FROM usage_messages"
                ).fetchone()[0]
            )
    finally:
        store.close()


def _theirs(claude: Path, ccusage: str) -> int:
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(claude)}
    out = subprocess.run(
        [ccusage, "claude", "session", "--json", "--offline"],
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return int(json.loads(out.stdout)["totals"]["outputTokens"])


def edge_cases(work: Path, ccusage: str) -> list[dict[str, Any]]:
    """Output tokens by both tools for each case."""
    found = []
    for index, (case, lines, why) in enumerate(CASES):
        claude = work / f"case-{index}" / "claude"
        folder = claude / "projects" / encode(CWD)
        folder.mkdir(parents=True)
        (folder / "case.jsonl").write_text("\n".join(lines) + "\n")
        found.append(
            {"case": case, "ours": _ours(claude), "ccusage": _theirs(claude, ccusage), "why": why}
        )
    return found

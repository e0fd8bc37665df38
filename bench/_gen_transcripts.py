"""Generate a corpus of Claude Code transcripts shaped like real ones (for bench/usage.py).

``python bench/_gen_transcripts.py OUT --mb 520 [--projects 8] [--seed 7]`` writes
``OUT/projects/<encoded cwd>/<session>.jsonl`` (and ``<session>/subagents/agent-*.jsonl``)
until the corpus holds ``--mb`` megabytes. The shapes are Claude Code's: compact JSON, one
line per content block of a response (thinking, text, tool_use) sharing ``message.id`` and
``requestId``, the first lines of a streamed answer with a partial ``output_tokens`` (1-9) and
the last with the full count, user lines and large tool results (no usage), summaries and file
snapshots, ``<synthetic>`` answers with zero usage, sessions that ``cd`` into a subfolder, cache
writes with and without the 5m/1h split, a little non-ASCII text. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

MODELS = (
    ("claude-sonnet-4-5-20250929", 6),
    ("claude-opus-4-1-20250805", 1),
    ("claude-haiku-4-5-20251001", 2),
    ("claude-opus-4-5-20251101", 2),
)
_TEXT = (
    "the function returns a value when the test passes and the build is green we read the "
    "file then write a patch for the module config parser route handler store migration "
    "naïve café 日本語 ✓ résumé"
)
WORDS = tuple(_TEXT.split(" "))
BRANCHES = ("main", "feature/usage", "fix/parser", "refactor-store")


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def encode(path: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]", "-", path)


def text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


class Session:
    """One session's lines, written as they would be."""

    def __init__(self, rng: random.Random, cwd: str, start: datetime, sidechain: bool) -> None:
        self.rng = rng
        self.cwd = cwd
        self.now = start
        self.sid = str(uuid.UUID(int=rng.getrandbits(128)))
        self.parent: str | None = None
        self.sidechain = sidechain
        self.branch = rng.choice(BRANCHES)
        self.model = rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
        self.version = rng.choice(("2.0.14", "2.0.31", "2.0.55"))

    def _base(self, kind: str) -> dict[str, object]:
        self.now += timedelta(seconds=self.rng.randint(1, 40))
        line_uuid = str(uuid.UUID(int=self.rng.getrandbits(128)))
        base: dict[str, object] = {
            "parentUuid": self.parent,
            "isSidechain": self.sidechain,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.sid,
            "version": self.version,
            "gitBranch": self.branch,
            "type": kind,
            "uuid": line_uuid,
            "timestamp": self.now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        self.parent = line_uuid
        return base

    def user(self) -> str:
        line = self._base("user")
        line["message"] = {"role": "user", "content": text(self.rng, self.rng.randint(5, 60))}
        return dumps(line)

    def tool_result(self) -> str:
        line = self._base("user")
        body = text(self.rng, self.rng.randint(200, 4000))
        tool_id = f"toolu_{self.rng.getrandbits(64):016x}"
        line["message"] = {
            "role": "user",
            "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": body}],
        }
        line["toolUseResult"] = {"stdout": body[:2000], "stderr": "", "interrupted": False}
        return dumps(line)

    def answer(self, synthetic: bool = False) -> list[str]:
        """One API response as Claude Code writes it: a line per content block."""
        rng = self.rng
        mid = f"msg_01{rng.getrandbits(96):024x}"
        rid = f"req_011C{rng.getrandbits(96):024x}"
        blocks = (
            ["text"]
            if synthetic
            else rng.choice(
                (
                    ["text"],
                    ["thinking", "text"],
                    ["text", "tool_use"],
                    ["thinking", "text", "tool_use"],
                    ["tool_use"],
                )
            )
        )
        full_out = 0 if synthetic else rng.randint(20, 3000)
        creation = 0 if synthetic else rng.choice((0, 0, rng.randint(100, 30000)))
        read = 0 if synthetic else rng.randint(5000, 180000)
        split = None if synthetic or rng.random() < 0.3 else rng.random() < 0.2
        uncached = 0 if synthetic else rng.choice((1, 3, 4, 8))
        lines = []
        for index, kind in enumerate(blocks):
            last = index == len(blocks) - 1
            line = self._base("assistant")
            usage: dict[str, object] = {
                "input_tokens": uncached,
                "cache_creation_input_tokens": creation,
                "cache_read_input_tokens": read,
                "output_tokens": full_out if last else rng.randint(1, 9),
                "service_tier": "standard",
            }
            if split is not None:
                one_hour = creation if split else 0
                usage["cache_creation"] = {
                    "ephemeral_5m_input_tokens": creation - one_hour,
                    "ephemeral_1h_input_tokens": one_hour,
                }
            content: dict[str, object]
            if kind == "thinking":
                content = {
                    "type": "thinking",
                    "thinking": text(rng, rng.randint(20, 400)),
                    "signature": "Eq" + "x" * 80,
                }
            elif kind == "tool_use":
                content = {
                    "type": "tool_use",
                    "id": f"toolu_{rng.getrandbits(64):016x}",
                    "name": "Edit",
                    "input": {
                        "file_path": f"{self.cwd}/src/mod.py",
                        "old_string": text(rng, 30),
                        "new_string": text(rng, 40),
                    },
                }
            else:
                content = {"type": "text", "text": text(rng, rng.randint(10, 300))}
            line["message"] = {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": "<synthetic>" if synthetic else self.model,
                "content": [content],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            }
            line["requestId"] = rid
            lines.append(dumps(line))
        return lines

    def turns(self, n: int) -> list[str]:
        out = [self.user()]
        for _ in range(n):
            out.extend(self.answer(synthetic=self.rng.random() < 0.005))
            if self.rng.random() < 0.7:
                out.append(self.tool_result())
            if self.rng.random() < 0.05:
                out.append(
                    dumps(
                        {
                            "type": "file-history-snapshot",
                            "messageId": str(uuid.UUID(int=self.rng.getrandbits(128))),
                            "snapshot": {"trackedFileBackups": {}},
                        }
                    )
                )
        if self.rng.random() < 0.3:
            out.append(
                dumps({"type": "summary", "summary": text(self.rng, 8), "leafUuid": self.parent})
            )
        return out


def generate(
    out: Path, megabytes: int, projects: int, seed: int, base: str = "/home/dev/code"
) -> dict[str, object]:
    """Write the corpus; returns counts (files, lines, bytes) and the project roots."""
    rng = random.Random(seed)
    roots = [f"{base}/project-{i}" for i in range(projects)]
    roots[1] = f"{base}/my_app"  # encodes like my-app: the lossy mapping
    end = datetime(2026, 11, 30, 18, tzinfo=UTC)
    target = megabytes * 1_000_000
    written = files = lines = 0
    while written < target:
        root = rng.choices(roots, [2 ** (projects - i) for i in range(projects)])[0]
        cwd = root if rng.random() < 0.85 else f"{root}/packages/core"
        start = end - timedelta(days=rng.uniform(0, 45))
        folder = out / "projects" / encode(root)
        session = Session(rng, cwd, start, sidechain=False)
        folder.mkdir(parents=True, exist_ok=True)
        body = session.turns(rng.randint(5, 120))
        written += _write(folder / f"{session.sid}.jsonl", body)
        files, lines = files + 1, lines + len(body)
        if rng.random() < 0.25:  # a subagent of this session, same session id
            agent = Session(rng, cwd, session.now, sidechain=True)
            agent.sid, agent.model = session.sid, session.model
            sub = folder / session.sid / "subagents"
            sub.mkdir(parents=True, exist_ok=True)
            body = agent.turns(rng.randint(3, 30))
            written += _write(sub / f"agent-{rng.getrandbits(32):08x}.jsonl", body)
            files, lines = files + 1, lines + len(body)
    return {"files": files, "lines": lines, "bytes": written, "roots": roots}


def _write(path: Path, body: list[str]) -> int:
    data = ("\n".join(body) + "\n").encode()
    path.write_bytes(data)
    return len(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=int, default=520)
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--base", default="/home/dev/code", help="folder of the project roots")
    args = parser.parse_args()
    print(json.dumps(generate(args.out, args.mb, args.projects, args.seed, args.base)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

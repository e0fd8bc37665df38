"""``[claude]`` in the project's ``attune.toml``: which model reviews, and within what bounds.

Read by the workflow itself (it is a program of its own, also run by hand), from the file in the
current directory, as a stranger's file (:func:`attune.files.read_regular`: a regular file of at
most 1 MiB, never through a symlink). Every key is optional::

    [claude]
    model = "claude-sonnet-4-6"       # any Messages API model id
    max_tokens = 4096                 # the longest answer
    max_input_tokens = 100000         # a larger scope is refused, never cut
    system_prompt_file = "docs/review-prompt.md"   # replaces the built-in instructions
    timeout_s = 120                   # no byte from the API for this long ends the run
    max_retries = 2                   # the SDK's retries of 429, 5xx and connection errors
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attune.files import Refused, read_regular

__all__ = ["ClaudeConfig", "ConfigProblem", "load_config"]

MAX_TOML_BYTES = 1 << 20
MAX_PROMPT_BYTES = 256 * 1024
DEFAULT_MODEL = "claude-sonnet-4-6"

SYSTEM_PROMPT = """\
You are a careful senior engineer reviewing a change for the developer who wrote it.
Look for, in this order: bugs (wrong results, crashes, races, resource leaks), security problems,
missing error handling, missing or weak tests, then clarity. For each finding name the file and
the line or hunk, say why it matters and what to change. Do not restate the code or praise it.
At most ten findings, the most important first; if nothing is worth changing, say so in one line.
Plain text or light Markdown; no preamble.
End with exactly one line: `Verdict: approve`, `Verdict: approve with nits` or
`Verdict: changes requested`, then ` - ` and one sentence that says why."""


class ConfigProblem(ValueError):
    """``[claude]`` cannot be used as written (the message names the key)."""


@dataclass(frozen=True)
class ClaudeConfig:
    """The review's settings, defaults filled in."""

    model: str = DEFAULT_MODEL
    max_tokens: int = 4096
    max_input_tokens: int = 100_000
    system_prompt: str = SYSTEM_PROMPT
    system_prompt_file: str | None = None
    timeout_s: float = 120.0
    max_retries: int = 2
    workflows: frozenset[str] = field(default_factory=frozenset)  # the project's own names


_INTS = {"max_tokens": (1, 128_000), "max_input_tokens": (1, 10_000_000), "max_retries": (0, 10)}
KEYS = frozenset({"model", "system_prompt_file", "timeout_s", *_INTS})


def load_config(root: Path) -> ClaudeConfig:
    """``[claude]`` of ``root/attune.toml`` (defaults when the file or the table is absent).

    Raises :class:`ConfigProblem`. Example: ``load_config(Path.cwd()).model``.
    """
    path = root / "attune.toml"
    if not path.exists() and not path.is_symlink():
        return ClaudeConfig()
    data = read_regular(path, MAX_TOML_BYTES)
    if isinstance(data, Refused):
        raise ConfigProblem(f"attune.toml {data.reason}")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ConfigProblem(f"attune.toml is not valid TOML: {exc}") from None
    table = doc.get("claude", {})
    if not isinstance(table, dict):
        raise ConfigProblem("attune.toml: [claude] must be a table")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        allowed = ", ".join(sorted(KEYS))
        raise ConfigProblem(
            f"attune.toml [claude]: unknown key {unknown[0]!r} (allowed: {allowed})"
        )
    workflows = doc.get("workflows", {})
    names = frozenset(workflows) if isinstance(workflows, dict) else frozenset()
    values: dict[str, Any] = {"workflows": names}
    for key, (low, high) in _INTS.items():
        if key in table:
            values[key] = _int(table[key], key, low, high)
    if "model" in table:
        values["model"] = _model(table["model"])
    if "timeout_s" in table:
        values["timeout_s"] = _seconds(table["timeout_s"])
    if "system_prompt_file" in table:
        name = table["system_prompt_file"]
        if not isinstance(name, str) or not name.strip():
            raise ConfigProblem("attune.toml [claude] system_prompt_file: must be a file name")
        values["system_prompt_file"] = name
        values["system_prompt"] = _prompt(root, name)
    return ClaudeConfig(**values)


def _int(value: Any, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigProblem(f"attune.toml [claude] {key}: a whole number from {low} to {high:,}")
    return value


def _model(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ConfigProblem('attune.toml [claude] model: a model id such as "claude-sonnet-4-6"')
    return value.strip()


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise ConfigProblem("attune.toml [claude] timeout_s: seconds, more than 0, at most 3600")
    return float(value)


def _prompt(root: Path, name: str) -> str:
    """The system prompt file's text: inside the project, a regular text file of ≤ 256 KiB."""
    path = (root / name).resolve()
    if path != root and root not in path.parents:
        raise ConfigProblem(
            f"attune.toml [claude] system_prompt_file: {name} is outside the project"
        )
    data = read_regular(root / name, MAX_PROMPT_BYTES)
    if isinstance(data, Refused):
        raise ConfigProblem(f"attune.toml [claude] system_prompt_file: {name} {data.reason}")
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        raise ConfigProblem(f"attune.toml [claude] system_prompt_file: {name} is empty")
    return text

"""One review on the Messages API through the official ``anthropic`` SDK: count, then stream.

The answer is written to stdout as it arrives, every line indented by two spaces, so nothing
Claude writes (or a reviewed file talks it into writing) can pass for an ``ATTUNE_REC`` or
``ATTUNE_USAGE`` line. Each message call ends with one ``ATTUNE_USAGE`` line with the tokens
the API reported, also when the stream broke after it started (those tokens are billed).
A failure becomes :class:`ApiFailure`: one line for the log and an exit code of its kind.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from attune.workflows._claude_config import ClaudeConfig

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_NETWORK",
    "EXIT_OVERLOADED",
    "EXIT_RATE_LIMITED",
    "Answer",
    "ApiFailure",
    "count_tokens",
    "make_client",
    "stream_review",
]

EXIT_NETWORK = 4
EXIT_AUTH = 5
EXIT_RATE_LIMITED = 6
EXIT_OVERLOADED = 7
EXIT_API = 8
INDENT = "  "


class ApiFailure(Exception):
    """The API call failed: ``line`` says how (never the key), ``code`` is the exit code."""

    def __init__(self, code: int, line: str) -> None:
        super().__init__(line)
        self.code = code
        self.line = line


@dataclass
class Answer:
    """What one streamed message produced."""

    model: str = ""
    text: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    started: bool = False  # message_start arrived: the call is billed
    stop_reason: str | None = None
    complete: bool = False  # message_stop arrived

    def usage_line(self) -> str:
        fields = {
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }
        return "ATTUNE_USAGE " + json.dumps(fields)


def make_client(api_key: str, config: ClaudeConfig) -> Any:
    """An ``anthropic.Anthropic`` client (``$ANTHROPIC_BASE_URL`` is honoured by the SDK)."""
    import anthropic

    return anthropic.Anthropic(
        api_key=api_key, max_retries=config.max_retries, timeout=config.timeout_s
    )


def count_tokens(client: Any, config: ClaudeConfig, content: str) -> int:
    """The input tokens of the review request (``messages.count_tokens``, not billed)."""
    try:
        counted = client.messages.count_tokens(
            model=config.model,
            system=config.system_prompt,
            messages=[{"role": "user", "content": content}],
        )
    except Exception as exc:
        raise failure(exc, config) from None
    return int(counted.input_tokens)


def stream_review(client: Any, config: ClaudeConfig, content: str) -> Answer:
    """Stream the review to stdout; the answer, or :class:`ApiFailure` after what streamed."""
    answer = Answer(model=config.model)
    writer = _IndentedWriter()
    try:
        with client.messages.stream(
            model=config.model,
            max_tokens=config.max_tokens,
            system=config.system_prompt,
            messages=[{"role": "user", "content": content}],
        ) as stream:
            for event in stream:
                _take(event, answer, writer)
    except Exception as exc:
        writer.end()
        _report_usage(answer)
        raise failure(exc, config) from None
    writer.end()
    _report_usage(answer)
    if not answer.complete:
        raise ApiFailure(
            EXIT_NETWORK,
            "claude-review: the connection closed before the answer was complete "
            "(what arrived is above)",
        )
    return answer


def _take(event: Any, answer: Answer, writer: _IndentedWriter) -> None:
    kind = getattr(event, "type", None)
    if kind == "message_start":
        message = event.message
        answer.started = True
        answer.model = message.model or answer.model
        _merge_usage(answer, message.usage)
    elif kind == "content_block_delta" and getattr(event.delta, "type", None) == "text_delta":
        answer.text += event.delta.text
        writer.write(event.delta.text)
    elif kind == "message_delta":
        answer.stop_reason = event.delta.stop_reason
        _merge_usage(answer, event.usage)
    elif kind == "message_stop":
        answer.complete = True


def _merge_usage(answer: Answer, usage: Any) -> None:
    """Counts only grow: ``message_delta`` repeats (cumulative) what ``message_start`` said."""
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ):
        value = getattr(usage, name, None)
        if isinstance(value, int):
            setattr(answer, name, max(getattr(answer, name), value))


def _report_usage(answer: Answer) -> None:
    if answer.started:
        print(answer.usage_line(), flush=True)


class _IndentedWriter:
    """Writes streamed text as it comes, each line indented (never a line of our protocol)."""

    def __init__(self) -> None:
        self._at_line_start = True

    def write(self, text: str) -> None:
        out = []
        for piece in text.splitlines(keepends=True):
            if self._at_line_start:
                out.append(INDENT)
            out.append(piece.replace("\r", ""))
            self._at_line_start = piece.endswith(("\n", "\r"))
        sys.stdout.write("".join(out))
        sys.stdout.flush()

    def end(self) -> None:
        if not self._at_line_start:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._at_line_start = True


def failure(exc: BaseException, config: ClaudeConfig) -> ApiFailure:
    """The one line and the exit code of a failed call."""
    import anthropic

    if isinstance(exc, anthropic.APITimeoutError) or "Timeout" in type(exc).__name__:
        return ApiFailure(
            EXIT_NETWORK,
            f"claude-review: the Anthropic API sent nothing for {config.timeout_s:g} s "
            "([claude] timeout_s); the network or the API is stuck",
        )
    if isinstance(exc, anthropic.APIConnectionError) or _transport_error(exc):
        cause = exc.__cause__ or exc.__context__ or exc
        return ApiFailure(
            EXIT_NETWORK, f"claude-review: the connection to the Anthropic API failed ({cause})"
        )
    if isinstance(exc, anthropic.APIStatusError):
        return _status_failure(exc)
    return ApiFailure(EXIT_API, f"claude-review: the API call failed: {exc}")


def _transport_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in {
        "httpx",
        "httpx2",
        "httpcore",
    }


def _status_failure(exc: Any) -> ApiFailure:
    body = exc.body if isinstance(exc.body, dict) else {}
    raw = body.get("error")
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    kind = str(error.get("type") or "")
    message = str(error.get("message") or "").strip()[:300]
    status = int(exc.status_code)
    said = f"{status} {kind}".strip() if status != 200 else f"mid-stream {kind or 'error'}"
    said += f": {message}" if message else ""
    if status in (401, 403) or kind in ("authentication_error", "permission_error"):
        return ApiFailure(
            EXIT_AUTH,
            f"claude-review: the API refused the key ({said}); check ANTHROPIC_API_KEY",
        )
    if status == 429 or kind == "rate_limit_error":
        after = exc.response.headers.get("retry-after") if status == 429 else None
        wait = f"; the API asks to wait {after} s before retrying" if after else ""
        return ApiFailure(EXIT_RATE_LIMITED, f"claude-review: rate limited ({said}){wait}")
    if status == 529 or status >= 500 or kind in ("overloaded_error", "api_error"):
        return ApiFailure(
            EXIT_OVERLOADED,
            f"claude-review: the API is overloaded or failing ({said}); try again in a few minutes",
        )
    return ApiFailure(EXIT_API, f"claude-review: the API refused the request ({said})")

"""A small SSE client for tests: parses ``text/event-stream`` as a browser's EventSource does."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def _parse(lines: Iterator[str]) -> Iterator[Event]:
    name, data, ident = "message", [], None
    for line in lines:
        if line == "":
            if data:
                yield Event(name, "\n".join(data), ident)
            name, data, ident = "message", [], None
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
            elif key == "id":
                ident = value


def read_events(
    url: str, *, headers: dict[str, str] | None = None, timeout: float = 60
) -> Iterator[Event]:
    """Events of one SSE stream until the server closes it (sync)."""
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
        response.raise_for_status()
        yield from _parse(response.iter_lines())


@dataclass
class RunTranscript:
    """What one reader of a run's stream received."""

    seqs: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] | None = None

    def take(self, event: Event) -> None:
        if event.event == "lines":
            body = event.json()
            first, lines = body["first"], body["lines"]
            assert event.id == str(first + len(lines) - 1), (event.id, first, len(lines))
            self.seqs.extend(range(first, first + len(lines)))
            self.lines.extend(lines)
        elif event.event == "recommendation":
            self.recommendations.append(event.json())
        elif event.event == "done":
            self.done = event.json()

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else 0


def follow_run(base: str, run_id: int, *, after: int = 0, timeout: float = 120) -> RunTranscript:
    """Read a run's events from ``after`` to ``done`` (sync), checking frame ids."""
    transcript = RunTranscript()
    deadline = time.monotonic() + timeout
    for event in read_events(f"{base}/api/runs/{run_id}/events?after={after}", timeout=timeout):
        transcript.take(event)
        if transcript.done is not None or time.monotonic() > deadline:
            break
    return transcript


async def aread_events(
    client: httpx.AsyncClient, url: str, *, headers: dict[str, str] | None = None
) -> AsyncIterator[Event]:
    """Events of one SSE stream (async), until the server closes it or the caller stops."""
    async with client.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        buffer: list[str] = []
        async for line in response.aiter_lines():
            buffer.append(line)
            if line == "":
                for event in _parse(iter(buffer)):
                    yield event
                buffer = []

"""A real HTTP server on 127.0.0.1 playing Anthropic's Admin API cost report (tests only).

It serves ``GET /v1/organizations/cost_report`` one daily bucket per day of the requested range,
``GET /v1/organizations/workspaces`` (``workspaces``, paged by ``after_id``; rows added with a
``workspace_id`` keep it only when the report is asked ``group_by[]=workspace_id``),
``limit`` (or its own smaller ``page_size``) buckets per page with ``has_more``/``next_page``,
records every request (path, query pairs, headers), and can be switched to misbehave: 401, 403,
429 with ``Retry-After``, 500, slow answers, non-JSON, the wrong shape, or a failure on page N.

Tests take it as the ``fake_anthropic`` fixture of ``conftest.py``. ``bench/_cost_fixture.py`` is
the benchmarks' own, smaller fake: stdlib only, imported by the reference product's venv too.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

ADMIN_KEY = "sk-ant-admin01-TESTKEY-abcdefghijklmnopqrstuvwxyz0123456789"
REPORT_PATH = "/v1/organizations/cost_report"
WORKSPACES_PATH = "/v1/organizations/workspaces"


@dataclass
class Recorded:
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


@dataclass
class FakeAnthropic:
    """State of the fake; tests set ``mode`` and ``rows`` and read ``requests``."""

    rows: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    # ok | 401 | 403 | 429 | 500 | 500-once | slow | not-json | wrong-shape | endless
    mode: str = "ok"
    fail_on_page: int | None = None
    page_size: int = 31
    delay: float = 0.0
    retry_after: str = "42"
    error_message: str | None = None  # replaces the message of 401/403/500 answers
    requests: list[Recorded] = field(default_factory=list)
    workspaces: list[dict[str, Any]] = field(default_factory=list)
    workspaces_page_size: int = 100
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, day: date, cents: str, **row: Any) -> None:
        """Add one result row to ``day``'s bucket (``cents`` is the API's amount string)."""
        entry = {
            "amount": cents,
            "currency": "USD",
            "workspace_id": None,
            "description": row.get("description"),
            "cost_type": row.get("cost_type", "tokens"),
            "context_window": "0-200k",
            "model": row.get("model"),
            "service_tier": "standard",
            "token_type": "uncached_input_tokens",
            **{k: v for k, v in row.items() if k not in ("description", "cost_type", "model")},
        }
        self.rows.setdefault(day, []).append(entry)

    def add_workspace(self, workspace_id: str, name: str) -> None:
        """A workspace ``GET /v1/organizations/workspaces`` lists."""
        self.workspaces.append(
            {
                "id": workspace_id,
                "type": "workspace",
                "name": name,
                "created_at": "2025-01-01T00:00:00Z",
                "archived_at": None,
                "display_color": "#6C5BB9",
            }
        )

    def report_requests(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == REPORT_PATH]

    # -- serving -----------------------------------------------------------------------------

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        with self.lock:
            self.requests.append(Recorded(parts.path, query, dict(handler.headers.items())))
            count = len(self.requests)
        if parts.path not in (REPORT_PATH, WORKSPACES_PATH):
            return _send(handler, 404, {"type": "error", "error": {"message": "not found"}})
        if self.mode == "slow" or self.delay:
            time.sleep(self.delay or 2.0)
        cursor = dict(query).get("page", "cursor-0").removeprefix("cursor-")
        page_number = 1 + int(cursor) // self.page_size if cursor.isdigit() else 1
        status_answer = self._status_answer(count, page_number)
        if status_answer is not None:
            return status_answer(handler)
        if self.mode == "not-json":
            return _send_raw(handler, 200, b"<html>gateway</html>", "text/html")
        if self.mode == "wrong-shape":
            return _send(handler, 200, {"buckets": [], "more": False})
        if self.mode == "endless":  # has_more forever with the same cursor
            return _send(handler, 200, {"data": [], "has_more": True, "next_page": "again"})
        if parts.path == WORKSPACES_PATH:
            return _send(handler, 200, self.workspaces_page(dict(query)))
        groups = {v for k, v in query if k == "group_by[]"}
        return _send(handler, 200, self.page(dict(query), by_workspace="workspace_id" in groups))

    def workspaces_page(self, query: dict[str, str]) -> dict[str, Any]:
        ids = [w["id"] for w in self.workspaces]
        after = query.get("after_id")
        start = ids.index(after) + 1 if after in ids else 0
        size = min(int(query.get("limit", "20")), self.workspaces_page_size)
        chunk = self.workspaces[start : start + size]
        return {
            "data": chunk,
            "has_more": start + size < len(ids),
            "first_id": chunk[0]["id"] if chunk else None,
            "last_id": chunk[-1]["id"] if chunk else None,
        }

    def _status_answer(self, count: int, page_number: int) -> Any:
        errors = {
            "401": (401, "authentication_error", "invalid x-api-key"),
            "403": (403, "permission_error", "this key cannot read the cost report"),
            "500": (500, "api_error", "internal server error"),
        }
        if self.mode in errors:
            status, kind, message = errors[self.mode]
            message = self.error_message or message
            return lambda h: _send(h, status, _error(kind, message))
        if self.mode == "500-once" and count == 1:
            return lambda h: _send(h, 500, _error("api_error", "try again"))
        if self.mode == "429":
            return lambda h: _send(
                h, 429, _error("rate_limit_error", "slow down"), {"retry-after": self.retry_after}
            )
        if self.fail_on_page is not None and page_number >= self.fail_on_page:
            return lambda h: _send(h, 502, _error("api_error", "bad gateway"))
        return None

    def page(self, query: dict[str, str], *, by_workspace: bool = False) -> dict[str, Any]:
        start = _day(query["starting_at"])
        end = _day(query["ending_at"]) if "ending_at" in query else start + timedelta(days=7)
        days = [start + timedelta(days=i) for i in range((end - start).days)]
        offset = int(query.get("page", "cursor-0").removeprefix("cursor-"))
        size = min(int(query.get("limit", "7")), self.page_size)
        chunk = days[offset : offset + size]
        more = offset + size < len(days)
        return {
            "data": [
                {
                    "starting_at": f"{d.isoformat()}T00:00:00Z",
                    "ending_at": f"{(d + timedelta(days=1)).isoformat()}T00:00:00Z",
                    "results": [
                        row if by_workspace else {**row, "workspace_id": None}
                        for row in self.rows.get(d, [])
                    ],
                }
                for d in chunk
            ],
            "has_more": more,
            "next_page": f"cursor-{offset + size}" if more else None,
        }


def _day(value: str) -> date:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).date()


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    _send_raw(handler, status, json.dumps(body).encode(), "application/json", headers)


def _send_raw(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    try:
        handler.send_response(status)
        handler.send_header("content-type", content_type)
        handler.send_header("content-length", str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timeout test)


def start_fake() -> FakeAnthropic:
    fake = FakeAnthropic()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            fake.answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    fake.server = server
    threading.Thread(
        target=server.serve_forever, args=(0.05,), daemon=True, name="fake-anthropic"
    ).start()
    return fake


def stop_fake(fake: FakeAnthropic) -> None:
    if fake.server is not None:
        fake.server.shutdown()
        fake.server.server_close()


@contextlib.contextmanager
def running_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    """A running fake with ``$ANTHROPIC_BASE_URL`` pointing at it; stopped on exit.

    ``conftest.py``'s ``fake_anthropic`` fixture is this, for every test module.
    """
    fake = start_fake()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    try:
        yield fake
    finally:
        stop_fake(fake)

"""A live cost report request at most once a minute, whatever asks — the page, Refresh, or an
``<img src=".../api/cost?refresh=1">`` on another site (a GET needs no token) — and none at all
while a 429's ``Retry-After`` runs. Every answer says when the next refresh is allowed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from attune.ops.config import Config
from attune.ops.spend.transport import retry_after_seconds
from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic


@pytest.fixture
def throttled(monkeypatch: pytest.MonkeyPatch, fake_anthropic: FakeAnthropic) -> FakeAnthropic:
    monkeypatch.setenv("ATTUNE_COST_MIN_REFRESH_S", "60")  # the real rule (conftest lowers it)
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    fake_anthropic.add(datetime.now(UTC).date(), "1234.5", model="claude-sonnet-4-5")
    return fake_anthropic


@pytest.fixture
def app(make_app: Callable[[Config], Any], config: Config, throttled: FakeAnthropic) -> Any:
    return make_app(config)  # built after the environment is set: the service reads it


def _until(body: dict[str, object]) -> timedelta:
    assert isinstance(body["next_refresh_at"], str)
    return datetime.fromisoformat(body["next_refresh_at"]) - datetime.now(UTC)


async def test_ten_refreshes_make_one_request(
    client: httpx.AsyncClient, throttled: FakeAnthropic
) -> None:
    bodies = [(await client.get("/api/cost?refresh=1")).json() for _ in range(10)]
    assert len(throttled.report_requests()) == 1
    assert bodies[0]["summary"]["source"] == "live"
    assert {b["summary"]["source"] for b in bodies[1:]} == {"cache"}
    assert all(b["error"] is None for b in bodies)
    assert timedelta(seconds=50) < _until(bodies[-1]) <= timedelta(seconds=60)
    page = await client.get("/?refresh=1")  # the page's Refresh button is held to it too
    assert page.status_code == 200
    assert len(throttled.report_requests()) == 1


async def test_no_request_while_retry_after_runs(
    client: httpx.AsyncClient, throttled: FakeAnthropic
) -> None:
    throttled.mode = "429"
    throttled.retry_after = "300"
    first = (await client.get("/api/cost?refresh=1")).json()
    assert first["error"]["kind"] == "rate_limited"
    throttled.mode = "ok"
    for _ in range(10):
        body = (await client.get("/api/cost?refresh=1")).json()
        assert body["error"]["kind"] == "rate_limited"
    assert len(throttled.report_requests()) == 1
    assert timedelta(seconds=290) < _until(body) <= timedelta(seconds=300)


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("42") == 42.0
    assert retry_after_seconds("Tue, 01 Dec 2026 12:02:00 GMT", now) == 120.0
    assert retry_after_seconds("Tue, 01 Dec 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("9" * 40) == 86_400.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("") is None

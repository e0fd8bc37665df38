"""The cost report client against a real fake Admin API on 127.0.0.1: requests, maths, errors."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attune.ops.spend.cache import cache_path
from attune.ops.spend.client import (
    CostFetchError,
    CostFetchErrorKind,
    CostSummary,
    cache_ttl,
    fetch_summary,
    key_file_problem,
    load_admin_key,
)
from attune.ops.spend.report import OTHER, CostSource, cents_to_usd, window_for
from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic

NOW = datetime(2026, 3, 5, 12, 30, tzinfo=UTC)


@pytest.fixture
def home(attune_home: Path) -> Path:
    attune_home.mkdir(parents=True, exist_ok=True)
    return attune_home


@pytest.fixture
def keyed(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    return home


def fetch(home: Path, **kw: Any) -> tuple[CostSummary | None, CostFetchError | None]:
    kw.setdefault("now", NOW)
    kw.setdefault("retry_delay", 0)
    return fetch_summary(attune_home=home, **kw)


def ok(home: Path, **kw: Any) -> CostSummary:
    summary, error = fetch(home, **kw)
    assert error is None, error
    assert summary is not None
    return summary


# -- amounts and the window --------------------------------------------------------------------


def test_amounts_are_cents_parsed_as_decimal() -> None:
    assert cents_to_usd("123.45") == Decimal("1.2345")
    assert cents_to_usd("0.001") == Decimal("0.00001")
    assert cents_to_usd("100") == Decimal("1")


@given(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False))
def test_cents_conversion_is_exact(cents: Decimal) -> None:
    assert cents_to_usd(str(cents)) * 100 == cents


def test_summary_reports_123_45_cents_as_dollars_1_2345(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.add(NOW.date(), "123.45", model="claude-sonnet-4-5")
    summary = ok(keyed)
    assert summary.today_usd == Decimal("1.2345")
    assert summary.thirty_day_usd == Decimal("1.2345")
    assert summary.source == CostSource.LIVE == "live"


def test_window_is_thirty_utc_days_ending_today_across_a_month_boundary(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.add(date(2026, 2, 4), "100")  # first day of the window
    fake_anthropic.add(date(2026, 2, 28), "1000")
    fake_anthropic.add(date(2026, 3, 1), "500")
    fake_anthropic.add(date(2026, 3, 5), "250")
    summary = ok(keyed)
    days = [d for d, _ in summary.by_day]
    assert days[0] == date(2026, 2, 4) and days[-1] == date(2026, 3, 5)
    assert len(days) == 30 and days == sorted(days)
    assert dict(summary.by_day)[date(2026, 2, 10)] == 0  # zero days are present
    assert summary.today_usd == Decimal("2.5")
    assert summary.month_to_date_usd == Decimal("7.5")
    assert summary.seven_day_usd == Decimal("17.5")  # 27 Feb .. 5 Mar
    assert summary.thirty_day_usd == Decimal("18.5")
    (request,) = fake_anthropic.report_requests()
    assert request.param("starting_at") == "2026-02-04T00:00:00Z"
    assert request.param("ending_at") == "2026-03-06T00:00:00Z"


def test_month_to_date_on_the_31st_includes_the_first(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    now = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    fake_anthropic.add(date(2026, 3, 1), "300")  # 30 days ago: outside the 30-day window
    fake_anthropic.add(date(2026, 3, 31), "100")
    summary = ok(keyed, now=now)
    assert summary.by_day[0][0] == date(2026, 3, 2)
    assert summary.thirty_day_usd == Decimal("1")
    assert summary.month_to_date_usd == Decimal("4")
    (request,) = fake_anthropic.report_requests()
    assert request.param("starting_at") == "2026-03-01T00:00:00Z"


def test_window_of_a_non_utc_now_uses_the_utc_day() -> None:
    from datetime import timezone

    late_evening_in_new_york = datetime(2026, 3, 5, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert window_for(late_evening_in_new_york).today == date(2026, 3, 6)


# -- the request -------------------------------------------------------------------------------


def test_request_headers_and_params_follow_the_contract(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    ok(keyed)
    (request,) = fake_anthropic.report_requests()
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["x-api-key"] == ADMIN_KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["user-agent"].startswith("attune-ops/")
    assert request.query == [
        ("starting_at", "2026-02-04T00:00:00Z"),
        ("ending_at", "2026-03-06T00:00:00Z"),
        ("bucket_width", "1d"),
        ("group_by[]", "description"),
        ("limit", "31"),
    ]


def test_pagination_passes_next_page_back_until_the_end(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.page_size = 7
    for offset in range(30):
        fake_anthropic.add(NOW.date() - timedelta(days=offset), "10")
    summary = ok(keyed)
    requests = fake_anthropic.report_requests()
    assert [r.param("page") for r in requests] == [
        None,
        "cursor-7",
        "cursor-14",
        "cursor-21",
        "cursor-28",
    ]
    assert all(r.param("starting_at") == "2026-02-04T00:00:00Z" for r in requests)
    assert summary.thirty_day_usd == Decimal("3")
    assert all(v == Decimal("0.1") for _, v in summary.by_day)


def test_breakdowns_are_descending_and_nulls_are_other(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    today = NOW.date()
    fake_anthropic.add(today, "300", model="claude-opus-4-1", description="claude-opus-4-1 input")
    fake_anthropic.add(today, "500", model="claude-sonnet-4-5", cost_type="tokens")
    fake_anthropic.add(today, "50", model=None, cost_type="web_search")
    fake_anthropic.add(today, "20", model=None, cost_type="brand_new_cost", inference_geo="eu")
    fake_anthropic.add(today, "1", model=None, cost_type=None)
    summary = ok(keyed)
    assert summary.by_model == [
        ("claude-sonnet-4-5", Decimal("5")),
        ("claude-opus-4-1", Decimal("3")),
        (OTHER, Decimal("0.71")),
    ]
    assert summary.by_cost_type == [
        ("tokens", Decimal("8")),
        ("web_search", Decimal("0.5")),
        ("brand_new_cost", Decimal("0.2")),
        (OTHER, Decimal("0.01")),
    ]


# -- failures ----------------------------------------------------------------------------------


def test_no_key_makes_no_request(home: Path, fake_anthropic: FakeAnthropic) -> None:
    summary, error = fetch(home)
    assert summary is None
    assert error is not None and error.kind == CostFetchErrorKind.NO_KEY
    assert "attune ops setup-billing" in error.message
    assert fake_anthropic.requests == []


@pytest.mark.parametrize("status", ["401", "403"])
def test_rejected_key_is_auth_failed(
    keyed: Path, fake_anthropic: FakeAnthropic, status: str
) -> None:
    fake_anthropic.mode = status
    summary, error = fetch(keyed)
    assert summary is None and error is not None
    assert error.kind == CostFetchErrorKind.AUTH_FAILED
    assert f"HTTP {status}" in error.message and "setup-billing" in error.message
    assert len(fake_anthropic.report_requests()) == 1  # never retried


def test_rate_limited_reports_retry_after(keyed: Path, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.mode = "429"
    _, error = fetch(keyed)
    assert error is not None and error.kind == CostFetchErrorKind.RATE_LIMITED
    assert "retry after 42 s" in error.message
    assert len(fake_anthropic.report_requests()) == 1


def test_server_error_is_retried_once_then_http_error(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.mode = "500"
    _, error = fetch(keyed)
    assert error == CostFetchError(
        CostFetchErrorKind.HTTP_ERROR, "the Anthropic API answered HTTP 500: internal server error"
    )
    assert len(fake_anthropic.report_requests()) == 2


def test_one_server_error_is_recovered_by_the_retry(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.mode = "500-once"
    ok(keyed)
    assert len(fake_anthropic.report_requests()) == 2


def test_slow_server_times_out_as_network(keyed: Path, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.mode = "slow"
    fake_anthropic.delay = 1.0
    _, error = fetch(keyed, timeout=0.2)
    assert error is not None and error.kind == CostFetchErrorKind.NETWORK
    assert "did not answer within 0.2 s" in error.message


def test_refused_connection_is_retried_once_then_network(keyed: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, error = fetch(keyed, base_url=f"http://127.0.0.1:{port}")
    assert error is not None and error.kind == CostFetchErrorKind.NETWORK
    assert "cannot connect to http://127.0.0.1" in error.message


def test_unusable_base_url_is_network(keyed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "ftp://example.invalid")
    _, error = fetch(keyed)
    assert error is not None and error.kind == CostFetchErrorKind.NETWORK


@pytest.mark.parametrize("mode", ["not-json", "wrong-shape"])
def test_unexpected_answers_are_bad_response(
    keyed: Path, fake_anthropic: FakeAnthropic, mode: str
) -> None:
    fake_anthropic.mode = mode
    summary, error = fetch(keyed)
    assert summary is None
    assert error is not None and error.kind == CostFetchErrorKind.BAD_RESPONSE


def test_retry_after_as_an_http_date(keyed: Path, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.mode = "429"
    fake_anthropic.retry_after = "Thu, 05 Mar 2026 12:31:00 GMT"
    _, error = fetch(keyed)
    assert error is not None and "retry after 2026-03-05T12:31:00+00:00" in error.message


def test_a_report_that_never_ends_is_bad_response(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.mode = "endless"
    _, error = fetch(keyed)
    assert error is not None and error.kind == CostFetchErrorKind.BAD_RESPONSE
    assert "next_page" in error.message
    assert len(fake_anthropic.report_requests()) == 2  # stopped as soon as the cursor repeated


def test_amounts_in_another_currency_are_bad_response(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.add(NOW.date(), "100", currency="EUR")
    _, error = fetch(keyed)
    assert error is not None and error.kind == CostFetchErrorKind.BAD_RESPONSE
    assert "EUR" in error.message


def test_amount_that_is_not_a_decimal_is_bad_response(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.add(NOW.date(), "twelve")
    _, error = fetch(keyed)
    assert error is not None and error.kind == CostFetchErrorKind.BAD_RESPONSE
    assert "twelve" in error.message


def test_failure_mid_pagination_keeps_no_partial_figures(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.page_size = 7
    fake_anthropic.fail_on_page = 3
    fake_anthropic.add(NOW.date(), "100")
    summary, error = fetch(keyed)
    assert summary is None
    assert error is not None and error.kind == CostFetchErrorKind.HTTP_ERROR
    assert "502" in error.message
    assert not cache_path(keyed).exists()
    pages = [r.param("page") for r in fake_anthropic.report_requests()]
    assert pages == [None, "cursor-7", "cursor-14", "cursor-14"]  # page 3 retried once


# -- the cache ---------------------------------------------------------------------------------


def test_fresh_cache_answers_without_a_request(keyed: Path, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.add(NOW.date(), "250")
    ok(keyed)
    later = ok(keyed, now=NOW + timedelta(minutes=5))
    assert later.source == CostSource.CACHE
    assert later.today_usd == Decimal("2.5")
    assert len(fake_anthropic.report_requests()) == 1


def test_refresh_always_asks(keyed: Path, fake_anthropic: FakeAnthropic) -> None:
    ok(keyed)
    fake_anthropic.add(NOW.date(), "999")
    refreshed = ok(keyed, refresh=True, now=NOW + timedelta(seconds=5))
    assert refreshed.source == CostSource.LIVE and refreshed.today_usd == Decimal("9.99")
    assert len(fake_anthropic.report_requests()) == 2


def test_cache_expires_after_the_ttl_from_the_environment(
    keyed: Path, fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_COST_CACHE_TTL_SECONDS", "60")
    ok(keyed)
    assert ok(keyed, now=NOW + timedelta(seconds=59)).source == CostSource.CACHE
    assert ok(keyed, now=NOW + timedelta(seconds=61)).source == CostSource.LIVE
    assert len(fake_anthropic.report_requests()) == 2


def test_cache_from_yesterday_is_not_fresh(keyed: Path, fake_anthropic: FakeAnthropic) -> None:
    ok(keyed, now=datetime(2026, 3, 5, 23, 58, tzinfo=UTC))
    summary = ok(keyed, now=datetime(2026, 3, 6, 0, 2, tzinfo=UTC))
    assert summary.source == CostSource.LIVE and summary.today == date(2026, 3, 6)


def test_ttl_setting_parses_and_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert cache_ttl() == timedelta(seconds=900)
    monkeypatch.setenv("ANTHROPIC_COST_CACHE_TTL_SECONDS", "0")
    assert cache_ttl() == timedelta(0)
    monkeypatch.setenv("ANTHROPIC_COST_CACHE_TTL_SECONDS", "soon")
    assert cache_ttl() == timedelta(seconds=900)
    assert "not a number of seconds" in caplog.text


def test_failed_refresh_returns_the_cached_summary_as_stale(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.add(NOW.date(), "700")
    ok(keyed)
    fake_anthropic.mode = "429"
    summary, error = fetch(keyed, refresh=True)
    assert summary is not None and summary.source == CostSource.STALE
    assert summary.today_usd == Decimal("7")
    assert error is not None and error.kind == CostFetchErrorKind.RATE_LIMITED


def test_server_gone_shows_last_known_figures_as_stale(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    from tests.fake_anthropic import stop_fake

    fake_anthropic.add(NOW.date(), "100")
    ok(keyed)
    stop_fake(fake_anthropic)  # the network cable is pulled
    summary, error = fetch(keyed, now=NOW + timedelta(hours=1))
    assert summary is not None and summary.source == CostSource.STALE
    assert summary.today_usd == Decimal("1")
    assert error is not None and error.kind == CostFetchErrorKind.NETWORK


def test_corrupt_cache_is_replaced_by_a_live_answer(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    path = cache_path(keyed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json", encoding="utf-8")
    summary = ok(keyed)
    assert summary.source == CostSource.LIVE
    assert json.loads(path.read_text())["summary"]["source"] == "live"


@pytest.mark.parametrize(
    "content", ["{not json", '{"version": 1, "summary": {"today_usd": 3}}', "[]", "\udcff"]
)
def test_corrupt_cache_and_failed_request_is_cache_invalid(
    keyed: Path, fake_anthropic: FakeAnthropic, content: str
) -> None:
    path = cache_path(keyed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    fake_anthropic.mode = "500"
    summary, error = fetch(keyed)
    assert summary is None and error is not None
    assert error.kind == CostFetchErrorKind.CACHE_INVALID
    assert str(path) in error.message and "http_error" in error.message


def test_cache_write_is_atomic_and_leaves_no_temp_files(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    ok(keyed)
    ok(keyed, refresh=True)
    ops = cache_path(keyed).parent
    assert [p.name for p in ops.iterdir() if "cost_cache" in p.name] == ["cost_cache.json"]


def test_unwritable_cache_still_answers_live(
    keyed: Path, fake_anthropic: FakeAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    path = cache_path(keyed)
    path.mkdir(parents=True)  # a directory where the file should be
    summary = ok(keyed)
    assert summary.source == CostSource.LIVE
    assert "could not write the cost cache" in caplog.text


# -- the key -----------------------------------------------------------------------------------


def test_load_admin_key_prefers_the_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "anthropic-admin.env").write_text("ANTHROPIC_ADMIN_API_KEY=sk-ant-admin-from-file\n")
    assert load_admin_key(attune_home=home) == "sk-ant-admin-from-file"
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", " sk-ant-admin-from-env ")
    assert load_admin_key(attune_home=home) == "sk-ant-admin-from-env"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ANTHROPIC_ADMIN_API_KEY=sk-ant-admin-a\n", "sk-ant-admin-a"),
        ('# comment\nexport ANTHROPIC_ADMIN_API_KEY="sk-ant-admin-b"\n', "sk-ant-admin-b"),
        ("sk-ant-admin-c\n", "sk-ant-admin-c"),
        ("OTHER=1\nANTHROPIC_ADMIN_API_KEY=\n", None),
        ("", None),
    ],
)
def test_key_file_formats(home: Path, text: str, expected: str | None) -> None:
    (home / "anthropic-admin.env").write_text(text)
    assert load_admin_key(attune_home=home) == expected


def test_missing_or_unreadable_key_file_is_none(home: Path) -> None:
    assert load_admin_key(attune_home=home) is None
    (home / "anthropic-admin.env").mkdir()  # reading a directory fails
    assert load_admin_key(attune_home=home) is None


def test_load_admin_key_defaults_to_attune_home_env(attune_home: Path) -> None:
    attune_home.mkdir(parents=True, exist_ok=True)
    (attune_home / "anthropic-admin.env").write_text("sk-ant-admin-default\n")
    assert load_admin_key() == "sk-ant-admin-default"


def test_key_file_readable_by_others_is_a_problem(home: Path) -> None:
    path = home / "anthropic-admin.env"
    assert key_file_problem(home) is None
    path.write_text("sk-ant-admin-x\n")
    path.chmod(0o644)
    problem = key_file_problem(home)
    assert problem is not None and "0644" in problem and "chmod 600" in problem
    path.chmod(0o600)
    assert key_file_problem(home) is None


def test_the_key_never_leaks(
    keyed: Path, fake_anthropic: FakeAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    """Not in a log record (any level, any logger), an error message, or the cache file."""
    caplog.set_level(logging.DEBUG)
    fake_anthropic.add(NOW.date(), "100", model="m")
    messages: list[str] = []
    ok(keyed)
    for mode in ("401", "403", "429", "500", "not-json", "wrong-shape"):
        fake_anthropic.mode = mode
        _, error = fetch(keyed, refresh=True)
        assert error is not None
        messages.append(error.message)
    fake_anthropic.mode = "slow"
    fake_anthropic.delay = 0.5
    messages.append(str(fetch(keyed, refresh=True, timeout=0.1)[1]))
    assert caplog.records, "the client logs what it does"
    for record in caplog.records:
        assert ADMIN_KEY not in record.getMessage()
        assert ADMIN_KEY not in str(record.args)
    assert all(ADMIN_KEY not in m for m in messages)
    assert ADMIN_KEY not in cache_path(keyed).read_text()
    assert ADMIN_KEY not in caplog.text


def test_an_api_message_echoing_the_key_is_scrubbed(
    keyed: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.mode = "401"
    fake_anthropic.error_message = f"key {ADMIN_KEY} is not valid"
    _, error = fetch(keyed)
    assert error is not None and ADMIN_KEY not in error.message
    assert "key [admin key] is not valid" in error.message


def test_key_with_unsendable_characters_is_auth_failed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", "sk-ant-admin-é")
    _, error = fetch(home, base_url="http://127.0.0.1:9")
    assert error is not None and error.kind == CostFetchErrorKind.AUTH_FAILED


def test_import_attune_does_not_import_httpx() -> None:
    import subprocess
    import sys

    code = "import attune.ops.spend.client, sys; print('httpx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    assert out.stdout.strip() == "False"

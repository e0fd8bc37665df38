"""``GET /api/cost`` and the home page's spend panel, in-process, against the fake Admin API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.config import Config
from attune.ops.spend.cache import cache_path
from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch, fake_anthropic: FakeAnthropic) -> FakeAnthropic:
    """The fake, with the admin key in the environment and some spend over the month."""
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    today = datetime.now(UTC).date()
    fake_anthropic.add(today, "1234.5", model="claude-sonnet-4-5")
    fake_anthropic.add(today - timedelta(days=3), "300", model="claude-opus-4-1")
    fake_anthropic.add(today - timedelta(days=20), "66", model=None, cost_type="web_search")
    return fake_anthropic


async def home(client: httpx.AsyncClient, query: str = "") -> str:
    response = await client.get("/" + query)
    assert response.status_code == 200
    html = response.text
    assert ADMIN_KEY not in html
    return html


def state_of(html: str) -> str:
    match = re.search(r'class="spend" data-state="([a-z_]+)"', html)
    assert match, "the spend panel is on the page"
    return match.group(1)


async def test_no_key_explains_how_to_connect_billing(
    client: httpx.AsyncClient, fake_anthropic: FakeAnthropic
) -> None:
    html = await home(client)
    assert state_of(html) == "no_key"
    assert "attune ops setup-billing" in html and "sk-ant-admin" in html
    body = (await client.get("/api/cost")).json()
    assert body == {
        "summary": None,
        "error": {"kind": "no_key", "message": body["error"]["message"]},
        "budget": None,
        "key_file_warning": None,
        "next_refresh_at": None,
    }
    assert fake_anthropic.requests == []


async def test_no_key_panel_names_the_real_key_path_and_links_the_console(
    client: httpx.AsyncClient, fake_anthropic: FakeAnthropic, config: Config
) -> None:
    assert config.attune_home != Path.home() / ".attune"  # $ATTUNE_HOME is a tmp folder here
    html = await home(client)
    assert state_of(html) == "no_key"
    key_path = f"{config.attune_home / 'anthropic-admin.env'}"
    # Shown whole, free to wrap after each "/" on a phone.
    assert f'<code class="spend-key-path">{key_path.replace("/", "/<wbr>")}</code>' in html
    assert "~/.attune" not in html
    console = re.escape("https://console.anthropic.com/settings/admin-keys")
    links = re.findall(rf'<a [^>]*href="{console}"[^>]*>', html)
    assert len(links) == 1
    assert 'target="_blank"' in links[0] and 'rel="noopener noreferrer"' in links[0]


def test_panel_builder_takes_the_key_path_it_is_given(tmp_path: Path) -> None:
    from attune.ops.spend.client import CostFetchError, CostFetchErrorKind
    from attune.ops.spend.service import CostResult
    from attune.ops.web.spend_panel import ADMIN_KEYS_URL, build_panel

    no_key = CostResult(None, CostFetchError(CostFetchErrorKind.NO_KEY, "no key"), None)
    key_file = tmp_path / "elsewhere" / "anthropic-admin.env"
    panel = build_panel(no_key, key_warning=None, key_path=key_file)
    assert panel["state"] == "no_key"
    assert panel["key_path"] == str(key_file)
    assert ADMIN_KEYS_URL == "https://console.anthropic.com/settings/admin-keys"
    assert panel["admin_keys_url"] == ADMIN_KEYS_URL


async def test_live_figures_tiles_chart_and_breakdowns(
    client: httpx.AsyncClient, keyed: FakeAnthropic
) -> None:
    html = await home(client)
    assert state_of(html) == "ok"
    assert ">live</span>" in html
    tiles = dict(
        re.findall(r'data-tile="(\w+)">\s*<span[^>]*>[^<]*</span>\s*<span[^>]*>([^<]*)<', html)
    )
    assert tiles["today"] == "$12.35"
    assert tiles["30d"] == "$16.01"
    assert tiles["7d"] == "$15.35"
    svg = html[
        html.index('<svg class="spend-chart"') : html.index("</svg>", html.index("spend-chart"))
    ]
    assert svg.count("<title>") == 30  # one hover title per day
    assert '<title id="spend-chart-title">' in svg
    assert 'role="radiogroup"' in svg and "<desc" in svg
    assert f"{datetime.now(UTC):%a %d %b %Y}: $12.35" in svg
    assert "claude-sonnet-4-5" in html and "(other)" in html and "web_search" in html
    assert re.search(
        r"claude-sonnet-4-5</th>\s*<td class=\"num\">\$12.35</td>\s*<td class=\"num muted\">77%",
        html,
    )
    assert 'href="/?refresh=1"' in html
    assert "style=" not in html
    assert len(keyed.report_requests()) == 1


async def test_second_load_is_served_from_the_cache(
    client: httpx.AsyncClient, keyed: FakeAnthropic
) -> None:
    await home(client)
    html = await home(client)
    assert ">cached just now</span>" in html
    assert len(keyed.report_requests()) == 1
    html = await home(client, "?refresh=1")
    assert ">live</span>" in html
    assert len(keyed.report_requests()) == 2


async def test_api_cost_json_twin(client: httpx.AsyncClient, keyed: FakeAnthropic) -> None:
    body = (await client.get("/api/cost")).json()
    assert body["error"] is None and body["budget"] is None
    summary = body["summary"]
    assert summary["source"] == "live"
    assert summary["today_usd"] == "12.345"
    assert len(summary["by_day"]) == 30
    assert summary["by_day"][-1] == [datetime.now(UTC).date().isoformat(), "12.345"]
    assert summary["by_model"][0] == ["claude-sonnet-4-5", "12.345"]
    assert (await client.get("/api/cost?refresh=0")).json()["summary"]["source"] == "cache"
    assert (await client.get("/api/cost?refresh=1")).json()["summary"]["source"] == "live"
    assert len(keyed.report_requests()) == 2
    bad = await client.get("/api/cost?refresh=maybe")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


async def test_rejected_key_says_so(client: httpx.AsyncClient, keyed: FakeAnthropic) -> None:
    keyed.mode = "401"
    html = await home(client)
    assert state_of(html) == "auth_failed"
    assert "rejected the admin key" in html and "attune ops setup-billing" in html
    assert (await client.get("/api/cost")).json()["error"]["kind"] == "auth_failed"


@pytest.mark.parametrize(
    ("mode", "label", "notice"),
    [
        ("429", "stale: rate limited", "retry after 42 s"),
        ("500", "stale: API error", "HTTP 500"),
        ("not-json", "stale: unexpected answer", "not JSON"),
    ],
)
async def test_failures_after_a_success_show_stale_figures(
    client: httpx.AsyncClient, keyed: FakeAnthropic, mode: str, label: str, notice: str
) -> None:
    await home(client)
    keyed.mode = mode
    html = await home(client, "?refresh=1")
    assert state_of(html) == "stale"
    assert f">{label}</span>" in html
    assert notice in html and 'class="notice spend-stale muted"' in html
    assert "$12.35" in html  # the last known figures stay on the page
    body = (await client.get("/api/cost?refresh=1")).json()
    assert body["summary"]["source"] == "stale" and body["error"]["message"]


async def test_server_gone_shows_last_figures_as_stale(
    client: httpx.AsyncClient, keyed: FakeAnthropic
) -> None:
    from tests.fake_anthropic import stop_fake

    await home(client)
    stop_fake(keyed)
    html = await home(client, "?refresh=1")
    assert state_of(html) == "stale" and ">stale: offline</span>" in html
    assert "cannot connect" in html and "$12.35" in html


@pytest.mark.parametrize(("mode", "kind"), [("500", "http_error"), ("wrong-shape", "bad_response")])
async def test_failures_without_figures_are_unavailable(
    client: httpx.AsyncClient, keyed: FakeAnthropic, mode: str, kind: str
) -> None:
    keyed.mode = mode
    html = await home(client)
    assert state_of(html) == "unavailable"
    assert f'<span class="badge badge-warn">{kind}</span>' in html
    assert "No spend figures yet" in html


async def test_corrupt_cache_with_a_failing_api_is_cache_invalid(
    client: httpx.AsyncClient, keyed: FakeAnthropic, config: Config
) -> None:
    cache_path(config.attune_home).write_text("{oops", encoding="utf-8")
    keyed.mode = "500"
    html = await home(client)
    assert state_of(html) == "unavailable" and "cache_invalid" in html
    assert str(cache_path(config.attune_home)) in html


async def test_key_file_readable_by_others_warns_on_the_page(
    client: httpx.AsyncClient, fake_anthropic: FakeAnthropic, config: Config
) -> None:
    key_file = config.attune_home / "anthropic-admin.env"
    key_file.write_text(f"ANTHROPIC_ADMIN_API_KEY={ADMIN_KEY}\n")
    key_file.chmod(0o644)
    html = await home(client)
    assert state_of(html) == "ok"
    assert "spend-key-warning" in html and "chmod 600" in html
    body = (await client.get("/api/cost")).json()
    assert "readable by other users" in body["key_file_warning"]
    assert ADMIN_KEY not in str(body)


async def test_concurrent_page_loads_make_one_request(
    client: httpx.AsyncClient, keyed: FakeAnthropic
) -> None:
    keyed.delay = 0.3
    pages = await asyncio.gather(*(client.get("/") for _ in range(6)))
    assert all(p.status_code == 200 and "$12.35" in p.text for p in pages)
    assert len(keyed.report_requests()) == 1


async def test_concurrent_refreshes_make_one_request(
    client: httpx.AsyncClient, keyed: FakeAnthropic
) -> None:
    await client.get("/api/cost")
    keyed.delay = 0.3
    answers = await asyncio.gather(*(client.get("/api/cost?refresh=1") for _ in range(5)))
    assert {a.json()["summary"]["source"] for a in answers} == {"live"}
    assert len(keyed.report_requests()) == 2


async def test_event_loop_stays_responsive_during_a_slow_fetch(
    client: httpx.AsyncClient, keyed: FakeAnthropic
) -> None:
    keyed.delay = 0.5
    slow = asyncio.ensure_future(client.get("/api/cost"))
    await asyncio.sleep(0.1)
    health = await client.get("/healthz")
    assert health.status_code == 200 and not slow.done()
    assert (await slow).json()["summary"]["source"] == "live"


async def test_budget_gauge_and_projection(
    make_config: Callable[..., Config], make_app: Callable[[Config], Any], keyed: FakeAnthropic
) -> None:
    app = make_app(make_config(monthly_budget_usd=Decimal("20")))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765"
    ) as c:
        budget = (await c.get("/api/cost")).json()["budget"]
        html = await home(c)
    assert budget["monthly_budget_usd"] == "20"
    assert budget["level"] in ("ok", "warn", "over")
    assert Decimal(budget["projected_usd"]) >= Decimal(budget["month_to_date_usd"])
    assert "Monthly budget" in html
    assert f'<svg class="budget-gauge budget-gauge-{budget["level"]}"' in html
    assert "<title>Budget: $20.00</title>" in html and "budget $20.00</p>" in html
    assert f'data-level="{budget["level"]}"' in html


async def test_budget_is_remembered_across_starts(
    make_config: Callable[..., Config], make_app: Callable[[Config], Any], keyed: FakeAnthropic
) -> None:
    make_app(make_config(monthly_budget_usd=Decimal("250")))
    app = make_app(make_config())  # a later start without --monthly-budget
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765"
    ) as c:
        budget = (await c.get("/api/cost")).json()["budget"]
    assert budget["monthly_budget_usd"] == "250"


def test_panel_and_chart_are_csp_clean(tmp_path: Path) -> None:
    """No inline style or script in the template: CSP forbids both."""
    from attune.ops.web.pages import TEMPLATES_DIR

    template = (TEMPLATES_DIR / "_home_spend.html").read_text()
    assert "style=" not in template
    assert re.search(r"\son[a-z]+=", template) is None
    assert re.findall(r"<script(?![^>]*\bsrc=)", template) == []


async def test_slow_anthropic_renders_the_page_at_once_marked_pending(
    client: httpx.AsyncClient, keyed: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    from attune.ops.web.routes import cost

    monkeypatch.setattr(cost, "HOME_WAIT_S", 0.1)
    keyed.delay = 0.6
    html = await home(client)
    assert state_of(html) == "pending" and 'data-pending="1"' in html
    assert "Fetching the latest figures from Anthropic" in html
    body = (await client.get("/api/cost")).json()  # joins the fetch still under way
    assert body["summary"]["source"] == "live"
    assert len(keyed.report_requests()) == 1
    html = await home(client)
    assert state_of(html) == "ok" and ">cached just now</span>" in html


async def test_slow_refresh_shows_cached_figures_as_updating(
    client: httpx.AsyncClient, keyed: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    from attune.ops.web.routes import cost

    monkeypatch.setattr(cost, "HOME_WAIT_S", 0.1)
    await home(client)
    keyed.delay = 0.6
    html = await home(client, "?refresh=1")
    assert state_of(html) == "ok" and 'data-pending="1"' in html
    assert ">updating…</span>" in html and "$12.35" in html
    assert (await client.get("/api/cost")).json()["summary"]["source"] == "live"
    assert len(keyed.report_requests()) == 2


async def test_a_transient_failure_is_not_retried_by_every_page_load(
    client: httpx.AsyncClient, keyed: FakeAnthropic
) -> None:
    keyed.mode = "429"
    for _ in range(3):
        assert state_of(await home(client)) == "unavailable"
    assert len(keyed.report_requests()) == 1
    keyed.mode = "ok"
    # The 429 said "Retry-After: 42": not even Refresh asks before then (issue 12 item 12),
    # and the answer says when it may.
    assert state_of(await home(client, "?refresh=1")) == "unavailable"
    body = (await client.get("/api/cost?refresh=1")).json()
    assert len(keyed.report_requests()) == 1
    wait = datetime.fromisoformat(body["next_refresh_at"]) - datetime.now(UTC)
    assert timedelta(seconds=30) < wait <= timedelta(seconds=43)


async def test_a_rejected_key_is_asked_again_on_the_next_load(
    client: httpx.AsyncClient, keyed: FakeAnthropic
) -> None:
    keyed.mode = "401"
    assert state_of(await home(client)) == "auth_failed"
    keyed.mode = "ok"  # e.g. after `attune ops setup-billing` stored a good key
    assert state_of(await home(client)) == "ok"

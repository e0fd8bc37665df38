"""``GET /api/usage`` and the usage pages through the real app: the DESIGN §10 object, scopes
(this project by ``cwd``, every project with shares), periods, sessions and their turns, 5-hour
blocks, unpriced models, errors in the one shape, no planted secret in any answer, and the
reconciliation against the fake Admin API's "Claude Code" workspace."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.config import Config
from attune.ops.spend.usage.query import parse_query
from attune.ops.web.services import services_of
from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic
from tests.usage_lines import T0, assistant, at, stamp, transcript, user, write

SECRET = "sk-ant-api03-PLANTEDSECRET-usage-0123456789abcdef"


@pytest.fixture
def config(backend_config: Config) -> Config:
    """Every test here runs on both store backends (SQLite, then PostgreSQL)."""
    return backend_config


@pytest.fixture
def claude(tmp_path: Path) -> Path:
    """The config folder ``$CLAUDE_CONFIG_DIR`` points at (tests/conftest.py)."""
    return tmp_path / "claude-config"


def seed(claude: Path, project: Path) -> None:
    cwd, sub = str(project), str(project / "packages" / "core")
    sibling = str(project.parent / "other")
    write(
        transcript(claude, cwd, "s1"),
        [
            user(f"here is my key {SECRET}", ts=at(0), cwd=cwd),
            assistant("m1", ts=at(1), cwd=cwd, output_tokens=1, read=10_000),
            assistant("m1", ts=at(1.1), cwd=cwd, output_tokens=200, read=10_000, text=SECRET),
            assistant("m2", ts=at(30), cwd=sub, output_tokens=50, request_id="r2", creation=1000),
        ],
    )
    write(
        transcript(claude, cwd, "s2"),
        [
            assistant("m3", ts=at(60 * 24), cwd=cwd, session="s2", branch="feature/x"),
            assistant("m4", ts=at(60 * 24 + 5), cwd=cwd, session="s2", model="claude-imaginary-9"),
        ],
    )
    # another project, and one whose folder name collides with ours once encoded
    write(transcript(claude, sibling, "s3"), [assistant("m5", ts=at(2), cwd=sibling, session="s3")])
    lossy = str(project.parent / project.name.replace("project", "pro-ject"))
    write(
        transcript(claude, lossy, "s4", project_dir=transcript(claude, cwd, "x").parent.name),
        [assistant("m6", ts=at(3), cwd=lossy, session="s4", output_tokens=999)],
    )


@pytest.fixture
def seeded(app: Any, claude: Path, project: Path) -> Any:
    seed(claude, project)
    services_of(app).usage.ingest_now()
    return app


async def test_the_report_is_the_design_object_for_this_project(
    seeded: Any, client: httpx.AsyncClient, project: Path
) -> None:
    r = await client.get("/api/usage")
    assert r.status_code == 200
    body = r.json()
    assert body["scope"] == "project" and body["project"] == str(project)
    assert body["estimate"] is True and body["price_source"].startswith("genai-prices ")
    totals = body["totals"]
    assert {"messages", "input_tokens", "output_tokens", "cache_creation_tokens"} <= set(totals)
    assert totals["messages"] == 4  # m1 (two lines), m2 from a subfolder, m3, m4
    assert totals["output_tokens"] == 200 + 50 + 100 + 100
    assert totals["unpriced_messages"] == 1
    assert isinstance(totals["cost_usd"], str) and Decimal(totals["cost_usd"]) > 0
    models = {m["model"]: m for m in body["by_model"]}
    assert models["claude-imaginary-9"]["priced"] is False
    assert models["claude-imaginary-9"]["cost_usd"] is None
    assert models["claude-imaginary-9"]["output_tokens"] == 100
    assert [s["id"] for s in body["sessions"]] == ["s2", "s1"]  # newest first
    s1 = body["sessions"][1]
    assert s1["messages"] == 2 and s1["git_branch"] == "main" and s1["active_s"] == 0
    assert {d["date"] for d in body["by_day"] if d["messages"]} == {"2026-11-20", "2026-11-21"}
    assert body["skipped_lines"] == 0 and body["reconciliation"] is None
    assert "projects" not in body


async def test_every_project_with_its_share(
    seeded: Any, client: httpx.AsyncClient, project: Path
) -> None:
    if services_of(seeded).store.backend != "sqlite":
        pytest.skip("a team store keeps only this project's usage rows: no other project to share")
    body = (await client.get("/api/usage?project=all")).json()
    assert body["scope"] == "all" and body["project"] is None
    assert body["totals"]["messages"] == 6
    projects = {p["project"]: p for p in body["projects"]}
    assert projects[str(project)]["current"] is True
    assert projects[str(project)]["messages"] == 4
    assert str(project.parent / "other") in projects
    shares = sum(Decimal(p["share"]) for p in body["projects"])
    assert abs(shares - 1) < Decimal("0.001")


async def test_periods_and_pages_of_sessions(seeded: Any, client: httpx.AsyncClient) -> None:
    day = (await client.get("/api/usage?since=2026-11-21&until=2026-11-21")).json()
    assert day["totals"]["messages"] == 2 and [s["id"] for s in day["sessions"]] == ["s2"]
    first = (await client.get("/api/usage?limit=1")).json()
    assert [s["id"] for s in first["sessions"]] == ["s2"] and first["sessions_next_offset"] == 1
    second = (await client.get("/api/usage?limit=1&offset=1")).json()
    assert [s["id"] for s in second["sessions"]] == ["s1"]
    assert second["sessions_next_offset"] is None


@pytest.mark.parametrize(
    "query",
    [
        "project=mine",
        "since=yesterday",
        "until=2026-13-01",
        "since=2026-11-22&until=2026-11-01",
        "limit=0",
        "offset=-1",
    ],
)
async def test_a_bad_filter_is_one_error_shape(
    seeded: Any, client: httpx.AsyncClient, query: str
) -> None:
    r = await client.get(f"/api/usage?{query}")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_filter"


async def test_a_session_shows_its_turns(seeded: Any, client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/usage/sessions/s1")).json()
    assert [t["message_id"] for t in body["turns"]] == ["m1", "m2"]
    assert body["turns"][0]["output_tokens"] == 200 and body["turns"][1]["cwd"].endswith("core")
    page = await client.get("/usage/sessions/s1")
    assert page.status_code == 200  # ids stay in the JSON (never inside a random token)
    assert re.search(r"(?<![A-Za-z0-9_-])m1(?![A-Za-z0-9_-])", page.text) is None
    missing = await client.get("/api/usage/sessions/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_no_answer_carries_a_word_of_the_transcripts(
    seeded: Any, client: httpx.AsyncClient
) -> None:
    for url in (
        "/api/usage",
        "/api/usage?project=all",
        "/api/usage/sessions/s1",
        "/usage",
        "/usage?project=all",
        "/usage/sessions/s1",
        "/",
    ):
        r = await client.get(url)
        assert r.status_code == 200, url
        assert SECRET not in r.text and "here is my key" not in r.text, url


def test_five_hour_blocks_and_the_active_ones_burn_rate(
    app: Any, claude: Path, project: Path
) -> None:
    cwd = str(project)
    lines = [
        assistant(
            f"b{i}",
            ts=stamp(T0 + timedelta(minutes=m)),
            cwd=cwd,
            request_id=f"rb{i}",
            output_tokens=1000,
            read=0,
        )
        for i, m in enumerate((5, 120, 299, 305, 600))
    ]
    write(transcript(claude, cwd, "blocks"), lines)
    usage = services_of(app).usage
    usage.ingest_now()
    now = T0 + timedelta(minutes=630)
    report = usage.report(parse_query(project), now=now)
    starts = [(b["start"], b["messages"], b["active"]) for b in reversed(report["blocks"])]
    assert starts == [
        ("2026-11-20T10:00:00+00:00", 3, False),  # 10:05, 12:00, 14:59
        ("2026-11-20T15:00:00+00:00", 1, False),  # 15:05: past the first block's end
        ("2026-11-20T20:00:00+00:00", 1, True),  # 20:00, a gap over 5 h
    ]
    active = report["blocks"][0]
    assert active["end"] == "2026-11-21T01:00:00+00:00"
    assert Decimal(active["projected_cost_usd"]) > Decimal(active["cost_usd"]) > 0
    # 1,003 tokens in the 30 minutes since its first message; $ per hour at that pace
    assert active["burn_rate_tokens_per_min"] == "33.4"
    per_hour = Decimal(active["cost_per_hour_usd"])
    assert per_hour == (Decimal(active["cost_usd"]) * 2).quantize(Decimal("0.0001"))
    remaining_h = Decimal(5) - Decimal("0.5")
    assert Decimal(active["projected_cost_usd"]) == (
        Decimal(active["cost_usd"]) + Decimal(active["cost_usd"]) * 2 * remaining_h
    ).quantize(Decimal("0.0001"))


def _recent(claude: Path, project: Path, cost_days: int = 3) -> datetime:
    now = datetime.now(UTC)
    cwd = str(project)
    lines = [
        assistant(
            f"r{d}",
            ts=stamp(now - timedelta(days=d)),
            cwd=cwd,
            request_id=f"rr{d}",
            output_tokens=100_000,
        )
        for d in range(cost_days)
    ]
    write(transcript(claude, cwd, "recent"), lines)
    return now


def test_the_estimate_beside_the_claude_code_workspace_bill(
    app: Any,
    claude: Path,
    project: Path,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    now = _recent(claude, project)
    fake_anthropic.add_workspace("wrkspc_default_other", "Default")
    fake_anthropic.add_workspace("wrkspc_cc", "Claude Code")
    today = now.date()
    fake_anthropic.add(today, "200.00", workspace_id="wrkspc_cc", description="x")  # $2.00
    fake_anthropic.add(today, "999.00", workspace_id="wrkspc_default_other")
    usage = services_of(app).usage
    usage.ingest_now()
    found = usage.reconciliation(today, billing="wait")
    assert found is not None and found["status"] == "ok", found
    assert found["workspace"] == {"id": "wrkspc_cc", "name": "Claude Code"}
    line = next(d for d in found["days"] if d["date"] == today.isoformat())
    assert line["billed_usd"] == "2"  # the other workspace's $9.99 is not Claude Code's
    assert Decimal(line["estimate_usd"]) == Decimal("1.5") + Decimal("0.000009")
    assert Decimal(line["difference_usd"]) == 2 - Decimal(line["estimate_usd"])
    assert found["month"]["coverage"] is not None
    assert "of the billed Claude Code spend" in found["message"]
    report = fake_anthropic.report_requests()
    assert report and {("group_by[]", "workspace_id"), ("group_by[]", "description")} <= set(
        report[0].query
    )
    asked = len(fake_anthropic.requests)
    usage.reconciliation(today, billing="wait")  # cached with the cost report's TTL
    assert len(fake_anthropic.requests) == asked


def test_without_a_claude_code_workspace_the_estimate_stands_alone(
    app: Any,
    claude: Path,
    project: Path,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    now = _recent(claude, project)
    fake_anthropic.add_workspace("wrkspc_1", "Production")
    usage = services_of(app).usage
    usage.ingest_now()
    found = usage.reconciliation(now.date(), billing="wait")
    assert found is not None and found["status"] == "no_workspace"
    assert "API-equivalent estimate only" in found["message"]


def test_a_subscription_bills_nothing_and_says_so(
    app: Any,
    claude: Path,
    project: Path,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    now = _recent(claude, project)
    fake_anthropic.add_workspace("wrkspc_cc", "Claude Code")
    usage = services_of(app).usage
    usage.ingest_now()
    found = usage.reconciliation(now.date(), billing="wait")
    assert found is not None and found["status"] == "nothing_billed"
    assert "subscription" in found["message"]


def test_a_failing_admin_api_is_reported_not_raised(
    app: Any,
    claude: Path,
    project: Path,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    fake_anthropic.mode = "401"
    found = services_of(app).usage.reconciliation(datetime.now(UTC).date(), billing="wait")
    assert found is not None and found["status"] == "error"
    assert found["error"]["kind"] == "auth_failed" and ADMIN_KEY not in str(found)

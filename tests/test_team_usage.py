"""Team usage on one PostgreSQL store: two members (two Claude Code config folders, two project
roots at different paths, two ``ATTUNE_USER``/``ATTUNE_HOST``) ingest their real transcripts;
the team total is the sum of the members', each member's equals what a SQLite store of that
member alone reports, a member's other project never reaches the team store, the same path on
two machines does not collide, the API, the page and ``attune usage --by member`` show both,
and the reconciliation sets the team's estimate beside the billed "Claude Code" workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.config import Config, build_config
from attune.ops.spend.usage.query import parse_query
from attune.ops.spend.usage.service import UsageService
from attune.ops.store.database import Store
from attune.ops.store.postgres import PostgresStore
from attune.ops.web.services import services_of
from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic
from tests.usage_lines import assistant, at, stamp, transcript, user, write

SECRET = "sk-ant-api03-PLANTEDSECRET-team-0123456789abcdef"
ANN, BOB = "ann@laptop-ann", "bob@ci-box"


@dataclass(frozen=True)
class Member:
    user: str
    host: str
    claude: Path  # this member's $CLAUDE_CONFIG_DIR
    root: Path  # this member's path to the project

    @property
    def name(self) -> str:
        return f"{self.user}@{self.host}"

    def act(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Play this member: its user, host and Claude Code config folder."""
        monkeypatch.setenv("ATTUNE_USER", self.user)
        monkeypatch.setenv("ATTUNE_HOST", self.host)
        monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(self.claude))

    def config(self, tmp_path: Path, **overrides: Any) -> Config:
        home = tmp_path / f"home-{self.user}"
        return build_config(self.root, attune_home=home, **overrides)


@pytest.fixture
def ann(tmp_path: Path) -> Member:
    member = Member("ann", "laptop-ann", tmp_path / "ann-claude", tmp_path / "ann" / "proj")
    member.root.mkdir(parents=True)
    return member


@pytest.fixture
def bob(tmp_path: Path) -> Member:
    root = tmp_path / "bob" / "src" / "the-proj"
    member = Member("bob", "ci-box", tmp_path / "bob-claude", root)
    root.mkdir(parents=True)
    return member


def seed_ann(ann: Member) -> None:
    cwd, sub = str(ann.root), str(ann.root / "packages" / "core")
    write(
        transcript(ann.claude, cwd, "ann-s1"),
        [
            user(f"my key is {SECRET}", ts=at(0), cwd=cwd, session="ann-s1"),
            assistant("a1", ts=at(1), cwd=cwd, session="ann-s1", output_tokens=200, read=5000),
            assistant("a2", ts=at(20), cwd=sub, session="ann-s1", request_id="r2", creation=900),
            assistant("a3", ts=at(60 * 24), cwd=cwd, session="ann-s1", request_id="r3"),
        ],
    )
    # Ann's other project on her laptop: never the team's business
    secret = str(ann.root.parent / "secret-side-project")
    write(
        transcript(ann.claude, secret, "ann-s2"),
        [assistant("a-side", ts=at(5), cwd=secret, session="ann-s2", output_tokens=7777)],
    )


def seed_bob(bob: Member) -> None:
    cwd = str(bob.root)
    write(
        transcript(bob.claude, cwd, "bob-s1"),
        [
            assistant("b1", ts=at(2), cwd=cwd, session="bob-s1", output_tokens=50),
            assistant("b2", ts=at(3), cwd=cwd, session="bob-s1", request_id="rb2", read=100),
        ],
    )


def service(member: Member, store: Store, tmp_path: Path) -> UsageService:
    return UsageService(member.config(tmp_path), store, roots=lambda: [member.claude])


@pytest.fixture
def team(
    postgres_url: str, tmp_path: Path, ann: Member, bob: Member, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PostgresStore]:
    """Ann's and Bob's dashboards ingested into one team store (Ann's is the one asked)."""
    seed_ann(ann)
    seed_bob(bob)
    store = PostgresStore(postgres_url)
    try:
        bob.act(monkeypatch)
        service(bob, store, tmp_path).ingest_now()
        ann.act(monkeypatch)
        service(ann, store, tmp_path).ingest_now()
        yield store
    finally:
        store.close()


def alone(member: Member, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What this member's own SQLite store reports for the project."""
    member.act(monkeypatch)
    store = Store(tmp_path / f"{member.user}-alone.db")
    try:
        usage = service(member, store, tmp_path)
        usage.ingest_now()
        return usage.report(parse_query(member.root), billing="cached")
    finally:
        store.close()


FIGURES = ("messages", "input_tokens", "output_tokens", "cache_read_tokens", "cost_usd")


def test_the_team_total_is_the_sum_of_its_members_and_each_is_what_it_reports_alone(
    team: PostgresStore,
    tmp_path: Path,
    ann: Member,
    bob: Member,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ann.act(monkeypatch)
    usage = service(ann, team, tmp_path)
    report = usage.report(parse_query(ann.root, project="all"), billing="cached")
    part = report["team"]
    assert part["member"] == ANN
    members = {m["member"]: m for m in part["members"]}
    assert set(members) == {ANN, BOB}
    assert members[ANN]["you"] is True and members[BOB]["you"] is False
    assert members[BOB]["root"] == str(bob.root)
    for name in ("messages", "output_tokens", "total_tokens"):
        assert part["totals"][name] == members[ANN][name] + members[BOB][name]
    cost = Decimal(members[ANN]["cost_usd"]) + Decimal(members[BOB]["cost_usd"])
    assert Decimal(part["totals"]["cost_usd"]) == cost > 0
    shares = Decimal(members[ANN]["share"]) + Decimal(members[BOB]["share"])
    assert abs(shares - 1) <= Decimal("0.0001")
    assert members[ANN]["last_seen"] and members[ANN]["last_message_at"].startswith("2026-11-21")
    # the whole team's view of the project is the team total
    assert {k: report["totals"][k] for k in FIGURES} == {k: part["totals"][k] for k in FIGURES}
    assert part["periods"]["all"]["messages"] == 5

    for member in (ann, bob):
        own = alone(member, tmp_path, monkeypatch)["totals"]
        assert {k: members[member.name][k] for k in FIGURES} == {k: own[k] for k in FIGURES}
    # "this project" on a team store is this member's rows, as on Ann's own SQLite store
    ann.act(monkeypatch)
    mine = usage.report(parse_query(ann.root), billing="cached")
    assert mine["totals"]["messages"] == members[ANN]["messages"] == 3
    assert [s["id"] for s in mine["sessions"]] == ["ann-s1"]


def test_another_project_of_a_member_never_reaches_the_team_store(
    team: PostgresStore, tmp_path: Path, ann: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    with team.read() as conn:
        keys = {r[0] for r in conn.execute("SELECT key FROM usage_messages")}
        folders = {r[0] for r in conn.execute("SELECT cwd FROM usage_cwds")}
        tokens = conn.execute("SELECT max(output_tokens) FROM usage_messages").fetchone()[0]
    assert keys == {"a1", "a2", "a3", "b1", "b2"}
    assert not any("secret-side-project" in f for f in folders)
    assert tokens < 7777
    # Ann's own SQLite store still has every project of her laptop
    ann.act(monkeypatch)
    store = Store(tmp_path / "ann-laptop.db")
    try:
        usage = service(ann, store, tmp_path)
        usage.ingest_now()
        every = usage.report(parse_query(ann.root, project="all"), billing="cached")
    finally:
        store.close()
    assert every["totals"]["messages"] == 4 and every["team"] is None


def test_the_same_path_on_two_machines_does_not_collide(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both machines keep Claude Code's config and the project at the same paths.
    claude, root = tmp_path / "dot-claude", tmp_path / "work" / "proj"
    root.mkdir(parents=True)
    one = Member("dev", "desk", claude, root)
    two = Member("dev", "laptop", claude, root)
    path = transcript(claude, str(root), "s1")
    store = PostgresStore(postgres_url)
    try:
        write(path, [assistant("d1", ts=at(1), cwd=str(root), output_tokens=10)])
        one.act(monkeypatch)
        desk = service(one, store, tmp_path)
        desk.ingest_now()
        # the laptop's file at that path holds other lines (and is another file)
        path.unlink()
        write(path, [assistant("l1", ts=at(2), cwd=str(root), output_tokens=20, request_id="q")])
        two.act(monkeypatch)
        laptop = service(two, store, tmp_path)
        laptop.ingest_now()
        with store.read() as conn:
            files = conn.execute(
                "SELECT member, path, read_offset FROM usage_files ORDER BY member"
            ).fetchall()
            folders = conn.execute("SELECT member FROM usage_cwds ORDER BY member").fetchall()
        assert [(r[0], r[1]) for r in files] == [("dev@desk", str(path)), ("dev@laptop", str(path))]
        assert all(r[2] > 0 for r in files)
        assert [r[0] for r in folders] == ["dev@desk", "dev@laptop"]
        team = laptop.report(parse_query(root, project="all"), billing="cached")
        assert {m["member"]: m["output_tokens"] for m in team["team"]["members"]} == {
            "dev@desk": 10,
            "dev@laptop": 20,
        }
        mine = laptop.report(parse_query(root), billing="cached")
        assert (
            mine["totals"]["output_tokens"] == 20
        )  # the desk's rows at the same path are not mine
    finally:
        store.close()


@pytest.fixture
def ann_app(
    team: PostgresStore,
    make_app: Any,
    tmp_path: Path,
    ann: Member,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    ann.act(monkeypatch)
    return make_app(ann.config(tmp_path, database_url=postgres_url))


async def test_the_api_and_the_page_show_every_member(ann_app: Any) -> None:
    services_of(ann_app).usage.ingest_now()
    transport = httpx.ASGITransport(app=ann_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as c:
        body = (await c.get("/api/usage?project=all")).json()
        page = await c.get("/usage?project=all")
        own = (await c.get("/api/usage")).json()
    assert {m["member"] for m in body["team"]["members"]} == {ANN, BOB}
    assert body["estimate"] is True and body["totals"]["messages"] == 5
    assert own["totals"]["messages"] == 3 and own["team"]["totals"]["messages"] == 5
    assert page.status_code == 200
    html = page.text
    assert ANN in html and BOB in html and "usage-team" in html
    assert "the team" in html.lower() and "estimate" in html
    for text in (json.dumps(body), json.dumps(own), html):
        assert SECRET not in text and "secret-side-project" not in text


def test_on_sqlite_the_report_has_no_team(
    tmp_path: Path, ann: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_ann(ann)
    report = alone(ann, tmp_path, monkeypatch)
    assert report["team"] is None and report["totals"]["messages"] == 3


def test_the_reconciliation_sets_the_team_estimate_beside_the_bill(
    postgres_url: str,
    tmp_path: Path,
    ann: Member,
    bob: Member,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    moment = stamp(now - timedelta(minutes=10))
    for member, key, tokens in ((ann, "ra", 100_000), (bob, "rb", 200_000)):
        cwd = str(member.root)
        write(
            transcript(member.claude, cwd, f"{member.user}-now"),
            [
                assistant(
                    key, ts=moment, cwd=cwd, session=f"{member.user}-now", output_tokens=tokens
                )
            ],
        )
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    fake_anthropic.add_workspace("wrkspc_cc", "Claude Code")
    fake_anthropic.add(now.date(), "1000.00", workspace_id="wrkspc_cc", description="x")
    store = PostgresStore(postgres_url)
    try:
        bob.act(monkeypatch)
        service(bob, store, tmp_path).ingest_now()
        ann.act(monkeypatch)
        usage = service(ann, store, tmp_path)
        usage.ingest_now()
        found = usage.reconciliation(now.date(), billing="wait")
        report = usage.report(parse_query(ann.root, project="all"), billing="cached")
    finally:
        store.close()
    assert found is not None and found["status"] == "ok", found
    assert found["estimate_scope"] == "team" and found["team_members"] == 2
    team_cost = Decimal(report["team"]["totals"]["cost_usd"])
    ann_cost = next(Decimal(m["cost_usd"]) for m in report["team"]["members"] if m["you"])
    assert 0 < ann_cost < team_cost
    line = next(d for d in found["days"] if d["date"] == now.date().isoformat())
    assert line["billed_usd"] == "10"
    assert Decimal(line["estimate_usd"]) == team_cost  # both members, not Ann's alone
    assert found["message"].startswith("the team's estimates cover")
    assert "without a dashboard on this store" in found["message"]


def test_the_cli_prints_the_team_by_member(
    team: PostgresStore, tmp_path: Path, ann: Member, postgres_url: str
) -> None:
    env = {
        **os.environ,
        "ATTUNE_HOME": str(tmp_path / "home-ann"),
        "ATTUNE_DATABASE_URL": postgres_url,
        "ATTUNE_USER": ann.user,
        "ATTUNE_HOST": ann.host,
        "CLAUDE_CONFIG_DIR": str(ann.claude),
        "NO_COLOR": "1",
    }
    env.pop("ANTHROPIC_ADMIN_API_KEY", None)

    def usage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "attune", "usage", *args],
            cwd=ann.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    table = usage("--by", "member")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert any(ANN in line and "(you)" in line for line in lines), table.stdout
    assert any(BOB in line and "%" in line for line in lines), table.stdout
    assert "team" in table.stdout.lower()
    body = json.loads(usage("--all", "--json").stdout)
    assert {m["member"] for m in body["team"]["members"]} == {ANN, BOB}
    assert postgres_url.split("@")[0] not in table.stdout + json.dumps(body)  # no password

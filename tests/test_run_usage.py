"""``ATTUNE_USAGE`` lines from any workflow: taken out of the log, checked, summed, priced, and
shown where a run is (its object, its page, the history and its total, ``attune runs show``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from attune.ops.config import Config
from attune.ops.runs.usage import MAX_USAGE_LINES, Rejected, parse_usage
from attune.ops.web.run_costs import format_cost
from tests.helpers import astart_run, await_finished, python_workflow, write_workflows

SPEND = r"""
import json
u = lambda **d: print("ATTUNE_USAGE " + json.dumps(d), flush=True)
print("working")
u(model="claude-haiku-4-5", input_tokens=1000, output_tokens=200,
  cache_creation_input_tokens=0, cache_read_input_tokens=10000)
u(model="my-local-model", input_tokens=5, output_tokens=5, cost_usd="0.5")
u(model="mystery-model-x", input_tokens=7, output_tokens=3)
print("done")
"""

GARBAGE = r"""
import json
print("ATTUNE_USAGE not json")
print("ATTUNE_USAGE [1, 2]")
for bad in (
    {"model": "m", "input_tokens": -1, "output_tokens": 0},
    {"model": "m", "input_tokens": 1.5, "output_tokens": 0},
    {"model": "m", "input_tokens": True, "output_tokens": 0},
    {"model": "m", "input_tokens": 1, "output_tokens": 1, "extra": 1},
    {"model": "m", "input_tokens": 1, "output_tokens": 1, "cost_usd": 0.25},
    {"model": "m", "input_tokens": 10**10, "output_tokens": 1},
    {"input_tokens": 1, "output_tokens": 1},
    {"model": "", "input_tokens": 1, "output_tokens": 1},
):
    print("ATTUNE_USAGE " + json.dumps(bad))
print("ATTUNE_USAGE " + json.dumps({"model": "m", "input_tokens": 4, "output_tokens": 2}))
print("ATTUNE_USAGEX is an ordinary line")
"""

MANY = (
    "import json\n"
    f"for i in range({MAX_USAGE_LINES + 5}):\n"
    '    print("ATTUNE_USAGE " + json.dumps({"model": "m", "input_tokens": 1, '
    '"output_tokens": 1, "cost_usd": "0.001"}))\n'
)


@pytest.fixture
def config(backend_config: Config) -> Config:
    """Every test here runs on both store backends (SQLite, then PostgreSQL)."""
    return backend_config


@pytest.fixture
def spending(project: Path) -> Path:
    write_workflows(
        project,
        python_workflow("spend", SPEND),
        python_workflow("garbage", GARBAGE),
        python_workflow("many", MANY),
        python_workflow("plain", "print('no model here')"),
    )
    return project


async def log_of(client: httpx.AsyncClient, run_id: int) -> list[str]:
    return (await client.get(f"/api/runs/{run_id}/log")).text.splitlines()


async def test_usage_lines_are_summed_priced_and_hidden_from_the_log(
    client: httpx.AsyncClient, spending: Path
) -> None:
    run = await await_finished(client, (await astart_run(client, "spend"))["id"])
    assert run["status"] == "succeeded"
    assert await log_of(client, run["id"]) == ["working", "done"]
    # haiku 4.5: $1/MTok in, $5/MTok out, $0.10/MTok cache reads (genai-prices) = 0.003;
    # the workflow's own cost_usd is taken as given; an unknown model adds tokens, not dollars.
    assert run["usage"] == {
        "input_tokens": 1012,
        "output_tokens": 208,
        "cache_creation_tokens": 0,
        "cache_read_tokens": 10000,
        "cost_usd": "0.503",
        "models": ["claude-haiku-4-5", "my-local-model", "mystery-model-x"],
        "calls": 3,
        "unpriced_calls": 1,
        "rejected_lines": 0,
    }
    page = (await client.get(f"/runs/{run['id']}")).text
    assert '<dd id="run-cost" class="num" title="1 of 3 calls unpriced; claude-haiku-4-5' in page
    assert ">$0.5030</dd>" in page
    assert "1,012 in · 208 out · 10,000 cache read" in page


async def test_garbage_usage_lines_are_dropped_and_counted(
    client: httpx.AsyncClient, spending: Path
) -> None:
    run = await await_finished(client, (await astart_run(client, "garbage"))["id"])
    usage = run["usage"]
    assert (usage["calls"], usage["rejected_lines"], usage["input_tokens"]) == (1, 10, 4)
    assert usage["cost_usd"] is None and usage["unpriced_calls"] == 1  # "m" has no price
    log = await log_of(client, run["id"])
    assert log == [
        "ATTUNE_USAGEX is an ordinary line",
        "[attune] 10 ATTUNE_USAGE lines dropped (the first: not JSON (JSONDecodeError))",
    ]


async def test_at_most_a_thousand_usage_lines_count(
    client: httpx.AsyncClient, spending: Path
) -> None:
    run = await await_finished(client, (await astart_run(client, "many"))["id"])
    assert (run["usage"]["calls"], run["usage"]["rejected_lines"]) == (1000, 5)
    assert run["usage"]["cost_usd"] == "1"  # 1,000 x $0.001, exactly
    assert (await log_of(client, run["id"]))[-1].startswith("[attune] 5 ATTUNE_USAGE lines")


async def test_history_has_a_cost_column_and_a_total_for_the_filtered_runs(
    client: httpx.AsyncClient, spending: Path
) -> None:
    for name in ("spend", "plain", "spend"):
        await await_finished(client, (await astart_run(client, name))["id"])
    body = (await client.get("/api/runs")).json()
    assert [r["usage"] is None for r in body["runs"]] == [False, True, False]
    assert body["total"] == {
        "runs": 2,
        "input_tokens": 2024,
        "output_tokens": 416,
        "cache_creation_tokens": 0,
        "cache_read_tokens": 20000,
        "cost_usd": "1.006",
    }
    plain = (await client.get("/api/runs?workflow=plain")).json()["total"]
    assert plain["runs"] == 0 and plain["cost_usd"] is None
    one_page = (await client.get("/api/runs?workflow=spend&limit=1")).json()
    assert len(one_page["runs"]) == 1 and one_page["total"]["cost_usd"] == "1.006"  # all pages
    page = (await client.get("/runs")).text
    assert "<th" in page and ">Cost</th>" in page and '<td data-label="Cost"' in page
    assert 'All runs spent <strong class="num">$1.01</strong>' in page
    assert "(2 runs that called a model: 2,024 in · 416 out · 20,000 cache read" in page
    filtered = (await client.get("/runs?workflow=plain")).text
    assert "runs-total" not in filtered and "–</td>" in filtered


async def test_attune_runs_show_carries_the_cost(
    client: httpx.AsyncClient, spending: Path, attune_home: Path, config: Config
) -> None:
    run = await await_finished(client, (await astart_run(client, "spend"))["id"])
    env = {**os.environ, "ATTUNE_HOME": str(attune_home), "NO_COLOR": "1"}
    if config.database_url:  # the command reads the same team database
        env["ATTUNE_DATABASE_URL"] = config.database_url
    show = [sys.executable, "-m", "attune", "runs", "show", str(run["id"])]
    text = subprocess.run(show, capture_output=True, text=True, env=env, check=True).stdout
    assert "      cost  $0.5030 estimated (1 of 3 calls unpriced; claude-haiku-4-5" in text
    assert "    tokens  1,012 in · 208 out · 10,000 cache read" in text
    as_json = subprocess.run(
        [*show, "--json"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert json.loads(as_json)["usage"]["cost_usd"] == "0.503"


def test_parse_usage_names_what_is_wrong() -> None:
    call = parse_usage('{"model": "claude-opus-4-7", "input_tokens": 3, "output_tokens": 4}')
    assert (call.model, call.input_tokens, call.cache_read_tokens, call.cost_usd) == (
        "claude-opus-4-7",
        3,
        0,
        None,
    )
    assert parse_usage(
        '{"model": "m", "input_tokens": 0, "output_tokens": 0, "cost_usd": "0.000000000001"}'
    ).cost_usd == Decimal("1E-12")
    for text, reason in [
        ('{"model": "m", "input_tokens": 1}', "no 'output_tokens'"),
        ('{"model": "m", "input_tokens": 1, "output_tokens": 1, "cost_usd": "1e3"}', "cost_usd"),
        ('{"model": "a b", "input_tokens": 1, "output_tokens": 1}', "not a model name"),
        ("x" * 5000, "longer than 4,096 characters"),
    ]:
        with pytest.raises(Rejected, match=reason):
            parse_usage(text)


def test_costs_read_as_people_expect() -> None:
    assert [format_cost(v) for v in ("0", "0.00004", "0.0105", "0.99996", "1234.5", None)] == [
        "$0.00",
        "<$0.0001",
        "$0.0105",
        "$1.00",
        "$1,234.50",
        "–",
    ]


async def test_the_usage_page_counts_workflow_spend_beside_claude_codes(
    client: httpx.AsyncClient, spending: Path
) -> None:
    await await_finished(client, (await astart_run(client, "spend"))["id"])
    body = (await client.get("/api/usage")).json()
    assert body["workflows"]["runs"] == 1 and body["workflows"]["cost_usd"] == "0.503"
    assert (await client.get("/api/usage?until=2000-01-01")).json()["workflows"]["runs"] == 0
    page = (await client.get("/usage")).text
    assert '<strong class="usage-workflows-cost">$0.5030</strong> in 1 run' in page

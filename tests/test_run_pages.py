"""The pages of workflows and runs, rendered in-process from a real store and a real project."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.config import Config
from attune.ops.store.database import Store
from attune.ops.web.routes.run_pages import format_duration
from tests.helpers import workflow_toml, write_workflows

HOSTILE = "<script>alert('x')</script>"

ATTUNE_TOML = workflow_toml(
    "lint",
    ["python", "-c", "print('lint')"],
    description=f"Lint the code {HOSTILE}",
    accepts_path=True,
) + workflow_toml("broken", [])


class _Inspector(HTMLParser):
    """Collects what the CSP forbids (inline code and styles) and executable scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.script_srcs: list[str] = []
        self._in_script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
        if tag == "style":
            self.problems.append("<style>")
        if tag == "script":
            if named.get("src"):
                self.script_srcs.append(str(named["src"]))
            elif named.get("type") != "application/json":
                self.problems.append("inline <script>")
            self._in_script = named.get("type") or "text/javascript"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def inspect(html: str) -> _Inspector:
    parser = _Inspector()
    parser.feed(html)
    return parser


def seed_run(
    store: Store,
    workflow: str = "lint",
    *,
    path: str | None = "src",
    lines: list[str] | None = None,
    status: str | None = "succeeded",
    exit_code: int | None = 0,
    duration_s: float = 1.5,
) -> int:
    run = store.create_run(workflow, path, ["python", "-c", "pass"])
    if lines:
        store.append_lines(run.id, 1, lines)
    if status is not None:
        store.finish_run(run.id, status, exit_code, duration_s)
        store.index_run(run.id)
    return run.id


@pytest.fixture
def config(backend_config: Config) -> Config:
    """Every test here runs on both store backends (SQLite, then PostgreSQL)."""
    return backend_config


@pytest.fixture
def store(app: Any) -> Store:
    result: Store = app.state.services.store
    return result


@pytest.fixture
def toml_project(project: Path) -> Path:
    write_workflows(project, ATTUNE_TOML)
    return project


# -- workflows page --------------------------------------------------------------------------------


async def test_workflows_page_lists_builtins_project_workflows_and_file_errors(
    toml_project: Path, client: httpx.AsyncClient
) -> None:
    r = await client.get("/workflows")
    assert r.status_code == 200
    html = r.text
    for name in ("todo-scan", "secrets-scan", "lint"):
        assert f'value="{name}"' in html
    assert ">project</span>" in html and ">builtin</span>" in html
    # the broken workflow is reported with its file, line and key, the valid one still offered
    assert "attune.toml:" in html and "broken" in html
    assert 'id="wf-errors-h"' in html
    assert 'id="wf-run"' in html and 'id="wf-run" disabled' not in html
    # the description is text, never markup
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert inspect(html).problems == []


async def test_workflows_page_preselects_the_requested_workflow(
    toml_project: Path, client: httpx.AsyncClient
) -> None:
    html = (await client.get("/workflows", params={"workflow": "secrets-scan"})).text
    checked = re.findall(r'value="([\w-]+)"\s+data-accepts-path="1?"\s*checked', html)
    assert checked == ["secrets-scan"]


async def test_a_linked_scope_preselects_a_workflow_that_takes_a_path(
    project: Path, client: httpx.AsyncClient
) -> None:
    write_workflows(
        project,
        workflow_toml("aaa-whole", ["true"]),
        workflow_toml("bbb-scoped", ["true", "{path}"], accepts_path=True),
    )
    plain = (await client.get("/workflows")).text
    linked = (await client.get("/workflows", params={"path": "docs/specs/auth"})).text
    pattern = r'value="([\w-]+)"\s+data-accepts-path="1?"\s*checked'
    assert re.findall(pattern, plain) == ["aaa-whole"]
    assert re.findall(pattern, linked) == ["bbb-scoped"]


async def test_read_only_mode_disables_run_with_an_explanation(
    make_config: Callable[..., Config], make_app: Callable[[Config], Any]
) -> None:
    app = make_app(make_config(allow_run=False))
    store: Store = app.state.services.store
    run_id = seed_run(store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765"
    ) as c:
        workflows = (await c.get("/workflows")).text
        run_page = (await c.get(f"/runs/{run_id}")).text
    assert 'id="wf-run" disabled' in workflows
    assert "--read-only" in workflows
    assert re.search(r'id="run-rerun"[^>]*disabled', run_page)
    assert 'data-allow-run=""' in run_page


# -- run page --------------------------------------------------------------------------------------


async def test_run_page_shows_status_scope_exit_code_and_inert_log_data(
    client: httpx.AsyncClient, store: Store
) -> None:
    run_id = seed_run(
        store, lines=[f"\x1b[31m{HOSTILE}\x1b[0m", "ok"], status="failed", exit_code=3
    )
    r = await client.get(f"/runs/{run_id}")
    assert r.status_code == 200
    html = r.text
    assert 'class="badge status-failed"' in html
    assert 'id="run-exit" class="num">3<' in html
    assert "<code>src</code>" in html
    assert f"/api/runs/{run_id}/log?download=1" in html
    assert f"/api/runs/{run_id}/log?ansi=0&amp;download=1" in html
    # the log is fetched by the script, never pasted into the page
    assert HOSTILE not in html
    data = re.search(r'<script type="application/json" id="run-data">(.*?)</script>', html, re.S)
    assert data is not None
    run = json.loads(data.group(1))
    assert run["id"] == run_id and run["status"] == "failed" and run["line_count"] == 2
    page = inspect(html)
    assert page.problems == []
    assert any("/static/run.js" in s for s in page.script_srcs)
    assert any("/static/ansi.js" in s for s in page.script_srcs)


async def test_run_page_escapes_a_hostile_workflow_name_and_scope(
    client: httpx.AsyncClient, store: Store
) -> None:
    run_id = seed_run(store, workflow=HOSTILE, path="</script><script>alert(1)</script>")
    html = (await client.get(f"/runs/{run_id}")).text
    assert "<script>alert" not in html
    assert "</script><script>" not in html
    assert inspect(html).problems == []


async def test_running_run_offers_cancel_and_no_rerun(
    client: httpx.AsyncClient, store: Store
) -> None:
    run_id = seed_run(store, status=None, lines=["working"])
    html = (await client.get(f"/runs/{run_id}")).text
    assert 'class="badge status-running"' in html
    assert re.search(r'id="run-cancel"(?![^>]*hidden)', html)
    assert re.search(r'id="run-rerun"[^>]*disabled', html)


@pytest.mark.parametrize("run_id", ["999999", "abc", "0"])
async def test_unknown_run_is_a_404_page(client: httpx.AsyncClient, run_id: str) -> None:
    r = await client.get(f"/runs/{run_id}")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "run_not_found" in r.text
    assert f"#{run_id}" in r.text


# -- history page ----------------------------------------------------------------------------------


async def test_history_lists_runs_newest_first_with_status_duration_and_exit(
    client: httpx.AsyncClient, store: Store
) -> None:
    first = seed_run(store, status="succeeded", duration_s=2.0)
    second = seed_run(store, workflow="todo-scan", path=None, status="failed", exit_code=2)
    html = (await client.get("/runs")).text
    assert html.index(f"#{second}<") < html.index(f"#{first}<")
    assert 'class="badge status-failed">failed<' in html
    assert "2.0 s" in html
    assert inspect(html).problems == []


async def test_history_filters_by_status_workflow_and_log_text(
    client: httpx.AsyncClient, store: Store
) -> None:
    ok = seed_run(store, lines=["all good"], status="succeeded")
    bad = seed_run(store, lines=["Traceback: KeyError 'frobnicate'"], status="failed", exit_code=1)
    other = seed_run(store, workflow="todo-scan", status="cancelled", exit_code=None)

    def ids(html: str) -> set[int]:
        return {int(m) for m in re.findall(r'href="/runs/(\d+)', html)}

    r = await client.get("/runs", params=[("status", "failed"), ("status", "cancelled")])
    assert ids(r.text) == {bad, other}
    r = await client.get("/runs", params={"workflow": "todo-scan"})
    assert ids(r.text) == {other}
    r = await client.get("/runs", params={"q": "frobnicate"})
    assert ids(r.text) == {bad}
    # the link opens the run with the hit pre-searched
    assert f'href="/runs/{bad}?q=frobnicate"' in r.text
    assert ok not in ids((await client.get("/runs", params={"status": "failed"})).text)


async def test_history_date_preset_hides_older_runs(
    client: httpx.AsyncClient, store: Store
) -> None:
    old = seed_run(store)
    new = seed_run(store)
    with store.write() as conn:
        conn.execute(
            "UPDATE runs SET started_at = '2020-01-01T00:00:00.000+00:00' WHERE id = ?", (old,)
        )
    html = (await client.get("/runs", params={"since": "7d"})).text
    assert f'href="/runs/{new}"' in html and f'href="/runs/{old}"' not in html
    html = (await client.get("/runs", params={"since": "all"})).text
    assert f'href="/runs/{old}"' in html


async def test_history_pages_with_an_older_cursor(client: httpx.AsyncClient, store: Store) -> None:
    ids = [seed_run(store, status="failed", exit_code=1) for _ in range(53)]
    html = (await client.get("/runs", params={"status": "failed"})).text
    assert html.count('href="/runs/') == 50
    older = re.search(r'<a class="button" href="([^"]+)" rel="next">Older</a>', html)
    assert older is not None
    url = older.group(1).replace("&amp;", "&")
    assert "status=failed" in url
    page2 = (await client.get(url)).text
    shown = {int(m) for m in re.findall(r'href="/runs/(\d+)"', page2)}
    assert shown == set(ids[:3])
    assert 'rel="next"' not in page2 and ">Newest</a>" in page2


async def test_history_shows_duration_bars_and_success_rate_per_workflow(
    client: httpx.AsyncClient, store: Store
) -> None:
    for i in range(12):
        seed_run(store, status="failed" if i % 4 == 0 else "succeeded", duration_s=1.0 + i)
    html = (await client.get("/runs")).text
    block = html[html.index('class="wf-stats"') : html.index("</section>")]
    assert block.count('<rect class="bar') == 10
    assert "bar-failed" in block and "bar-succeeded" in block
    # the last 10 runs: i = 2..11, failed when i % 4 == 0 → 4 and 8 → 80 % succeeded
    assert "80% ok" in block
    # the longest bar is the newest (the longest duration) and fills the chart height
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" rx', block)]
    assert heights[-1] == max(heights) == 26.0


# -- home panel and the topbar indicator -----------------------------------------------------------


async def test_home_panel_shows_the_current_run_and_recent_runs(
    client: httpx.AsyncClient, store: Store
) -> None:
    html = (await client.get("/")).text
    assert "No run yet" in html
    done = seed_run(store, status="timed_out", exit_code=None, duration_s=65)
    running = seed_run(store, workflow="todo-scan", status=None)
    html = (await client.get("/")).text
    current = html[html.index('class="home-current"') :]
    assert f'href="/runs/{running}"' in current[:300]
    assert f'href="/runs/{done}"' in html
    assert "timed out" in html and "1 min 5 s" in html


@pytest.mark.parametrize("path", ["/", "/workflows", "/runs"])
async def test_every_page_loads_the_current_run_indicator(
    client: httpx.AsyncClient, path: str
) -> None:
    html = (await client.get(path)).text
    assert 'id="current-run"' in html
    assert any("/static/current_run.js" in s for s in inspect(html).script_srcs)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "–"),
        (0.25, "250 ms"),
        (3.04, "3.0 s"),
        (125, "2 min 5 s"),
        (3 * 3600 + 120, "3 h 2 min"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


async def test_workflow_stats_have_a_json_twin(
    toml_project: Path, client: httpx.AsyncClient, store: Store
) -> None:
    seed_run(store, "lint", status="succeeded", duration_s=2.0)
    seed_run(store, "lint", status="failed", exit_code=1, duration_s=4.0)
    seed_run(store, "lint", status="cancelled", exit_code=None, duration_s=1.0)
    seed_run(store, "todo-scan", status=None)  # still running: no finished run yet
    r = await client.get("/api/workflows/stats")
    assert r.status_code == 200
    assert r.json() == {
        "workflows": [
            {
                "workflow": "lint",
                "recent": [
                    {"id": 1, "status": "succeeded", "duration_s": 2.0},
                    {"id": 2, "status": "failed", "duration_s": 4.0},
                    {"id": 3, "status": "cancelled", "duration_s": 1.0},
                ],
                "success_rate": 0.5,
            }
        ]
    }

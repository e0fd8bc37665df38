"""The specs API and pages, in process (real app, real files, real SQLite)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attune.ops.config import Config
from attune.ops.web.markdown import render_markdown
from tests.spec_trees import (
    age_tree,
    docs_spec,
    git_commit_all,
    kiro_spec,
    speckit_spec,
    write,
)

ALL_DONE = "# Tasks\n\n- [x] 1. One\n  - [x] 1.1 Nested\n- [ ]* 2. Optional\n"


@pytest.fixture
def specs_project(project: Path) -> Path:
    docs_spec(project, "ready", status="🔄 In Progress", tasks=ALL_DONE)
    docs_spec(project, "half", status="In Progress", tasks="- [x] a\n- [ ] b\n- [-] c\n")
    kiro_spec(project, "ready", tasks="- [ ] 1. Not yet\n")  # same name, another root
    speckit_spec(project, "003-search", status="Complete", tasks="- [X] T001 a\n")
    write(project / "docs" / "specs" / "_archived" / "old" / "tasks.md", "- [x] a\n")
    age_tree(project, 86400 * 2)
    return project


@pytest.fixture
async def spec_client(
    specs_project: Path, make_config: Callable[..., Config], make_app: Callable[[Config], Any]
) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(make_config())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1:8765",
        headers={"X-Attune-Token": app.state.services.token},
    ) as c:
        yield c


async def client_for(make_app: Callable[[Config], Any], config: Config) -> httpx.AsyncClient:
    app = make_app(config)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1:8765",
        headers={"X-Attune-Token": app.state.services.token},
    )


# -- JSON API ------------------------------------------------------------------------------------


async def test_list_specs(spec_client: httpx.AsyncClient) -> None:
    r = await spec_client.get("/api/specs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["roots"] == ["docs/specs", ".kiro/specs", "specs"]
    assert all(d["exists"] for d in body["root_details"])
    by_path = {s["path"]: s for s in body["specs"]}
    assert set(by_path) == {
        "docs/specs/ready",
        "docs/specs/half",
        ".kiro/specs/ready",
        "specs/003-search",
        "docs/specs/_archived/old",
    }
    half = by_path["docs/specs/half"]
    for key in ("name", "root", "path", "layout", "status", "tasks_total", "tasks_done"):
        assert key in half
    assert (half["status"], half["tasks_total"], half["tasks_done"]) == ("in-progress", 3, 1)
    assert half["tasks_in_progress"] == 1 and half["layout"] == "docs"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", half["last_modified"])
    assert by_path["docs/specs/_archived/old"]["status"] == "archived"
    # Colliding names get a ?path= link; a unique one does not.
    assert by_path[".kiro/specs/ready"]["url"] == "/specs/ready?path=.kiro/specs/ready"
    assert by_path["docs/specs/half"]["url"] == "/specs/half"

    again = await spec_client.get("/api/specs")
    assert again.content == r.content

    filtered = (await spec_client.get("/api/specs", params={"status": "complete"})).json()
    assert [s["path"] for s in filtered["specs"]] == ["specs/003-search"]
    searched = (await spec_client.get("/api/specs", params={"q": "HALF"})).json()
    assert [s["name"] for s in searched["specs"]] == ["half"]


async def test_listing_follows_changes_on_disk(
    spec_client: httpx.AsyncClient, specs_project: Path
) -> None:
    await spec_client.get("/api/specs")
    (specs_project / "docs" / "specs" / "half" / "tasks.md").write_text("- [x] a\n- [x] b\n")
    body = (await spec_client.get("/api/specs")).json()
    half = next(s for s in body["specs"] if s["path"] == "docs/specs/half")
    assert (half["tasks_done"], half["tasks_total"]) == (2, 2)


async def test_last_change_from_git_in_the_api_and_pages(
    specs_project: Path, make_config: Callable[..., Config], make_app: Any
) -> None:
    git_commit_all(specs_project, "2021-03-04T05:06:07+00:00")
    age_tree(specs_project, 3600)
    write(specs_project / "docs" / "specs" / "half" / "design.md", "# Edited, not committed\n")
    age_tree(specs_project / "docs" / "specs" / "half", 60)
    async with await client_for(make_app, make_config()) as c:
        by_path = {s["path"]: s for s in (await c.get("/api/specs")).json()["specs"]}
        ready = by_path["docs/specs/ready"]
        assert (ready["last_modified"], ready["last_modified_source"]) == (
            "2021-03-04T05:06:07+00:00",
            "git",
        )
        assert by_path["docs/specs/half"]["last_modified_source"] == "mtime"
        detail = (await c.get("/api/specs/half")).json()
        sources = {f["name"]: f["last_modified_source"] for f in detail["files"]}
        assert sources == {"requirements.md": "git", "design.md": "mtime", "tasks.md": "git"}
        page = (await c.get("/specs/ready")).text
        assert '<time datetime="2021-03-04T05:06:07+00:00" data-ago>' in page
        rows = re.findall(
            r'<tr data-status="[^"]*" data-path="([^"]+)"', (await c.get("/specs")).text
        )
        assert rows.index("docs/specs/half") < rows.index("docs/specs/ready")  # newest first


async def test_candidates_dismiss_and_return(
    spec_client: httpx.AsyncClient, specs_project: Path
) -> None:
    body = (await spec_client.get("/api/specs/candidates")).json()
    assert body["enabled"] is True and body["reason"] is None
    (cand,) = body["candidates"]
    assert cand["path"] == "docs/specs/ready" and cand["status"] == "in-progress"
    assert cand["evidence"][0] == "2/2 tasks done"
    assert "last change 2 days ago" in cand["evidence"]

    r = await spec_client.post(
        "/api/specs/candidates/dismiss",
        json={"path": cand["path"], "snapshot_hash": cand["snapshot_hash"]},
    )
    assert r.status_code == 200 and r.json()["dismissed"] is True
    assert (await spec_client.get("/api/specs/candidates")).json()["candidates"] == []

    tasks = specs_project / "docs" / "specs" / "ready" / "tasks.md"
    tasks.write_text(ALL_DONE + "- [x] 3. Late addition\n")
    back = (await spec_client.get("/api/specs/candidates")).json()["candidates"]
    assert [c["path"] for c in back] == ["docs/specs/ready"]
    assert back[0]["snapshot_hash"] != cand["snapshot_hash"]


async def test_dismiss_rejects_bad_input(spec_client: httpx.AsyncClient) -> None:
    bad_hash = await spec_client.post(
        "/api/specs/candidates/dismiss", json={"path": "docs/specs/ready", "snapshot_hash": "zz"}
    )
    assert bad_hash.status_code == 400 and bad_hash.json()["error"]["code"] == "invalid_body"
    outside = await spec_client.post(
        "/api/specs/candidates/dismiss", json={"path": "../../etc", "snapshot_hash": "ab" * 10}
    )
    assert outside.status_code == 400 and outside.json()["error"]["code"] == "invalid_path"
    missing = await spec_client.post("/api/specs/candidates/dismiss", json={"path": "x"})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "invalid_body"
    no_token = await spec_client.post(
        "/api/specs/candidates/dismiss",
        json={"path": "docs/specs/ready", "snapshot_hash": "ab" * 10},
        headers={"X-Attune-Token": "wrong"},
    )
    assert no_token.status_code == 403


async def test_candidates_explain_why_they_are_off(
    specs_project: Path, tmp_path: Path, make_config: Callable[..., Config], make_app: Any
) -> None:
    async with await client_for(make_app, make_config(specs_candidates_enabled=False)) as c:
        body = (await c.get("/api/specs/candidates")).json()
        assert body["enabled"] is False and body["candidates"] == []
        assert "--no-specs-candidates" in body["reason"]
        page = (await c.get("/specs")).text
        assert "--no-specs-candidates" in page
    empty = tmp_path / "bare"
    empty.mkdir()
    async with await client_for(make_app, make_config(project_root=empty)) as c:
        body = (await c.get("/api/specs/candidates")).json()
        assert body["enabled"] is False and "--specs-root" in body["reason"]
        assert (await c.get("/api/specs")).json() == {"roots": [], "root_details": [], "specs": []}
        page = await c.get("/specs")
        assert page.status_code == 200 and "No specs found" in page.text


async def test_mark_complete(spec_client: httpx.AsyncClient, specs_project: Path) -> None:
    req = specs_project / "docs" / "specs" / "ready" / "requirements.md"
    before = req.read_bytes()
    r = await spec_client.post(
        "/api/specs/status", json={"path": "docs/specs/ready", "status": "complete"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["file"], body["previous"], body["normalised"]) == (
        "requirements.md",
        "🔄 In Progress",
        "complete",
    )
    assert body["spec"]["status"] == "complete" and body["spec"]["status_label"] == "Complete"
    assert body["status"] == "✅ Complete" and body["inserted"] is False
    assert req.read_bytes() == before.replace("🔄 In Progress".encode(), "✅ Complete".encode())
    assert (await spec_client.get("/api/specs/candidates")).json()["candidates"] == []


async def test_mark_complete_preview_confirm_and_undo(
    spec_client: httpx.AsyncClient, specs_project: Path
) -> None:
    req = specs_project / "docs" / "specs" / "ready" / "requirements.md"
    before = req.read_bytes()
    body = {"path": "docs/specs/ready", "status": "complete"}
    r = await spec_client.post("/api/specs/status/preview", json=body)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert {k: preview[k] for k in ("path", "file", "line", "old_line", "new_line")} == {
        "path": "docs/specs/ready",
        "file": "requirements.md",
        "line": 3,
        "old_line": "**Status:** 🔄 In Progress",
        "new_line": "**Status:** ✅ Complete",
    }
    assert preview["changes"] == [{k: preview[k] for k in ("file", "line", "old_line", "new_line")}]
    assert preview["inserted"] is False and req.read_bytes() == before  # nothing written

    r = await spec_client.post("/api/specs/status", json={**body, "preview": preview["preview"]})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["spec"]["status"] == "complete" and done["undo"]["expires_in"] == 60
    assert done["changes"] == preview["changes"]
    assert req.read_bytes() != before

    r = await spec_client.post("/api/specs/status/undo", json={"token": done["undo"]["token"]})
    assert r.status_code == 200, r.text
    undone = r.json()
    assert (undone["undone"], undone["path"], undone["files"]) == (
        True,
        "docs/specs/ready",
        ["requirements.md"],
    )
    assert undone["spec"]["status"] == "in-progress"
    assert req.read_bytes() == before
    cands = (await spec_client.get("/api/specs/candidates")).json()["candidates"]
    assert [c["path"] for c in cands] == ["docs/specs/ready"]  # a candidate again

    again = await spec_client.post("/api/specs/status/undo", json={"token": done["undo"]["token"]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "undo_expired"
    assert "one minute" in again.json()["error"]["message"]


async def test_confirm_and_undo_refuse_when_the_file_changed(
    spec_client: httpx.AsyncClient, specs_project: Path
) -> None:
    req = specs_project / "docs" / "specs" / "ready" / "requirements.md"
    body = {"path": "docs/specs/ready", "status": "complete"}
    preview = (await spec_client.post("/api/specs/status/preview", json=body)).json()
    req.write_bytes(req.read_bytes() + b"Edited meanwhile.\n")
    stale = await spec_client.post(
        "/api/specs/status", json={**body, "preview": preview["preview"]}
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "preview_stale"
    assert b"Complete" not in req.read_bytes()

    done = (await spec_client.post("/api/specs/status", json=body)).json()
    req.write_bytes(req.read_bytes() + b"Edited after.\n")
    edited = req.read_bytes()
    r = await spec_client.post("/api/specs/status/undo", json={"token": done["undo"]["token"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "undo_file_changed"
    assert req.read_bytes() == edited
    bad = await spec_client.post("/api/specs/status/undo", json={"token": ""})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_body"
    no_token = await spec_client.post(
        "/api/specs/status/preview", json=body, headers={"X-Attune-Token": "wrong"}
    )
    assert no_token.status_code == 403


async def test_mark_complete_errors(spec_client: httpx.AsyncClient, specs_project: Path) -> None:
    write(
        specs_project / "docs" / "specs" / "half" / "design.md",
        "**Status:** Draft\n**Status:** Approved\n",
    )
    write(specs_project / "docs" / "specs" / "half" / "requirements.md", "# no status\n")
    conflict = await spec_client.post(
        "/api/specs/status", json={"path": "docs/specs/half", "status": "complete"}
    )
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert error["code"] == "status_not_rewritable" and "design.md" in error["message"]
    for path in ("/etc", "../..", "docs/specs"):
        r = await spec_client.post("/api/specs/status", json={"path": path, "status": "complete"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_path"
    bad = await spec_client.post(
        "/api/specs/status", json={"path": "docs/specs/ready", "status": "a\nb"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_status"


async def test_read_only_never_rewrites(
    specs_project: Path, make_config: Callable[..., Config], make_app: Any
) -> None:
    req = specs_project / "docs" / "specs" / "ready" / "requirements.md"
    before = req.read_bytes()
    async with await client_for(make_app, make_config(allow_run=False)) as c:
        for url, body in (
            ("/api/specs/status", {"path": "docs/specs/ready", "status": "done"}),
            ("/api/specs/status/preview", {"path": "docs/specs/ready", "status": "done"}),
            ("/api/specs/status/undo", {"token": "x"}),
        ):
            r = await c.post(url, json=body)
            assert r.status_code == 403 and r.json()["error"]["code"] == "read_only"
        assert "Mark complete" not in (await c.get("/specs")).text
    assert req.read_bytes() == before


async def test_spec_detail_json(spec_client: httpx.AsyncClient) -> None:
    r = await spec_client.get("/api/specs/half")
    assert r.status_code == 200
    body = r.json()
    assert [f["name"] for f in body["files"]] == ["requirements.md", "design.md", "tasks.md"]
    assert [(t["state"], t["text"]) for t in body["tasks"]] == [
        ("done", "a"),
        ("open", "b"),
        ("in-progress", "c"),
    ]
    assert body["workflow_url"] == "/workflows?path=docs/specs/half"
    kiro = (await spec_client.get("/api/specs/ready", params={"path": ".kiro/specs/ready"})).json()
    assert kiro["layout"] == "kiro"
    missing = await spec_client.get("/api/specs/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "spec_not_found"


async def test_nested_spec_pages_api_and_mark_complete(
    project: Path, make_config: Callable[..., Config], make_app: Any
) -> None:
    folder = kiro_spec(project, "agent-system/lina-agent", tasks=ALL_DONE)
    kiro_spec(project, "agent-system/mira agent?#", tasks="- [ ] 1. Open\n")
    async with await client_for(make_app, make_config()) as c:
        listed = {s["name"]: s for s in (await c.get("/api/specs")).json()["specs"]}
        lina = listed["agent-system/lina-agent"]
        assert lina["path"] == ".kiro/specs/agent-system/lina-agent"
        assert lina["url"] == "/specs/agent-system/lina-agent"
        odd = listed["agent-system/mira agent?#"]
        assert odd["url"] == "/specs/agent-system/mira%20agent%3F%23"
        for spec in (lina, odd):
            detail = await c.get("/api" + spec["url"])
            assert detail.status_code == 200 and detail.json()["name"] == spec["name"]
            page = await c.get(spec["url"])
            assert page.status_code == 200 and f"<code>{spec['path']}</code>" in page.text
        # The slash may also come percent-encoded.
        encoded = await c.get("/api/specs/agent-system%2Flina-agent")
        assert encoded.status_code == 200 and encoded.json()["path"] == lina["path"]
        missing = await c.get("/api/specs/agent-system/nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "spec_not_found"

        (cand,) = (await c.get("/api/specs/candidates")).json()["candidates"]
        assert cand["name"] == "agent-system/lina-agent"
        page = (await c.get("/specs")).text
        assert 'href="/specs/agent-system/lina-agent"' in page
        r = await c.post("/api/specs/status", json={"path": cand["path"], "status": "complete"})
        assert r.status_code == 200, r.text
        assert r.json()["spec"]["status"] == "complete"
    assert "**Status:** Complete" in (folder / "requirements.md").read_text()


# -- pages ---------------------------------------------------------------------------------------


async def test_specs_page(spec_client: httpx.AsyncClient) -> None:
    r = await spec_client.get("/specs")
    assert r.status_code == 200
    html = r.text
    assert "Ready to close?" in html
    assert 'data-path="docs/specs/ready"' in html and "Mark complete" in html and "Dismiss" in html
    assert '<progress max="3" value="1"' in html
    assert 'id="spec-status-filter"' in html and 'id="spec-search"' in html
    assert "/static/specs.js" in html
    assert 'href="/specs/ready?path=.kiro/specs/ready"' in html
    assert "style=" not in html and "onclick" not in html
    filtered = await spec_client.get("/specs", params={"status": "complete", "q": "search"})
    assert '<option value="complete" selected>' in filtered.text
    assert 'value="search"' in filtered.text


async def test_specs_page_follows_changes_and_folds_many_cards(
    spec_client: httpx.AsyncClient, specs_project: Path
) -> None:
    assert '<progress max="3" value="1"' in (await spec_client.get("/specs")).text
    (specs_project / "docs" / "specs" / "half" / "tasks.md").write_text("- [x] a\n- [X] b\n")
    for i in range(14):
        docs_spec(specs_project, f"more-{i:02d}", tasks="- [x] done\n")
    html = (await spec_client.get("/specs")).text
    assert '<progress max="2" value="2"' in html
    assert html.count('class="candidate-card"') == 16
    assert "Show 4 more</summary>" in html


async def test_spec_detail_page(spec_client: httpx.AsyncClient) -> None:
    r = await spec_client.get("/specs/half")
    assert r.status_code == 200
    html = r.text
    assert '<h2 id="file-requirements-h">requirements.md</h2>' in html
    assert 'href="/workflows?path=docs/specs/half"' in html
    assert 'type="checkbox" disabled checked' in html
    assert "in progress</span>" in html
    assert "style=" not in html
    docs_page = (await spec_client.get("/specs/ready")).text
    assert "<code>docs/specs/ready</code>" in docs_page
    assert '<a href="/specs/ready?path=.kiro/specs/ready">.kiro/specs/ready</a>' in docs_page
    kiro_page = (await spec_client.get("/specs/ready?path=.kiro/specs/ready")).text
    assert "<code>.kiro/specs/ready</code>" in kiro_page
    missing = await spec_client.get("/specs/nope")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert "spec_not_found" in missing.text


def test_front_matter_renders_as_a_table_not_markdown() -> None:
    text = (
        "\ufeff---\n"
        "status: draft\n"
        'title: "Auth <b>flow</b>"  # a comment\n'
        "tags:\n"
        "  - auth\n"
        "  - <script>alert(1)</script>\n"
        "owner:\n"
        "---\n"
        "# Title\n\nBody with **bold**.\n"
    )
    html = render_markdown(text)
    assert html.startswith('<table class="front-matter">')
    assert '<th scope="row">status</th><td>draft</td>' in html
    assert '<th scope="row">title</th><td>Auth &lt;b&gt;flow&lt;/b&gt;</td>' in html
    assert "<li>auth</li><li>&lt;script&gt;alert(1)&lt;/script&gt;</li>" in html
    assert '<th scope="row">owner</th><td></td>' in html
    assert "<hr" not in html and "<h2>" not in html and "<script>" not in html
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    escaped_star = render_markdown("- [ ]\\* 10.10 Optional, as Kiro escapes it\n")
    assert 'class="task-item task-open task-optional"' in escaped_star
    assert "\\*" not in escaped_star and ">* 10.10" not in escaped_star
    # Without front matter, or with an unclosed one, the text is Markdown as before.
    assert render_markdown("# Plain\n") == "<h1>Plain</h1>\n"
    assert "front-matter" not in render_markdown("---\nstatus: x\nnever closed\n")
    assert "front-matter" not in render_markdown("Intro\n\n---\nstatus: x\n---\n")


FRONT_MATTER_BITS = ["---\n", "status:", "key: ", " - ", "  ", "\n", "\r\n", "a", "'", '"', "#"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*FRONT_MATTER_BITS, "<script>", "<b>", "&"]), max_size=40))
def test_front_matter_rendering_stays_inert(bits: list[str]) -> None:
    body = "".join(bits)
    for text in (body, "---\n" + body, "---\n" + body + "\n---\n" + body):
        html = render_markdown(text)
        assert "<script" not in html and "<b>" not in html


async def test_spec_page_shows_front_matter_as_a_table(
    project: Path, make_config: Callable[..., Config], make_app: Any
) -> None:
    write(project / "docs" / "specs" / "fm" / "design.md", "---\nstatus: draft\n---\n# Design\n")
    async with await client_for(make_app, make_config()) as c:
        html = (await c.get("/specs/fm")).text
    assert '<th scope="row">status</th><td>draft</td>' in html
    assert "<h1>Design</h1>" in html and "<hr />" not in html


async def test_home_panel(spec_client: httpx.AsyncClient) -> None:
    html = (await spec_client.get("/")).text
    assert "Specs in progress" in html
    assert '<a href="/specs/half">half</a>' in html
    assert "1 ready to close" in html


async def test_problem_badge_on_page_and_api(
    spec_client: httpx.AsyncClient, specs_project: Path
) -> None:
    write(specs_project / "docs" / "specs" / "broken" / "tasks.md", b"- [x] \xff\xfe\n")
    (specs_project / "docs" / "specs" / "looped").mkdir()
    (specs_project / "docs" / "specs" / "looped" / "tasks.md").symlink_to("tasks.md")
    body = (await spec_client.get("/api/specs")).json()
    problems = {s["name"]: s["problems"] for s in body["specs"]}
    assert "not valid UTF-8" in problems["broken"][0]
    assert "symbolic link loop" in problems["looped"][0]
    page = (await spec_client.get("/specs")).text
    assert page.count("problem-badge") == 2
    detail = (await spec_client.get("/specs/looped")).text
    assert "Problems reading this spec" in detail


async def test_user_content_renders_inert(
    project: Path, make_config: Callable[..., Config], make_app: Any
) -> None:
    evil_name = '<img src=x onerror=alert(1)>"'
    folder = project / "docs" / "specs" / evil_name
    write(
        folder / "requirements.md",
        "**Status:** <script>alert('status')</script> In Progress\n\n"
        "<script>alert('md')</script>\n\n<img src=x onerror=alert(2)>\n\n"
        "[click](javascript:alert(3))\n",
    )
    write(folder / "tasks.md", "- [x] <b onmouseover=alert(4)>task</b>\n")
    async with await client_for(make_app, make_config()) as c:
        pages = [
            (await c.get("/specs")).text,
            (await c.get("/")).text,
            (await c.get(f"/specs/{evil_name}")).text,
        ]
        api = (await c.get("/api/specs")).json()
        assert api["specs"][0]["name"] == evil_name
    for html in pages:
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "<b onmouseover" not in html
        assert 'href="javascript:' not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[0]
    assert "&lt;script&gt;alert(&#39;md&#39;)&lt;/script&gt;" in pages[2] or (
        "&lt;script&gt;alert('md')&lt;/script&gt;" in pages[2]
    )

"""The security suite: attacks a careful user (or a hostile web page) would try.

DNS rebinding, cross-site POSTs, token replay across restarts, path traversal, shell
metacharacters, XSS through every user-controlled string, and the admin key leaking anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ServerProcess, watch_page
from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic
from tests.helpers import python_workflow, start_run, write_workflows
from tests.sse_client import follow_run

TRAVERSALS = [
    "..",
    "../",
    "../..",
    "../../etc/passwd",
    "a/../../b",
    "%2e%2e",
    "%2e%2e/%2e%2e/etc",
    "..%2f..%2fetc",
    "/etc",
    "/etc/passwd",
    "//etc",
    "~",
    "~/.ssh",
    "~root",
    "..\\..\\windows",
    "a\\..\\..\\b",
    "C:\\Windows",
    "src/\x00/x",
    "\x00",
    "a" * 4096,
    "/".join(["a"] * 2100),
    "outside-link",
    "outside-link/inner",
    "loop",
]


@pytest.fixture
def hostile_project(project: Path, tmp_path: Path) -> Path:
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("# TODO: fine\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "inner").mkdir()
    (outside / "secret.txt").write_text("do not read")
    (project / "outside-link").symlink_to(outside)
    (project / "loop").symlink_to(project / "loop")
    return project


async def test_traversal_corpus_is_refused_by_scope_and_runs(
    make_app: Callable[[Any], Any], make_config: Callable[..., Any], hostile_project: Path
) -> None:
    app = make_app(make_config(project_root=hostile_project))
    token = app.state.services.token
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1:8765",
        headers={"X-Attune-Token": token},
    ) as c:
        for path in TRAVERSALS:
            scope = await c.get("/api/scope", params={"path": path})
            assert scope.status_code in (400, 404), (path, scope.status_code)
            if scope.status_code == 400:
                assert scope.json()["error"]["code"] == "invalid_path", path
            assert "do not read" not in scope.text
            run = await c.post("/api/runs", json={"workflow": "todo-scan", "path": path})
            assert run.status_code in (400, 404), (path, run.status_code, run.text)
            assert run.json()["error"]["code"] in ("invalid_path", "not_found"), path
        runs = (await c.get("/api/runs")).json()["runs"]
    assert runs == []  # no attack started anything


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(["..", ".", "src", "%2e%2e", "~", "", "\\..", "outside-link"]),
        min_size=1,
        max_size=6,
    )
)
def test_generated_paths_never_leave_the_root(
    make_app: Callable[[Any], Any],
    make_config: Callable[..., Any],
    hostile_project: Path,
    parts: list[str],
) -> None:
    import anyio

    path = "/".join(parts)
    app = _cached_app(make_app, make_config, hostile_project)

    async def probe() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765"
        ) as c:
            return await c.get("/api/scope", params={"path": path})

    r = anyio.run(probe)
    if r.status_code == 200:
        for entry in r.json()["entries"]:
            resolved = (hostile_project / entry["path"]).resolve()
            assert resolved.is_relative_to(hostile_project.resolve()), (path, entry)
    else:
        assert r.status_code in (400, 404), (path, r.status_code)


_APPS: dict[Path, Any] = {}


def _cached_app(make_app: Callable[[Any], Any], make_config: Callable[..., Any], root: Path) -> Any:
    if root not in _APPS:
        _APPS.clear()
        _APPS[root] = make_app(make_config(project_root=root))
    return _APPS[root]


@pytest.mark.parametrize(
    "name",
    [
        "todo-scan; rm -rf /",
        "$(touch pwned)",
        "`touch pwned`",
        "todo-scan && id",
        "../todo-scan",
        "a|b",
    ],
)
async def test_workflow_names_with_shell_metacharacters_are_unknown(
    client: httpx.AsyncClient, project: Path, name: str
) -> None:
    r = await client.post("/api/runs", json={"workflow": name, "path": None})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_workflow"
    assert not (project / "pwned").exists()


def test_commands_never_go_through_a_shell(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    args = [
        "$(touch pwned1)",
        "; touch pwned2",
        "`touch pwned3`",
        "| touch pwned4",
        "&& touch pwned5",
    ]
    write_workflows(project, python_workflow("echo", "import sys; print(sys.argv[1:])", *args))
    srv = server_factory(project)
    transcript = follow_run(srv.url, start_run(srv, "echo")["id"])
    assert transcript.done is not None and transcript.done["status"] == "succeeded"
    assert transcript.lines == [repr(args)]
    assert not any((project / f"pwned{i}").exists() for i in range(1, 6))


def test_dns_rebinding_and_cross_site_posts_against_a_real_server(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    srv = server_factory(project)
    schema = httpx.get(f"{srv.url}/openapi.json").json()
    for path in [*schema["paths"], "/", "/workflows", "/runs", "/specs", "/health"]:
        concrete = path.replace("{run_id}", "1").replace("{name}", "x")
        r = httpx.get(f"{srv.url}{concrete}", headers={"Host": f"evil.example:{srv.port}"})
        assert r.status_code == 400, concrete
        assert srv.token not in r.text
    # A page on another origin can send a "simple" form POST; without the token it is refused.
    for headers in (
        {"Origin": "https://evil.example", "Content-Type": "text/plain"},
        {"Origin": "null", "Content-Type": "application/x-www-form-urlencoded"},
        {"X-Attune-Token": "guess", "Content-Type": "application/json"},
    ):
        r = httpx.post(f"{srv.url}/api/runs", content='{"workflow": "todo-scan"}', headers=headers)
        assert r.status_code == 403
        assert "access-control-allow-origin" not in r.headers
    assert httpx.get(f"{srv.url}/api/runs").json()["runs"] == []


def test_a_token_does_not_survive_a_restart(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    first = server_factory(project)
    old_token, port = first.token, first.port
    first.kill()
    second = server_factory(project, port=port)
    assert second.token != old_token
    r = httpx.post(
        f"{second.url}/api/runs",
        json={"workflow": "todo-scan"},
        headers={"X-Attune-Token": old_token},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "invalid_token"


XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


@pytest.mark.browser
def test_user_controlled_strings_render_inert(
    server_factory: Callable[..., ServerProcess], project: Path, browser: Any, tmp_path: Path
) -> None:
    spec = project / "docs" / "specs" / "xss-spec"
    spec.mkdir(parents=True)
    (spec / "requirements.md").write_text(f"# {XSS}\n\n**Status:** {XSS}\n\n{XSS}\n")
    (spec / "tasks.md").write_text(f"- [x] {XSS}\n")
    code = f"print({XSS!r}); print('\\x1b[31m' + {XSS!r} + '\\x1b[0m')"
    write_workflows(project, python_workflow("xss", code, description=XSS))
    srv = server_factory(project)
    run = start_run(srv, "xss")
    follow_run(srv.url, run["id"])
    errors: list[str] = []
    page = browser.new_page()
    watch_page(page, errors)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        for url in ("/workflows", f"/runs/{run['id']}", "/runs", "/specs", "/specs/xss-spec", "/"):
            page.goto(srv.url + url, wait_until="networkidle")
            page.wait_for_timeout(300)
            assert page.evaluate("window.__xss") is None, url
            assert page.locator("img[src='x']").count() == 0, url
        page.goto(f"{srv.url}/runs/{run['id']}", wait_until="networkidle")
        page.wait_for_function("document.body.innerText.includes('onerror')", timeout=10000)
    finally:
        page.screenshot(path=str(tmp_path / "xss.png"), full_page=True)
        page.close()
    assert dialogs == []
    assert not [e for e in errors if "Content Security Policy" in e and "inline" in e]


def test_admin_key_never_leaks(
    server_factory: Callable[..., ServerProcess],
    project: Path,
    attune_home: Path,
    fake_anthropic: FakeAnthropic,
) -> None:
    from datetime import UTC, datetime

    fake_anthropic.add(datetime.now(UTC).date(), "250.00", model="claude-test")
    (project / "docs" / "specs" / "a").mkdir(parents=True)
    (project / "docs" / "specs" / "a" / "tasks.md").write_text("- [x] done\n")
    env_dump = "import os; print(sorted(os.environ.items()))"
    write_workflows(project, python_workflow("envdump", env_dump))
    srv = server_factory(
        project,
        env={"ANTHROPIC_ADMIN_API_KEY": ADMIN_KEY, "ANTHROPIC_BASE_URL": fake_anthropic.url},
    )
    seen: list[str] = []
    for path in [
        "/",
        "/workflows",
        "/runs",
        "/specs",
        "/health",
        "/api/cost?refresh=1",
        "/api/cost",
        "/api/health?refresh=1",
        "/api/session",
        "/api/workflows",
        "/api/specs",
        "/openapi.json",
    ]:
        seen.append(httpx.get(srv.url + path, timeout=30).text)
    run = start_run(srv, "envdump")
    transcript = follow_run(srv.url, run["id"])
    seen.append("\n".join(transcript.lines))
    seen.append(httpx.get(f"{srv.url}/api/runs/{run['id']}/log").text)
    assert fake_anthropic.report_requests(), "the spend panel never asked the fake API"
    srv.kill()
    seen.append(srv.output())
    for path in attune_home.rglob("*"):
        if path.is_file() and path.name != "anthropic-admin.env":
            seen.append(path.read_bytes().decode("latin-1"))
    for text in seen:
        assert ADMIN_KEY not in text
        assert ADMIN_KEY[-12:] not in text


def test_env_of_this_test_process_is_untouched() -> None:
    assert "ANTHROPIC_ADMIN_API_KEY" not in os.environ

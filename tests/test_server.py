"""The app factory and the one error shape."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from attune import __version__
from attune.ops.config import Config


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.json() == {"status": "ok", "version": __version__}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/nope", 404, "not_found"),
        ("DELETE", "/healthz", 405, "method_not_allowed"),
        ("POST", "/api/session", 405, "method_not_allowed"),
    ],
)
async def test_api_errors_have_one_shape(
    client: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    r = await client.request(method, path)
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


class _Body(BaseModel):
    n: int


async def test_validation_errors_use_the_shape(app: Any, client: httpx.AsyncClient) -> None:
    from fastapi import APIRouter

    router = APIRouter()

    @router.post("/api/test-body")
    async def take_body(body: _Body) -> dict[str, int]:
        return {"n": body.n}

    @router.get("/api/test-query")
    async def take_query(n: int) -> dict[str, int]:
        return {"n": n}

    app.include_router(router)
    bad_body = await client.post("/api/test-body", json={"n": "x"})
    assert bad_body.status_code == 400
    assert bad_body.json()["error"]["code"] == "invalid_body"
    assert bad_body.json()["error"]["details"][0]["loc"] == ["body", "n"]
    bad_query = await client.get("/api/test-query", params={"n": "x"})
    assert bad_query.status_code == 422
    assert bad_query.json()["error"]["code"] == "invalid_request"


async def test_domain_errors_map_to_their_code(app: Any, client: httpx.AsyncClient) -> None:
    from fastapi import APIRouter

    from attune.ops.errors import AttuneError

    class Busy(AttuneError):
        code = "runner_busy"
        status = 409

    router = APIRouter()

    @router.get("/api/test-busy")
    async def busy() -> None:
        raise Busy("A run is already in progress.", current_run_id=7)

    @router.get("/test-busy-page")
    async def busy_page() -> None:
        raise Busy("A run is already in progress.")

    app.include_router(router)
    r = await client.get("/api/test-busy")
    assert r.status_code == 409
    assert r.json() == {
        "error": {
            "code": "runner_busy",
            "message": "A run is already in progress.",
            "current_run_id": 7,
        }
    }
    page = await client.get("/test-busy-page")
    assert page.status_code == 409
    assert "text/html" in page.headers["content-type"]
    assert "runner_busy" in page.text and "A run is already in progress." in page.text


async def test_unexpected_errors_do_not_leak_details(app: Any) -> None:
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/api/test-crash")
    async def crash() -> None:
        raise RuntimeError("secret internals")

    app.include_router(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as c:
        r = await c.get("/api/test-crash")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "secret internals" not in r.text


async def test_unknown_page_is_an_html_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/no/such/page")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]
    assert "Back to the dashboard" in r.text


async def test_home_page_shows_project_and_navigation(
    client: httpx.AsyncClient, config: Config
) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert config.project_root.name in r.text
    for label, href in [("Home", "/"), ("Workflows", "/workflows"), ("Runs", "/runs")]:
        assert f'<a href="{href}"' in r.text and label in r.text
    assert r.headers["cache-control"] == "no-store"


async def test_static_files_are_cache_busted(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    css_url = html.split('<link rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert css_url.startswith("/static/app.css?v=" + __version__)
    r = await client.get(css_url)
    assert r.status_code == 200
    assert "immutable" in r.headers["cache-control"]
    assert "prefers-color-scheme: dark" in r.text


async def test_read_only_is_shown(
    make_app: Callable[[Config], Any], make_config: Callable[..., Config]
) -> None:
    app = make_app(make_config(allow_run=False))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765"
    ) as c:
        assert "read-only" in (await c.get("/")).text


def test_two_apps_share_nothing(make_app: Callable[[Config], Any], tmp_path: Path) -> None:
    from attune.ops.config import build_config

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = make_app(build_config(tmp_path / "a", attune_home=tmp_path / "ha"))
    b = make_app(build_config(tmp_path / "b", attune_home=tmp_path / "hb"))
    assert a.state.services.store is not b.state.services.store
    assert (tmp_path / "ha" / "ops" / "ops.db").exists()
    assert (tmp_path / "hb" / "ops" / "ops.db").exists()


def test_create_app_without_fastapi_names_the_extra(tmp_path: Path, project: Path) -> None:
    code = f"""
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('fastapi', 'starlette'):
            raise ImportError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
from attune.ops import create_app, build_config
try:
    create_app(build_config({str(project)!r}, attune_home={str(tmp_path / "h")!r}))
except ImportError as exc:
    print("ImportError:", exc)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "ImportError:" in out.stdout
    assert "pip install 'attune-ops[ops]'" in out.stdout


def test_import_attune_stays_light() -> None:
    code = (
        "import sys, attune, attune.ops, attune.ops.config, attune.cli; attune.cli.build_parser();"
        "heavy = [m for m in ('fastapi', 'uvicorn', 'jinja2', 'httpx', 'starlette', 'pydantic')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"

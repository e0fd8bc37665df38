"""The guards every request passes: Host allowlist, token, security headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from attune.ops.config import Config
from attune.ops.web.security import CSP, allowed_hosts, tokens_match


def _client(app: Any, host: str = "127.0.0.1:8765") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}")


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST:8765"]
)
async def test_loopback_hosts_are_allowed(app: Any, host: str) -> None:
    async with _client(app) as c:
        r = await c.get("/healthz", headers={"Host": host})
    assert r.status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:8765",
        "127.0.0.1:9999",
        "127.0.0.1",
        "localhost",
        "attacker.localhost:8765",
        "127.0.0.1.nip.io:8765",
        "",
    ],
)
async def test_foreign_hosts_are_rejected(app: Any, host: str) -> None:
    async with _client(app) as c:
        r = await c.get("/healthz", headers={"Host": host})
    assert r.status_code == 400
    assert r.json() == {
        "error": {"code": "untrusted_host", "message": "This Host header is not allowed."}
    }


async def test_foreign_host_on_a_page_gets_html(app: Any) -> None:
    async with _client(app) as c:
        r = await c.get("/", headers={"Host": "rebind.example:8765"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert "not allowed" in r.text


async def test_trusted_host_is_allowed(
    make_app: Callable[[Config], Any], make_config: Callable[..., Config]
) -> None:
    app = make_app(make_config(trusted_hosts=("dash.internal",)))
    async with _client(app) as c:
        ok = await c.get("/healthz", headers={"Host": "dash.internal:8765"})
        bare = await c.get("/healthz", headers={"Host": "dash.internal"})
        other = await c.get("/healthz", headers={"Host": "other.internal:8765"})
    assert (ok.status_code, bare.status_code, other.status_code) == (200, 200, 400)


def test_non_loopback_bind_does_not_allow_loopback_names(
    make_config: Callable[..., Config],
) -> None:
    hosts = allowed_hosts(make_config(host="192.0.2.10"))
    assert hosts == frozenset({"192.0.2.10:8765"})


def test_ipv6_bind_is_bracketed(make_config: Callable[..., Config]) -> None:
    assert "[::1]:8765" in allowed_hosts(make_config(host="::1"))


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 5000])
async def test_state_changes_need_the_token(app: Any, method: str, token: str | None) -> None:
    headers = {} if token is None else {"X-Attune-Token": token}
    async with _client(app) as c:
        r = await c.request(method, "/api/runs", headers=headers, json={})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "invalid_token"


async def test_token_of_another_app_is_refused(
    make_app: Callable[[Config], Any], config: Config
) -> None:
    first, second = make_app(config), make_app(config)
    assert first.state.services.token != second.state.services.token
    async with _client(second) as c:
        r = await c.post("/api/nothing", headers={"X-Attune-Token": first.state.services.token})
    assert r.status_code == 403


async def test_right_token_passes_the_guard(app: Any) -> None:
    async with _client(app) as c:
        r = await c.post("/api/nothing", headers={"X-Attune-Token": app.state.services.token})
    # Past the guard: the route simply does not exist.
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_session_gives_the_token(client: httpx.AsyncClient, app: Any) -> None:
    r = await client.get("/api/session")
    assert r.json() == {"token": app.state.services.token}


async def test_token_is_in_the_page_meta(client: httpx.AsyncClient, app: Any) -> None:
    r = await client.get("/")
    assert f'<meta name="attune-token" content="{app.state.services.token}">' in r.text


@pytest.mark.parametrize("path", ["/", "/healthz", "/api/session", "/does-not-exist"])
async def test_security_headers_everywhere(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert not any(h.lower().startswith("access-control-") for h in r.headers)


async def test_no_cors_even_when_asked(client: httpx.AsyncClient) -> None:
    r = await client.options(
        "/api/session",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert not any(h.lower().startswith("access-control-") for h in r.headers)


def test_csp_forbids_inline_scripts() -> None:
    script_src = next(d for d in CSP.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in CSP


async def test_pages_contain_no_inline_script(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    for chunk in html.split("<script")[1:]:
        head = chunk.split(">", 1)[0]
        assert "src=" in head or 'type="application/json"' in head, head
    assert " onclick=" not in html
    assert " style=" not in html


def test_tokens_match_is_exact() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("abd", "abc")
    assert not tokens_match(None, "abc")
    assert not tokens_match("", "abc")
    assert not tokens_match("é", "abc")


def test_trusted_hosts_with_and_without_a_port(make_config: Callable[..., Config]) -> None:
    hosts = allowed_hosts(
        make_config(trusted_hosts=("dash.internal:9000", "[fd00::1]", "box", "[fd00::2]:81"))
    )
    assert {"dash.internal:9000", "[fd00::1]", "[fd00::1]:8765", "box", "box:8765"} <= hosts
    assert "[fd00::2]:81" in hosts
    assert "dash.internal:9000:8765" not in hosts and "[fd00::2]:81:8765" not in hosts

"""Request guards: the Host allowlist, the per-process token, and security headers.

Written as a plain ASGI middleware (no ``BaseHTTPMiddleware``) so it costs one dict lookup per
request and never buffers a streaming body such as an SSE stream.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from html import escape
from typing import Any

from attune.ops.config import Config

__all__ = [
    "CSP",
    "TOKEN_HEADER",
    "SecurityMiddleware",
    "allowed_hosts",
    "new_token",
    "tokens_match",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_HEADER = "x-attune-token"  # noqa: S105 - a header name, not a secret
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_PAGE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def new_token() -> str:
    """A fresh per-process secret for state-changing requests."""
    return secrets.token_urlsafe(32)


def tokens_match(given: str | None, expected: str) -> bool:
    """Constant-time comparison; a missing token never matches."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def allowed_hosts(config: Config, bound_port: int | None = None) -> frozenset[str]:
    """Every ``Host`` header value the server answers to (lower case, with port)."""
    port = bound_port or config.port
    host = config.host.lower()
    host_part = f"[{host}]" if ":" in host and not host.startswith("[") else host
    hosts = {f"{host_part}:{port}"}
    if config.is_loopback:
        hosts |= {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    for trusted in config.trusted_hosts:
        hosts |= {trusted, _with_port(trusted, port)}  # "name" is accepted bare and with port
    return frozenset(hosts)


def _with_port(host: str, port: int) -> str:
    """``host`` with ``:port`` appended unless it already names a port (IPv6 aware)."""
    after_literal = host.rsplit("]", 1)[-1]
    return host if ":" in after_literal else f"{host}:{port}"


class SecurityMiddleware:
    """Rejects foreign Host headers (400) and tokenless state changes (403); adds headers."""

    def __init__(self, app: ASGIApp, *, config: Config, token: str) -> None:
        self.app = app
        self.config = config
        self.token = token
        self._hosts: frozenset[str] | None = None

    def _allowed(self, scope: Scope) -> frozenset[str]:
        # `attune ops --port 0` resolves the port before building the app; a library user who
        # serves a port-0 config themselves gets it learnt from the socket here instead.
        if self._hosts is None or self.config.port == 0:
            server = scope.get("server")
            bound = server[1] if server and self.config.port == 0 else None
            hosts = allowed_hosts(self.config, bound)
            if self.config.port != 0:
                self._hosts = hosts
            return hosts
        return self._hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        path: str = scope["path"]
        if host not in self._allowed(scope):
            await _reject(send, path, 400, "untrusted_host", "This Host header is not allowed.")
            return
        if scope["method"] in STATE_CHANGING:
            given = headers.get(TOKEN_HEADER.encode())
            if not tokens_match(given.decode("latin-1") if given else None, self.token):
                await _reject(
                    send,
                    path,
                    403,
                    "invalid_token",
                    "Missing or wrong X-Attune-Token header; reload the page to get a new one.",
                )
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_PAGE_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _reject(send: Send, path: str, status: int, code: str, message: str) -> None:
    if path.startswith("/api/") or path == "/healthz":
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        ctype = b"application/json"
    else:
        body = (
            "<!doctype html><meta charset=utf-8><title>attune ops</title>"
            f"<h1>{status}</h1><p>{escape(message)}</p>"
        ).encode()
        ctype = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                *_PAGE_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

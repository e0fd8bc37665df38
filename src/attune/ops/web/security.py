"""Request guards: the Host allowlist, the token, the body cap, text checks, security headers.

Written as a plain ASGI middleware (no ``BaseHTTPMiddleware``) so it costs one dict lookup per
request and never buffers a streaming body such as an SSE stream. Everything it refuses is
refused before any route runs, in the error shape of DESIGN §5 (the error page on pages).

It also holds :func:`abort_connection`, the one way a route can drop a connection at once.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from html import escape
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from attune.ops.config import Config
from attune.ops.errors import AttuneError, BodyTooLarge, InvalidBody, InvalidUrl

__all__ = [
    "CSP",
    "MAX_BODY_BYTES",
    "TOKEN_HEADER",
    "SecurityMiddleware",
    "allowed_hosts",
    "json_text_problem",
    "new_token",
    "tokens_match",
    "url_problem",
]

TOKEN_HEADER = "x-attune-token"  # noqa: S105 - a header name, not a secret
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Every body this app takes is a small JSON object. FastAPI's own ``max_body_size`` is left
# unset: it answers in plain text, and only once a route reads the body.
MAX_BODY_BYTES = 1024 * 1024
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
_SURROGATE = re.compile("[\ud800-\udfff]")


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


def url_problem(scope: Scope) -> str | None:
    """Why the URL is not text, or ``None``: percent-escapes must decode as UTF-8.

    Starlette would silently turn such bytes into U+FFFD, so ``?path=%ff`` would name a path
    nobody asked for.
    """
    for part, name in ((scope.get("raw_path") or b"", "path"), (scope["query_string"], "query")):
        if b"%" in part:
            try:
                unquote_to_bytes(part).decode("utf-8")
            except UnicodeDecodeError:
                return f"the URL's {name} is not UTF-8 once its %-escapes are decoded"
    return None


def json_text_problem(body: bytes) -> str | None:
    """Why a JSON body is not text, or ``None``: UTF-8 without lone surrogate escapes.

    Python's JSON parser turns ``"\\ud800"`` (and the bytes ED A0 80) into a lone surrogate,
    which no file name, database row or answer can encode; every route would fail on it later.
    Bodies that are not JSON at all are left to the route, which says so.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the request body is not UTF-8 text (byte {exc.start})"
    if "\\u" not in text:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    where = _lone_surrogate_at(value)
    if where is None:
        return None
    return f"the request body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff) in {where}"


def _lone_surrogate_at(value: Any) -> str | None:
    """Where in a parsed JSON value a string holds a lone surrogate (``None``: nowhere)."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str) and _SURROGATE.search(item):
            return where or "the body"
        if isinstance(item, dict):
            for key, inner in item.items():
                if _SURROGATE.search(key):
                    return f"a key of {where or 'the body'}"
                pending.append((f"{where}.{key}" if where else key, inner))
        elif isinstance(item, list):
            pending.extend((f"{where}[{i}]", inner) for i, inner in enumerate(item))
    return None


class SecurityMiddleware:
    """Refuses foreign hosts, tokenless changes, non-text URLs and bodies, and big bodies."""

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
        if (problem := url_problem(scope)) is not None:
            await _refuse(send, path, InvalidUrl(problem))
            return
        length = headers.get(b"content-length", b"")
        if length.isdigit() and (len(length) > 12 or int(length) > MAX_BODY_BYTES):  # unread
            await _refuse(send, path, _too_large())
            return
        ctype = headers.get(b"content-type", b"").lower()
        guard = _BodyGuard(receive, send, path, check_json=b"json" in ctype)
        await self.app(scope, guard.receive, guard.send)


def _too_large() -> BodyTooLarge:
    return BodyTooLarge(f"The request body is over {MAX_BODY_BYTES // 1024} KiB.")


class _BodyGuard:
    """The body as the app reads it: counted against the cap, checked as text once whole.

    A refusal is answered here at once (the response is not started while a body is read) and
    the app is told the client left, so whatever it answers afterwards is dropped.
    """

    def __init__(self, receive: Receive, send: Send, path: str, *, check_json: bool) -> None:
        self._receive = receive
        self._send = send
        self._path = path
        self._parts: list[bytes] | None = [] if check_json else None
        self._size = 0
        self._started = False
        self._refused = False

    async def receive(self) -> Message:
        if self._refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        body: bytes = message.get("body", b"")
        self._size += len(body)
        if self._size > MAX_BODY_BYTES:
            return await self._refuse(_too_large())
        if self._parts is not None:
            self._parts.append(body)
            if not message.get("more_body", False):
                problem = json_text_problem(b"".join(self._parts))
                self._parts = None
                if problem is not None:
                    return await self._refuse(InvalidBody(problem))
        return message

    async def _refuse(self, error: AttuneError) -> Message:
        self._refused = True
        if not self._started:
            self._started = True
            await _refuse(self._send, self._path, error)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self._refused:
            return
        if message["type"] == "http.response.start":
            self._started = True
            message["headers"] = [*message.get("headers", []), *_PAGE_HEADERS]
        await self._send(message)


async def _refuse(send: Send, path: str, error: AttuneError) -> None:
    # The rest of a refused body is never read: the connection cannot carry another request.
    await _reject(send, path, error.status, error.code, error.message, close=True)


async def _reject(
    send: Send, path: str, status: int, code: str, message: str, *, close: bool = False
) -> None:
    if path.startswith("/api/") or path == "/healthz":
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        ctype = b"application/json"
    else:
        body = (
            "<!doctype html><meta charset=utf-8><title>attune ops</title>"
            f"<h1>{status} {code}</h1><p>{escape(message)}</p>"
        ).encode()
        ctype = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                *([(b"connection", b"close")] if close else []),
                *_PAGE_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""Malformed input at every route: never a server error, always the error shape of DESIGN §5.

Bytes a browser never sends but a script, a fuzzer or a broken proxy can: over-long and
non-ASCII ``Last-Event-ID`` headers, lone UTF-16 surrogates in JSON bodies, URLs whose
percent-encoding is not UTF-8, integers too long for SQLite or for ``int()``, and bodies over
the 1 MiB cap, with and without ``Content-Length`` (against a real server, watching its memory).
"""

from __future__ import annotations

import json
import re
import select
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attune.ops.config import Config
from tests.conftest import ServerProcess

BASE = "http://127.0.0.1:8765"
MIB = 1024 * 1024

# Values for every path parameter: each must be refused with a 4xx (no route takes them).
HOSTILE_SEGMENTS = [
    "99999999999999999999999",  # over SQLite's 64 bits
    "9" * 5000,  # over Python's int() digit limit
    "-99999999999999999999999",
    "%ED%A0%80",  # a lone surrogate, UTF-8 encoded
    "%ff",  # not UTF-8 at all
    "%00",
    "1e3",
    "0x1f",
]
# Values for every query parameter: never a 5xx; the ones that are not UTF-8 are a 400.
HOSTILE_QUERY = [
    "%ff",
    "%ED%A0%80",
    "%C0%AF",  # an over-long '/'
    "9" * 5000,
    "99999999999999999999999",
    "-99999999999999999999999",
    "%00",
    "..%2f..%2f",
]
NOT_UTF8_QUERY = {"%ff", "%ED%A0%80", "%C0%AF"}
# Last-Event-ID values that are no id this server sends: a 400 on the events route.
BAD_EVENT_IDS = [
    b"9" * 5000,
    b"99999999999999999999",  # 20 digits
    b"\xb2",  # latin-1 superscript two: str.isdigit() says yes, int() says no
    b"\xff",
    b"\xd9\xa1",  # an Arabic-Indic digit one, UTF-8 encoded
    b"-1",
    b"1e3",
    b"0x10",
    b"+5",
    b"1 2",
]
# Raw JSON bodies for every POST route: never a 5xx.
HOSTILE_BODIES = [
    b'{"workflow": "todo-scan", "path": "\\ud800"}',
    b'{"workflow": "\\udfff", "path": null}',
    b'{"workflow": "todo-scan", "path": "src\\udc80/a"}',
    b'{"path": "\\ud800", "snapshot_hash": "0123abcd", "status": "done", "token": "\\ud800"}',
    b'{"path": "\\ud800", "status": "\\ud800", "preview": "\\ud800", "token": "x"}',
    b'{"\\ud800": 1}',
    b'{"workflow": "todo-scan", "path": "\xff"}',
    b'{"workflow": "todo-scan", "path": "\xed\xa0\x80"}',
    b'{"workflow": ' + b"9" * 5000 + b"}",
    b"[" * 100_000,
    b'"\\ud800"',
    b"\x00",
]
# Among those, the ones holding a lone surrogate or bytes that are not UTF-8: always 400.
NOT_TEXT_BODIES = [b for b in HOSTILE_BODIES if b"\\ud" in b or b"\xff" in b or b"\xed" in b]


# Fixed outside this suite's files; each has its own (strict) expected failure below.
KNOWN_500S = {"/runs/" + "9" * 5000}  # run_pages.show_run: int() of a 5000-digit id


@dataclass(frozen=True)
class Probe:
    method: str
    url: str
    headers: dict[str, bytes]
    body: bytes | None
    must_refuse: bool  # a 4xx, not merely "no 5xx"


def _routes(app: Any) -> list[APIRoute]:
    """Every API route of the app, through FastAPI's included routers (all without prefix)."""
    found: list[APIRoute] = []
    pending = list(app.routes)
    while pending:
        route = pending.pop(0)
        if isinstance(route, APIRoute):
            found.append(route)
        elif (router := getattr(route, "original_router", None)) is not None:
            pending.extend(router.routes)
    return found


def _fill(route: APIRoute, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, route.path)


def probes(app: Any) -> Iterator[Probe]:
    """Every hostile input at every route it can reach."""
    for route in _routes(app):
        for method in sorted(route.methods):
            params = [p.alias for p in route.dependant.path_params]
            for segment in HOSTILE_SEGMENTS if params else []:
                url = _fill(route, segment)
                if url.split("?")[0] in KNOWN_500S:
                    continue
                yield Probe(method, url, {}, None, True)
            plain = _fill(route, "1")
            for query in route.dependant.query_params:
                for value in HOSTILE_QUERY:
                    bad = value in NOT_UTF8_QUERY
                    yield Probe(method, f"{plain}?{query.alias}={value}", {}, None, bad)
            if route.path.endswith("/events"):
                for event_id in BAD_EVENT_IDS:
                    yield Probe(method, plain, {"Last-Event-ID": event_id}, None, True)
            if method == "POST":
                takes_body = route.body_field is not None  # others never read theirs
                for body in HOSTILE_BODIES:
                    ctype = {"Content-Type": b"application/json"}
                    bad = takes_body and body in NOT_TEXT_BODIES
                    yield Probe(method, plain, ctype, body, bad)


def problems_of(probe: Probe, response: httpx.Response) -> list[str]:
    """What is wrong with the answer to ``probe`` (nothing: an empty list)."""
    where = f"{probe.method} {probe.url[:80]} {probe.headers} {(probe.body or b'')[:60]!r}"
    status = response.status_code
    if status >= 500:
        return [f"{where}: {status} {response.text[:200]}"]
    if probe.must_refuse and not 400 <= status < 500:
        return [f"{where}: {status}, not a 4xx"]
    if status < 400:
        return []
    ctype = response.headers.get("content-type", "")
    path = probe.url.split("?")[0]
    if path.startswith("/api/") or path == "/healthz":
        if not ctype.startswith("application/json"):
            return [f"{where}: {status} answered {ctype}"]
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if set(body) != {"error"} or not isinstance(error, dict):
            return [f"{where}: {status} {body}: not the error shape"]
        if not {"code", "message"} <= set(error) or not re.fullmatch(r"[a-z_]+", error["code"]):
            return [f"{where}: {status} {body}: not the error shape"]
    elif not ctype.startswith("text/html"):
        return [f"{where}: {status} page answered {ctype}"]
    return []


@pytest.fixture
def hostile_app(
    make_app: Callable[[Config], Any], make_config: Callable[..., Config], project: Path
) -> Any:
    (project / "src").mkdir()
    (project / "src" / "a.py").write_text("# TODO: a marker\n")
    (project / "docs" / "specs" / "one").mkdir(parents=True)
    (project / "docs" / "specs" / "one" / "tasks.md").write_text("- [x] done\n")
    app = make_app(make_config(specs_roots=("docs/specs",)))
    store = app.state.services.store
    run = store.create_run("todo-scan", None, ["todo-scan"])  # run 1, finished: streams end
    store.append_lines(run.id, 1, ["one", "two"])
    store.finish_run(run.id, "succeeded", 0, 0.1)
    return app


async def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url=BASE,
        headers={"X-Attune-Token": app.state.services.token},
        timeout=10,
    )


async def test_every_route_refuses_hostile_input_in_the_error_shape(hostile_app: Any) -> None:
    found: list[str] = []
    count = 0
    async with await _client(hostile_app) as c:
        for probe in probes(hostile_app):
            count += 1
            r = await c.request(probe.method, probe.url, headers=probe.headers, content=probe.body)
            found += problems_of(probe, r)
    assert count > 300  # every route was reached, with every kind of input
    assert not found, "\n".join(found[:40])


async def test_a_page_with_a_5000_digit_run_id_is_a_404(hostile_app: Any) -> None:
    async with await _client(hostile_app) as c:
        for url in KNOWN_500S:
            r = await c.get(url)
            assert r.status_code == 404 and "run_not_found" in r.text


async def test_what_each_refusal_says(hostile_app: Any) -> None:
    async with await _client(hostile_app) as c:
        r = await c.get("/api/runs/1/events", headers={"Last-Event-ID": "9" * 5000})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_last_event_id"
        body = b'{"workflow": "todo-scan", "path": "\\ud800"}'
        r = await c.post("/api/runs", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_body"
        assert "path" in r.json()["error"]["message"]
        r = await c.get("/api/scope?path=%ff")
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_url")
        r = await c.get("/runs/%ED%A0%80")
        assert r.status_code == 400 and "invalid_url" in r.text  # a page: the error page
        r = await c.get("/api/runs/99999999999999999999999")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "run_not_found")
        # A valid pair of surrogate escapes is one character (U+1F680), not a lone one.
        r = await c.get("/api/scope", params={"path": "\U0001f680"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_a_good_last_event_id_still_resumes(hostile_app: Any) -> None:
    async with await _client(hostile_app) as c:
        for sent in ("1", " 1 ", "0001"):
            r = await c.get("/api/runs/1/events", headers={"Last-Event-ID": sent})
            assert r.status_code == 200, (sent, r.text)
            assert '"lines":["two"]' in r.text and '"lines":["one"' not in r.text
        r = await c.get("/api/runs/1/events", headers={"Last-Event-ID": "9223372036854775807"})
        assert r.status_code == 200 and "event: done" in r.text and "event: lines" not in r.text
        r = await c.get("/api/runs/1/events", headers={"Last-Event-ID": ""})
        assert r.status_code == 200 and '"lines":["one","two"]' in r.text


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(event_id=st.binary(min_size=1, max_size=40).filter(lambda b: not {13, 10} & set(b)))
def test_any_last_event_id_is_an_id_or_a_400(hostile_app: Any, event_id: bytes) -> None:
    import anyio

    async def ask() -> httpx.Response:
        async with await _client(hostile_app) as c:
            return await c.get("/api/runs/1/events", headers={"Last-Event-ID": event_id})

    r = anyio.run(ask)
    text = event_id.strip(b" \t")
    if not text:
        assert r.status_code == 200
    elif re.fullmatch(rb"[0-9]{1,19}", text):
        assert r.status_code == 200 and "event: done" in r.text
    else:
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_last_event_id"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.text(st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr)), max_size=12))
def test_any_json_path_is_a_run_or_a_4xx(hostile_app: Any, path: str) -> None:
    import anyio

    body = json.dumps({"workflow": "no-such-workflow", "path": path}).encode()  # \\u escapes

    async def ask() -> httpx.Response:
        async with await _client(hostile_app) as c:
            return await c.post(
                "/api/runs", content=body, headers={"Content-Type": "application/json"}
            )

    r = anyio.run(ask)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    code = r.json()["error"]["code"]
    # A high surrogate escape then a low one is one character to JSON, not two lone halves.
    lone = any(0xD800 <= ord(ch) <= 0xDFFF for ch in json.loads(json.dumps(path)))
    assert code == ("invalid_body" if lone else "unknown_workflow"), (path, r.text)


# -- body size, against a real server -----------------------------------------------------------


def vm_kib(pid: int, field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def push_body(srv: ServerProcess, head: bytes, chunks: Iterator[bytes]) -> tuple[int, bytes]:
    """Send ``head`` then ``chunks`` until the server answers; (bytes of body sent, answer)."""
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while b"\r\n\r\n" not in answer or not _complete(answer):
                part = sock.recv(65536)
                if not part:
                    break
                answer += part
        except ConnectionResetError:
            pass
    return sent, answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    return bool(match) and len(body) >= int(match.group(1))


def _post_head(srv: ServerProcess, framing: bytes) -> bytes:
    return (
        (
            f"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
            f"X-Attune-Token: {srv.token}\r\nContent-Type: application/json\r\n"
        ).encode()
        + framing
        + b"\r\n"
    )


def _json_error(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)["error"]["code"]


def _warm_up(srv: ServerProcess) -> None:
    """One small POST first, so what it imports is not counted as growth."""
    headers = {"X-Attune-Token": srv.token}
    httpx.post(f"{srv.url}/api/runs", json={"workflow": "nope"}, headers=headers)


BIG = 200 * MIB
PIECE = b'{"workflow": "todo-scan", "path": "' + b"a" * (64 * 1024 - 37)


def test_a_200_mb_body_with_content_length_is_refused_unread(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory()
    _warm_up(srv)
    rss_before = vm_kib(srv.proc.pid, "VmRSS")
    head = _post_head(srv, f"Content-Length: {BIG}\r\n".encode())
    sent, answer = push_body(srv, head, (PIECE for _ in range(BIG // len(PIECE))))
    rss_after, peak = vm_kib(srv.proc.pid, "VmRSS"), vm_kib(srv.proc.pid, "VmHWM")
    print(
        f"200 MB with Content-Length: {sent / MIB:.1f} MiB sent before the answer; "
        f"VmRSS {rss_before} -> {rss_after} KiB, VmHWM {peak} KiB"
    )
    assert _json_error(answer) == (413, "body_too_large")
    assert sent < BIG // 2  # answered long before the client was done
    assert rss_after - rss_before < 20 * 1024
    assert httpx.get(f"{srv.url}/healthz").status_code == 200


def test_a_chunked_body_is_cut_at_the_cap(server_factory: Callable[..., ServerProcess]) -> None:
    srv = server_factory()
    _warm_up(srv)
    rss_before = vm_kib(srv.proc.pid, "VmRSS")
    head = _post_head(srv, b"Transfer-Encoding: chunked\r\n")
    frame = b"%x\r\n" % len(PIECE) + PIECE + b"\r\n"
    sent, answer = push_body(srv, head, (frame for _ in range(BIG // len(PIECE))))
    rss_after = vm_kib(srv.proc.pid, "VmRSS")
    print(
        f"200 MB chunked: {sent / MIB:.1f} MiB sent before the answer; "
        f"VmRSS {rss_before} -> {rss_after} KiB"
    )
    assert _json_error(answer) == (413, "body_too_large")
    assert sent < BIG // 2
    assert rss_after - rss_before < 20 * 1024
    assert httpx.get(f"{srv.url}/healthz").status_code == 200


def test_bodies_under_the_cap_still_work(server_factory: Callable[..., ServerProcess]) -> None:
    srv = server_factory()
    r = httpx.post(
        f"{srv.url}/api/runs",
        content=b'{"workflow": "nope", "path": null}' + b" " * (MIB - 100),
        headers={"X-Attune-Token": srv.token, "Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "unknown_workflow")
    r = httpx.post(
        f"{srv.url}/api/runs",
        content=b'{"workflow": "nope", "path": "\\ud800"}',
        headers={"X-Attune-Token": srv.token, "Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_body")
    r = httpx.get(f"{srv.url}/api/runs/1/events", headers={"Last-Event-ID": b"\xb2"})
    assert r.status_code in (400, 404)  # no run 1 here: either way not a 500

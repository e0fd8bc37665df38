"""HTTP for the cost report: one ``GET /v1/organizations/cost_report`` per page, to the end.

Headers and parameters as DESIGN §6; a 10 s timeout; one retry after a connection error or a 5xx;
``Retry-After`` reported for a 429. Failures raise :class:`FetchFailed` with the error kind and a
message that never contains the key or a header. httpx is imported here only when called.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "API_VERSION",
    "MAX_PAGES",
    "PAGE_LIMIT",
    "REPORT_PATH",
    "WORKSPACES_PATH",
    "FetchFailed",
    "fetch_buckets",
    "fetch_workspaces",
]

REPORT_PATH = "/v1/organizations/cost_report"
WORKSPACES_PATH = "/v1/organizations/workspaces"
API_VERSION = "2023-06-01"
PAGE_LIMIT = 31
MAX_PAGES = 100
# A real page (31 days × a few hundred rows) is well under a megabyte; anything far larger is
# not the cost report, and reading it whole would let a bad proxy exhaust memory.
MAX_PAGE_BYTES = 16 << 20


class FetchFailed(Exception):
    """A page could not be fetched; ``kind`` is a ``CostFetchErrorKind`` value."""

    def __init__(self, kind: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after_s = retry_after_s


def fetch_buckets(
    key: str,
    window_params: Mapping[str, str],
    *,
    base_url: str,
    transport: httpx.BaseTransport | None,
    timeout: float,
    retry_delay: float,
    group_by: tuple[str, ...] = ("description",),
) -> list[dict[str, Any]]:
    """Every bucket of the report for ``window_params``, following ``next_page`` to the end.

    ``group_by`` names the ``group_by[]`` values (``("workspace_id", "description")`` for the
    Claude Code reconciliation).
    """
    base = [
        *window_params.items(),
        ("bucket_width", "1d"),
        *(("group_by[]", g) for g in group_by),
        ("limit", str(PAGE_LIMIT)),
    ]
    with _client(key, base_url, transport, timeout) as client:
        return _all_pages(client, base, timeout=timeout, retry_delay=retry_delay)


def fetch_workspaces(
    key: str,
    *,
    base_url: str,
    transport: httpx.BaseTransport | None,
    timeout: float,
    retry_delay: float,
) -> list[dict[str, Any]]:
    """Every workspace of the organisation (``GET /v1/organizations/workspaces``, paged by
    ``after_id`` to the end), archived ones included."""
    found: list[dict[str, Any]] = []
    params = [("limit", "100"), ("include_archived", "true")]
    with _client(key, base_url, transport, timeout) as client:
        for _ in range(MAX_PAGES):
            body = _get_page(
                client, params, timeout=timeout, retry_delay=retry_delay, path=WORKSPACES_PATH
            )
            found.extend(w for w in body["data"] if isinstance(w, dict))
            last = body.get("last_id")
            if not body["has_more"] or not isinstance(last, str) or not last:
                return found
            params = [("limit", "100"), ("include_archived", "true"), ("after_id", last)]
    raise FetchFailed("bad_response", f"the workspaces list did not end after {MAX_PAGES} pages")


def _client(
    key: str, base_url: str, transport: httpx.BaseTransport | None, timeout: float
) -> httpx.Client:
    import httpx

    if not key.isascii() or not key.isprintable():
        raise FetchFailed(
            "auth_failed",
            "the admin key contains characters that cannot be sent: run "
            "`attune ops setup-billing` to store it again",
        )
    headers = {"x-api-key": key, "anthropic-version": API_VERSION, "user-agent": _user_agent()}
    try:
        return httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
        raise FetchFailed("network", f"ANTHROPIC_BASE_URL is not a usable URL ({exc})") from exc


def _all_pages(
    client: httpx.Client, base: list[tuple[str, str]], *, timeout: float, retry_delay: float
) -> list[dict[str, Any]]:
    buckets: list[dict[str, Any]] = []
    page: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        params = base if page is None else [*base, ("page", page)]
        body = _get_page(client, params, timeout=timeout, retry_delay=retry_delay)
        buckets.extend(body["data"])
        if not body["has_more"]:
            return buckets
        page = body.get("next_page")
        if not isinstance(page, str) or not page or page in seen:
            raise FetchFailed(
                "bad_response", "the cost report says has_more but gives no new next_page"
            )
        seen.add(page)
    raise FetchFailed("bad_response", f"the cost report did not end after {MAX_PAGES} pages")


def _get_page(
    client: httpx.Client,
    params: list[tuple[str, str]],
    *,
    timeout: float,
    retry_delay: float,
    path: str = REPORT_PATH,
) -> dict[str, Any]:
    import httpx

    for attempt in (1, 2):
        try:
            response = _request(client, params, path)
        except httpx.ConnectError as exc:
            if attempt == 1:
                time.sleep(retry_delay)
                continue
            raise FetchFailed("network", f"cannot connect to {_origin(client)}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise FetchFailed(
                "network", f"{_origin(client)} did not answer within {timeout:g} s"
            ) from exc
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise FetchFailed("network", f"request to {_origin(client)} failed: {exc}") from exc
        if response.status_code >= 500 and attempt == 1:
            time.sleep(retry_delay)
            continue
        return _page_body(response)
    raise AssertionError("unreachable: the second attempt returns or raises")


def _request(client: httpx.Client, params: list[tuple[str, str]], path: str) -> httpx.Response:
    """GET one page, reading at most :data:`MAX_PAGE_BYTES` of its body."""
    import httpx

    with client.stream("GET", path, params=tuple(params)) as streamed:
        declared = streamed.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_PAGE_BYTES:
            raise _too_large()
        chunks: list[bytes] = []
        size = 0
        for chunk in streamed.iter_bytes():
            size += len(chunk)
            if size > MAX_PAGE_BYTES:
                raise _too_large()
            chunks.append(chunk)
    skip = {"content-encoding", "content-length", "transfer-encoding"}
    headers = [(k, v) for k, v in streamed.headers.items() if k.lower() not in skip]
    return httpx.Response(streamed.status_code, headers=headers, content=b"".join(chunks))


def _too_large() -> FetchFailed:
    return FetchFailed(
        "bad_response",
        f"a cost report page is larger than {MAX_PAGE_BYTES >> 20} MiB; stopped reading it",
    )


def _page_body(response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    if status in (401, 403):
        raise FetchFailed(
            "auth_failed",
            f"the Anthropic API rejected the admin key (HTTP {status}{_api_message(response)}): "
            "run `attune ops setup-billing` with an admin key (sk-ant-admin…)",
        )
    if status == 429:
        raise FetchFailed(
            "rate_limited",
            f"the Anthropic API is rate limiting cost report requests (HTTP 429); "
            f"{_retry_after(response)}",
            retry_after_s=retry_after_seconds(response.headers.get("retry-after", "")),
        )
    if not 200 <= status < 300:
        raise FetchFailed(
            "http_error", f"the Anthropic API answered HTTP {status}{_api_message(response)}"
        )
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        kind = response.headers.get("content-type", "no content type")[:60]
        raise FetchFailed("bad_response", f"the cost report answer is not JSON ({kind})") from exc
    return _checked(body)


def _checked(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise FetchFailed("bad_response", "the cost report answer is not a JSON object")
    if not isinstance(body.get("data"), list):
        raise FetchFailed("bad_response", "the cost report answer has no data list")
    if not isinstance(body.get("has_more", False), bool):
        raise FetchFailed("bad_response", "the cost report's has_more is not true or false")
    body.setdefault("has_more", False)
    return body


def _api_message(response: httpx.Response) -> str:
    """``: <the API's error message>`` when the body carries one (short, single line)."""
    try:
        body = response.json()
        message = body["error"]["message"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return ""
    if not isinstance(message, str) or not message.strip():
        return ""
    return ": " + " ".join(message.split())[:200]


def retry_after_seconds(raw: str, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` value (seconds or an HTTP date) as seconds from now, capped at a day."""
    raw = raw.strip()
    if raw.isdigit():
        return float(min(int(raw[:9]), 86_400))
    try:
        when = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError):
        when = None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - (now or datetime.now(UTC))).total_seconds(), 86_400.0))


def _retry_after(response: httpx.Response) -> str:
    raw = response.headers.get("retry-after", "").strip()
    if raw.isdigit():
        return f"retry after {int(raw)} s"
    if raw:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return f"retry after {when.isoformat()}"
    return "retry in a minute"


def _origin(client: httpx.Client) -> str:
    url = client.base_url
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def _user_agent() -> str:
    from attune._version import __version__

    return f"attune-ops/{__version__} (cost report; +https://pypi.org/project/attune-ops/)"

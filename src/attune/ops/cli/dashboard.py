"""Asking a running dashboard over its API, as the terminal commands do (start, cancel)."""

from __future__ import annotations

from typing import Any

from attune.ops.errors import AttuneError, error_for_code
from attune.ops.server_file import ServerInfo

__all__ = ["post_to_dashboard"]


def post_to_dashboard(
    server: ServerInfo, path: str, *, json: Any = None, timeout: float = 30
) -> dict[str, Any]:
    """POST ``path`` with the server's token and Host; its error answer becomes its error class.

    Example: ``post_to_dashboard(info, "/api/runs/7/cancel")``.
    """
    import httpx

    try:
        answer = httpx.post(
            f"{server.url}{path}", json=json, headers=server.headers, timeout=timeout
        )
        body = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise AttuneError(f"the dashboard at {server.url} did not answer: {exc}") from exc
    if answer.status_code >= 400:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = error.get("message", f"HTTP {answer.status_code}")
        raise error_for_code(str(error.get("code", "")), str(message))
    if not isinstance(body, dict):
        raise AttuneError(f"the dashboard at {server.url} answered something else than a run")
    return body

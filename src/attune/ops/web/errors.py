"""The one error path of the web app: every failure becomes the JSON error shape or the page.

API paths (``/api/…``, ``/healthz``) answer ``{"error": {"code", "message", …}}``; pages answer
the HTML error page with the same code and message.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from attune.ops.errors import AttuneError

__all__ = ["error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)

_SURROGATE = re.compile("[\ud800-\udfff]")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def is_api_path(path: str) -> bool:
    return path.startswith("/api/") or path == "/healthz"


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The JSON error for API paths, the rendered error page for pages."""
    message = _printable(message)
    if is_api_path(request.url.path):
        body = {"error": {"code": code, "message": message, **_printable(extra or {})}}
        return JSONResponse(body, status_code=status, headers=headers)
    from attune.ops.web.pages import render_page

    return render_page(
        request,
        "error.html",
        {"status": status, "code": code, "message": message, "title": f"{status} {code}"},
        status_code=status,
        headers=headers,
    )


def _printable(value: Any) -> Any:
    """``value`` with every lone surrogate written as its escape (``\\ud800``).

    Hostile JSON can put one in a path or a name that an error then quotes, and a string
    holding one cannot be encoded: the error answer itself must never fail.
    """
    if isinstance(value, str):
        if _SURROGATE.search(value):
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


async def _on_attune_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AttuneError)
    return error_response(request, exc.status, exc.code, exc.message, exc.extra)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Error"
    message = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    if message is None:
        message = {
            404: f"Nothing at {request.url.path}.",
            405: f"{request.method} is not allowed on {request.url.path}.",
        }.get(exc.status_code, phrase)
    headers = dict(exc.headers) if exc.headers else None
    return error_response(request, exc.status_code, code, message, headers=headers)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": [str(p) for p in err.get("loc", ())], "message": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    in_body = any(d["loc"][:1] == ["body"] for d in details)
    where = "; ".join(f"{'.'.join(d['loc'])}: {d['message']}" for d in details[:5])
    if in_body:
        return error_response(
            request, 400, "invalid_body", f"Invalid request body: {where}", {"details": details}
        )
    return error_response(
        request, 422, "invalid_request", f"Invalid request: {where}", {"details": details}
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        request,
        500,
        "internal_error",
        "Something went wrong inside attune ops; the server log has the details.",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error class through :func:`error_response`."""
    app.add_exception_handler(AttuneError, _on_attune_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)

"""Domain errors that carry their own machine-readable code and HTTP status.

Routes never build error responses themselves: one handler in ``server.py`` maps any
``AttuneError`` to the JSON shape ``{"error": {"code", "message", ...}}`` (or the HTML
error page), and the CLI maps it to one line on stderr.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AttuneError(Exception):
    """Base of every predictable failure; ``code`` is snake_case and stable."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_payload(self) -> dict[str, Any]:
        """The body of a JSON error answer."""
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class ConfigError(AttuneError, ValueError):
    """A configuration value (a path, a port, a budget) cannot be used."""

    code = "config_error"
    status = 500


class InvalidBody(AttuneError):
    code = "invalid_body"
    status = 400


class NotFound(AttuneError):
    code = "not_found"
    status = 404

"""Every predictable failure, one class per error code (DESIGN §5).

Domain code raises these; only ``web/errors.py`` turns them into responses (the JSON shape
``{"error": {"code", "message", ...}}`` or the HTML error page) and only ``cli/main.py`` turns
them into one line on stderr and an exit code. ``tests/test_layout.py`` keeps one class per code.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AttuneError",
    "BodyTooLarge",
    "ConfigError",
    "InvalidBody",
    "InvalidFilter",
    "InvalidLastEventId",
    "InvalidPath",
    "InvalidStatusValue",
    "InvalidUrl",
    "NotFound",
    "PathNotAccepted",
    "RunFinished",
    "RunNotFound",
    "RunnerBusy",
    "RunsDisabled",
    "SpecNotFound",
    "SpecsReadOnly",
    "StatusNotRewritable",
    "StatusPreviewStale",
    "StoreUnavailable",
    "TestNotFound",
    "UndoExpired",
    "UndoFileChanged",
    "UnknownWorkflow",
    "error_for_code",
]


class AttuneError(Exception):
    """Base of every predictable failure; ``code`` is snake_case and stable."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    exit_code: ClassVar[int] = 1  # what the CLI exits with

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_payload(self) -> dict[str, Any]:
        """The body of a JSON error answer."""
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


# -- the request itself ------------------------------------------------------------------------


class InvalidBody(AttuneError):
    """A request body that is not the JSON object the route takes."""

    code = "invalid_body"
    exit_code = 2


class InvalidFilter(AttuneError):
    """A history filter (status, date, cursor) that cannot be used."""

    code = "invalid_filter"
    exit_code = 2


class InvalidPath(AttuneError):
    """A path that is absolute, escapes the project root, or cannot be a path at all."""

    code = "invalid_path"
    exit_code = 2


class NotFound(AttuneError):
    """Nothing exists at a (valid) path."""

    code = "not_found"
    status = 404
    exit_code = 3


class InvalidUrl(AttuneError):
    """A URL whose %-escapes are not UTF-8 text (``?path=%ff``)."""

    code = "invalid_url"
    exit_code = 2


class BodyTooLarge(AttuneError):
    """A request body over the server's cap; refused before it is read."""

    code = "body_too_large"
    status = 413
    exit_code = 2


class InvalidLastEventId(AttuneError):
    """A ``Last-Event-ID`` that is no id this server sends (1 to 19 ASCII digits)."""

    code = "invalid_last_event_id"
    exit_code = 2


# -- configuration -----------------------------------------------------------------------------


class ConfigError(AttuneError, ValueError):
    """A configuration value (a path, a port, a budget) cannot be used."""

    code = "config_error"
    status = 500
    exit_code = 2


# -- runs --------------------------------------------------------------------------------------


class UnknownWorkflow(AttuneError):
    code = "unknown_workflow"
    status = 404
    exit_code = 3


class PathNotAccepted(AttuneError):
    code = "path_not_accepted"
    exit_code = 2


class RunsDisabled(AttuneError):
    code = "runs_disabled"
    status = 403
    exit_code = 4


class RunnerBusy(AttuneError):
    code = "runner_busy"
    status = 409
    exit_code = 5


class RunNotFound(AttuneError):
    code = "run_not_found"
    status = 404
    exit_code = 3


class TestNotFound(AttuneError):
    """No test with that id (``/api/tests/{id}``): never reported, or gone with its runs."""

    __test__ = False
    code = "test_not_found"
    status = 404
    exit_code = 3


class RunFinished(AttuneError):
    code = "run_finished"
    status = 409
    exit_code = 5


class RunElsewhere(AttuneError):
    """A live run another process owns (``attune runs start`` in a terminal, another dashboard):
    only that process can stop it."""

    code = "run_elsewhere"
    status = 409
    exit_code = 5


class StoreUnavailable(AttuneError):
    """The store cannot be read or written now (locked, full, damaged)."""

    code = "store_unavailable"
    status = 503
    exit_code = 6


# -- specs -------------------------------------------------------------------------------------


class SpecNotFound(AttuneError):
    code = "spec_not_found"
    status = 404
    exit_code = 3


class SpecsReadOnly(AttuneError):
    code = "read_only"
    status = 403
    exit_code = 4


class InvalidStatusValue(AttuneError):
    code = "invalid_status"
    exit_code = 2


class StatusNotRewritable(AttuneError):
    code = "status_not_rewritable"
    status = 409
    exit_code = 5


class StatusPreviewStale(AttuneError):
    """The spec's files changed between the previewed "Mark complete" and its confirm."""

    code = "preview_stale"
    status = 409
    exit_code = 5


class UndoExpired(AttuneError):
    """No undo for that token: its minute has passed (or the server restarted)."""

    code = "undo_expired"
    status = 409
    exit_code = 5


class UndoFileChanged(AttuneError):
    """The file a status change wrote was changed since: undoing would lose that change."""

    code = "undo_file_changed"
    status = 409
    exit_code = 5


def error_for_code(code: str, message: str) -> AttuneError:
    """The error of class ``code`` (e.g. from a server's JSON answer), else a plain one."""
    pending: list[type[AttuneError]] = [AttuneError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls(message)
        pending.extend(cls.__subclasses__())
    return AttuneError(message)

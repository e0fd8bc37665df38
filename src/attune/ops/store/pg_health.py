"""Whether the team database answers, as this process last saw it: fast refusals while it is away.

Once a connection is found lost (the server stopped, restarted, a connection killed mid-COMMIT),
the store is *away*: every call is refused at once with ``StoreUnavailable`` (``unreachable``),
instead of each request waiting out the pool's timeout. At most one caller every
:data:`PROBE_EVERY_S` tries a fresh connection of its own (bounded by
:data:`PROBE_CONNECT_TIMEOUT_S`); the first that gets one marks the store back, so it recovers by
itself within about half a second of the server answering again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from attune.ops.errors import StoreUnavailable

__all__ = ["PROBE_CONNECT_TIMEOUT_S", "PROBE_EVERY_S", "ServerHealth", "connection_lost"]

PROBE_EVERY_S = 0.5
PROBE_CONNECT_TIMEOUT_S = 2  # libpq's smallest useful connect_timeout
# Errors of the connection itself (class 08), or the server shutting down / starting up.
_LOST_STATES = ("57P01", "57P02", "57P03")


def connection_lost(exc: BaseException, raw: psycopg.Connection[Any] | None) -> bool:
    """Whether ``exc`` means the server went away (not a statement that failed on a live one)."""
    if raw is not None and (raw.broken or raw.closed):
        return True
    if isinstance(exc, psycopg.InterfaceError):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith("08") or state in _LOST_STATES


class ServerHealth:
    """Up or away, with a bounded probe; thread-safe (one prober at a time, others refused)."""

    def __init__(
        self, url: str, unavailable: Callable[[BaseException, str], StoreUnavailable]
    ) -> None:
        self._url = url
        self._unavailable = unavailable  # names the database, its password masked
        self._probing = threading.Lock()
        self._away_since: float | None = None
        self._next_probe = 0.0
        self._last: BaseException | None = None
        self._confirmed_at = float("-inf")

    @property
    def away_since(self) -> float | None:
        """``time.monotonic()`` when the store was found away; ``None`` while it answers."""
        return self._away_since

    def lost(self, exc: BaseException) -> None:
        """A connection was lost: refuse calls until a probe connects (the first probe is now)."""
        if self._away_since is None:
            self._away_since = time.monotonic()
            self._next_probe = 0.0
        self._last = exc

    def confirm(self, exc: BaseException) -> bool:
        """A pooled connection was found dead: is the server up? A fresh connection says (one
        every :data:`PROBE_EVERY_S` at most); when it fails the store is away (``lost``)."""
        if self._away_since is not None:
            return False
        if not self._probing.acquire(timeout=PROBE_CONNECT_TIMEOUT_S + 1):
            return False
        try:
            if time.monotonic() - self._confirmed_at < PROBE_EVERY_S:
                return True
            if self._probe():
                return True
            self.lost(self._last or exc)
            self._next_probe = time.monotonic() + PROBE_EVERY_S  # it just failed
            return False
        finally:
            self._probing.release()

    def gate(self, doing: str) -> None:
        """Return while the store answers; raise ``StoreUnavailable`` at once while it is away."""
        if self._away_since is None:
            return
        if time.monotonic() >= self._next_probe and self._probing.acquire(blocking=False):
            try:
                if self._away_since is not None and self._probe():
                    return
            finally:
                self._probing.release()
        if self._away_since is None:  # another caller's probe just connected
            return
        raise self.refusal(doing)

    def refusal(self, doing: str) -> StoreUnavailable:
        error = self._unavailable(self._last or OSError("no answer"), doing)
        error.extra["unreachable"] = True
        return error

    def _probe(self) -> bool:
        try:
            conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=PROBE_CONNECT_TIMEOUT_S
            )
        except psycopg.Error as exc:
            self._last = exc
            self._next_probe = time.monotonic() + PROBE_EVERY_S
            return False
        conn.close()
        self._away_since = None
        self._last = None
        self._confirmed_at = time.monotonic()
        return True

"""Run retention: delete runs older than ``runs_retention_days`` at start and then daily.

It runs on its own daemon thread, never on a request; when a lot was freed the database is
vacuumed so the file shrinks.
"""

from __future__ import annotations

import logging
import threading

from attune.ops.store.database import Store

__all__ = ["RetentionJob", "apply_retention"]

logger = logging.getLogger(__name__)

DAY_S = 86_400.0
VACUUM_FREE_RATIO = 0.25


def apply_retention(store: Store, days: int) -> int:
    """Delete finished runs older than ``days`` (0 keeps all); VACUUM when much was freed.

    Returns the number of runs deleted. Example: ``apply_retention(store, 30)``.
    """
    deleted = store.delete_runs_older_than(days)
    if deleted:
        logger.info("retention: deleted %d runs older than %d days", deleted, days)
        if store.free_ratio() >= VACUUM_FREE_RATIO:
            store.vacuum()
    return deleted


class RetentionJob:
    """Applies retention now and every ``interval_s`` seconds until stopped."""

    def __init__(self, store: Store, days: int, interval_s: float = DAY_S) -> None:
        self.store = store
        self.days = days
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or self.days <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="attune-retention", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                apply_retention(self.store, self.days)
            except Exception:
                logger.exception("retention failed; will try again later")
            self._stop.wait(self.interval_s)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

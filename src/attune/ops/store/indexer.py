"""The full-text index of run output, built in the background and never on the hot path.

A finished run is indexed in small batches (one short write transaction each) by one daemon
thread, which pauses while a run is live so indexing never competes with streaming. Until a run
is indexed, searches find it through a plain scan of its (unindexed) output. The same thread
fills the trigram index of a database made before that index existed (migration 4), newest
runs first: minutes of work on a big file, which a migration would do with the writer locked.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

from attune.ops.store.damage import describe, is_damage
from attune.ops.store.database import Store

__all__ = ["SearchIndexer"]

logger = logging.getLogger(__name__)


class SearchIndexer:
    """Indexes finished runs' output; ``notify()`` after a run ends."""

    def __init__(self, store: Store, is_busy: Callable[[], bool], pause_s: float = 0.5) -> None:
        self.store = store
        self.is_busy = is_busy
        self.pause_s = pause_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unreadable: set[int] = set()

    def start(self) -> None:
        if self._thread is None:
            self._wake.set()  # runs left unindexed by an earlier process
            self._thread = threading.Thread(target=self._loop, name="attune-index", daemon=True)
            self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(300)
            self._wake.clear()
            try:
                self.run_pending()
            except Exception:
                logger.exception("indexing run output failed; will retry later")

    def run_pending(self) -> None:
        """Index every finished, unindexed run (pausing while a run is live).

        A run whose output cannot be read (a damaged page) is skipped for the life of this
        process, so it never holds up the runs after it.
        """
        for run_id in self.store.unindexed_finished_runs():
            if run_id in self._unreadable:
                continue
            while not self._stop.is_set():
                if self.is_busy():
                    self._stop.wait(self.pause_s)
                    continue
                try:
                    if self.store.index_run_batch(run_id):
                        break
                except sqlite3.DatabaseError as exc:
                    if not is_damage(exc):
                        raise
                    self._unreadable.add(run_id)
                    logger.warning("run %d cannot be indexed (%s); skipped", run_id, describe(exc))
                    break

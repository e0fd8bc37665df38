"""Stored chunks already encoded as SSE frames, shared by every reader replaying a run."""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

__all__ = ["REPLAY_CACHE_BYTES", "ReplayCache"]

REPLAY_CACHE_BYTES = 8 * 1024 * 1024


class ReplayCache:
    """Encoded frames of whole stored chunks, shared by readers replaying the same run.

    Keyed by ``(run id, chunk id)``: run ids are never reused, so a key never names other text.

    Thread-safe (replays read in worker threads) and bounded in bytes (least recently used
    frames go first).
    """

    def __init__(self, max_bytes: int = REPLAY_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._frames: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        # Replays are CPU work under the GIL: two threads are as fast as many, and lighter.
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="attune-replay")

    def get(self, key: tuple[int, int]) -> bytes | None:
        with self._lock:
            data = self._frames.get(key)
            if data is not None:
                self._frames.move_to_end(key)
            return data

    def put(self, key: tuple[int, int], data: bytes) -> None:
        if len(data) > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._frames:
                return
            self._frames[key] = data
            self._size += len(data)
            while self._size > self.max_bytes:
                self._size -= len(self._frames.popitem(last=False)[1])

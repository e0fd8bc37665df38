"""How one run's process reaches its live readers, without knowing who they are.

The pump thread of :class:`~attune.ops.runs.process.RunProcess` hands each committed batch to
its :class:`LiveChannel`; the channel encodes it once and passes the frame to the
:class:`~attune.ops.runs.live.StreamHub` on the event loop's thread. A run started without an
event loop (a script, the CLI) gets a channel that is not live: its output is only stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from attune.ops.runs.live import Frame, StreamHub, encode_done, encode_recommendation
from attune.ops.store.runs import Run

__all__ = ["LiveChannel"]


class LiveChannel:
    """One run's live channel: lines, recommendations and the final ``done``."""

    def __init__(self, hub: StreamHub, run_id: int, loop: asyncio.AbstractEventLoop | None) -> None:
        self._hub = hub
        self._run_id = run_id
        self._loop = loop

    @classmethod
    def open(
        cls, hub: StreamHub, run_id: int, loop: asyncio.AbstractEventLoop | None = None
    ) -> LiveChannel:
        """A channel on ``loop`` (default: this thread's running loop), opened in the hub; a
        stored-only one without a loop. Safe from a worker thread: the hub is opened on its
        loop, before any frame of the run reaches it."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = loop or running
        if loop is None:
            return cls(hub, run_id, None)
        if loop is running:
            hub.open(run_id)
        else:
            loop.call_soon_threadsafe(hub.open, run_id)
        return cls(hub, run_id, loop)

    @property
    def live(self) -> bool:
        return self._loop is not None

    def lines(self, first: int, lines: Sequence[str]) -> None:
        if self.live:
            self._send(self._hub.publish, Frame.of_lines(first, lines, time.time()))

    def recommendation(self, index: int, payload: dict[str, Any]) -> None:
        if self.live:
            frame = Frame("recommendation", encode_recommendation(payload), index=index)
            self._send(self._hub.publish, frame)

    def done(self, run: Run) -> None:
        """The run ended: every reader gets ``done`` and the hub forgets the run."""
        if self.live:
            self._send(self._hub.close, Frame("done", encode_done(run)))

    def _send(self, target: Callable[[int, Frame], None], frame: Frame) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between
            loop.call_soon_threadsafe(target, self._run_id, frame)

"""Reading many transcripts at once: worker processes parse them, the caller writes.

A cold ingest (hundreds of megabytes of transcripts) spends most of its time finding and
decoding usage lines, which needs no store: :func:`read_in_order` hands each file to a worker
process (a fresh ``python``: nothing of the caller's threads or connections is inherited) and
gives the results back in the caller's order, so the one writer commits what a serial pass
would, in the same order. A worker reopens the file itself and gives up (``None``: the caller
reads that file itself) when it is not the file planned — another device or inode, truncated,
rewritten — or cannot be read now; so does a worker that fails or dies. A task goes down a
worker's stdin; its answer is pickled into the worker's own unlinked temporary file and
announced on its stdout, so a worker never waits for the writer and the writer needs no
thread (threads would fight the writer for the GIL). Files over :data:`FILE_MAX` bytes are
read by the caller in bounded chunks, and at most :data:`IN_FLIGHT_BYTES` of files are handed
out ahead of the writer, so memory stays bounded whatever the corpus. Small passes (under
:data:`POOL_MIN_BYTES`, or one processor) start no worker.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

from attune.ops.spend.usage.reader import (
    Chunk,
    Unreadable,
    ends_a_line,
    open_transcript,
    read_chunks,
)
from attune.ops.store.usage_rows import MessageRow

__all__ = [
    "FILE_MAX",
    "IN_FLIGHT_BYTES",
    "POOL_MIN_BYTES",
    "FileRead",
    "ReadTask",
    "gc_paused",
    "read_file",
    "read_in_order",
    "serve",
    "worker_count",
]

logger = logging.getLogger(__name__)

POOL_MIN_BYTES = 32 << 20  # below this a pass reads alone: starting workers costs ~0.1 s
FILE_MAX = 16 << 20  # a bigger file is read by the caller, a chunk at a time
# Files handed out ahead of the writer: enough for the workers to read on while it commits a
# batch; their rows are a small part of their bytes (usage only), ~15 MB for 128 MiB here.
IN_FLIGHT_BYTES = 128 << 20
IN_FLIGHT_FILES = 64
MAX_WORKERS = 4
_SERVE = "from attune.ops.spend.usage.pool import serve; serve"
CLOSE_TIMEOUT_S = 5.0  # for every worker to exit once its input is closed
ANSWER_TIMEOUT_S = 120.0  # one file (≤ FILE_MAX bytes) takes well under a second

J = TypeVar("J")


@dataclass(frozen=True)
class ReadTask:
    """A file to read from ``offset`` on, if it is still the one on ``dev`` and ``inode``."""

    path: str
    dev: int
    inode: int
    offset: int
    session_hint: str
    size: int  # bytes to read when planned (for the in-flight bound)


@dataclass(frozen=True)
class FileRead:
    """What a worker read of one file: its chunks and the ``fstat`` it read them under."""

    size: int
    mtime_ns: int
    chunks: list[Chunk]


def worker_count() -> int:
    """Worker processes for a big pass: one per processor this process may run on (≤ 4);
    0 on a single processor, where a pool would only add its start-up."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return min(cpus, MAX_WORKERS) if cpus > 1 else 0


def read_file(task: ReadTask) -> FileRead | None:
    """Every chunk of ``task``'s file from its offset (in a worker); ``None`` when the file
    is not the one planned or cannot be read now (the caller then reads it itself)."""
    try:
        fd, info = open_transcript(task.path)
    except Unreadable:
        return None
    try:
        same = (info.st_dev, info.st_ino) == (task.dev, task.inode)
        if not same or info.st_size < task.offset or not ends_a_line(fd, task.offset):
            return None  # rewritten since it was planned
        chunks = list(read_chunks(fd, task.offset, task.session_hint))
        return FileRead(info.st_size, info.st_mtime_ns, chunks)
    finally:
        os.close(fd)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a big pass holds tens of thousands of rows
    (each collection walks them all: ~5% of a cold ingest, measured), back on after; nested
    and concurrent uses count, so the last one out turns it back on."""
    with _GC_LOCK:
        global _gc_pauses
        if _gc_pauses == 0:
            _GC_STATE[0] = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _GC_STATE[0]:
                gc.enable()


_GC_LOCK = threading.Lock()
_GC_STATE = [True]
_gc_pauses = 0


def read_in_order(
    jobs: Iterable[J],
    task_of: Callable[[J], ReadTask | None],
    workers: int,
    meanwhile: Callable[[], object] = lambda: None,
) -> Iterator[tuple[J, FileRead | None]]:
    """``(job, what a worker read)`` for each job, in order; ``None`` for a job the caller
    reads itself (``task_of`` gave no task, the file was too big, or the worker gave up).

    Jobs are drawn lazily, so planning the next files overlaps the workers' reading;
    ``meanwhile`` runs once, before the first wait for a worker (while they start and read)."""
    pool = _Workers(workers)
    window: deque[tuple[J, _Worker | None, int]] = deque()
    in_flight = 0
    waited = False
    try:
        for job in jobs:
            task = task_of(job)
            worker = None if task is None or task.size > FILE_MAX else pool.submit(task)
            size = task.size if worker is not None and task is not None else 0
            window.append((job, worker, size))
            in_flight += size
            full = in_flight > IN_FLIGHT_BYTES or len(window) > IN_FLIGHT_FILES
            if full and not waited:
                waited = True
                meanwhile()
            while window and (in_flight > IN_FLIGHT_BYTES or len(window) > IN_FLIGHT_FILES):
                job_done, read, size = _take(window)
                in_flight -= size
                yield job_done, read
        if not waited:
            meanwhile()
        while window:
            job_done, read, _ = _take(window)
            yield job_done, read
    finally:
        pool.close()


def _take(window: deque[tuple[J, _Worker | None, int]]) -> tuple[J, FileRead | None, int]:
    job, worker, size = window.popleft()
    return job, None if worker is None else worker.result(), size


class _Worker:
    """One worker process: tasks go down its stdin, each answer is written to a temporary
    file of its own and announced on its stdout (offset and length), so a worker never waits
    for the caller to read, and the caller needs no thread to read for it."""

    def __init__(self) -> None:
        self.results = tempfile.TemporaryFile(prefix="attune-usage-")  # noqa: SIM115
        package = Path(__file__).resolve().parents[4]  # the folder holding attune/
        path = os.pathsep.join([str(package), os.environ.get("PYTHONPATH", "")])
        fd = self.results.fileno()
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    # os._exit: nothing left to flush, and tearing down the interpreter (every
                    # row it made) would only keep the writer waiting at the end of the pass
                    f"from attune.ops.spend.usage.pool import serve; serve({fd}); "
                    "import os; os._exit(0)",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,  # unbuffered: ``select`` tells whether an answer is there
                env=_child_env(path.rstrip(os.pathsep)),
                pass_fds=(fd,),
            )
        except BaseException:
            self.results.close()
            raise
        self.queued = 0  # bytes handed out and not yet taken
        self.waiting: deque[int] = deque()  # their sizes, in order
        self.dead = False

    def send(self, task: ReadTask) -> None:
        assert self.proc.stdin is not None
        try:
            _send(self.proc.stdin, task)
        except OSError:
            self.dead = True
        self.queued += task.size
        self.waiting.append(task.size)

    def result(self) -> FileRead | None:
        """The answer to the oldest task sent (``None`` when the worker died or failed)."""
        self.queued -= self.waiting.popleft()
        assert self.proc.stdout is not None
        if self.dead:
            return None
        try:
            if not select.select([self.proc.stdout], [], [], ANSWER_TIMEOUT_S)[0]:
                self.proc.kill()  # stuck: the rest of its files are read by the caller
                raise EOFError(f"no answer in {ANSWER_TIMEOUT_S:.0f} s")
            offset, size = _NOTICE.unpack(_exactly(self.proc.stdout, _NOTICE.size))
            data = os.pread(self.results.fileno(), size, offset)
            read = _unwire(pickle.loads(data))  # noqa: S301 - our own child's answer
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            logger.warning("usage: a reader process failed (%s); reading here", exc)
            self.dead = True
            return None
        return read

    def stop(self) -> None:
        """Close its input: it exits once done with what it was given."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def close(self, deadline: float) -> None:
        """Wait for it to exit (its stdout ends as it does), killing it at ``deadline``
        (monotonic): no polling, where ``Popen.wait(timeout)`` sleeps in steps of up to 50 ms."""
        self.stop()
        out = self.proc.stdout
        try:
            while out is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([out], [], [], left)[0]:
                    self.proc.kill()
                    break
                if not out.read(65536):  # end of file: the process has exited or is exiting
                    break
        except (OSError, ValueError):
            self.proc.kill()
        self.proc.wait()
        if out is not None:
            out.close()
        self.results.close()


def _child_env(python_path: str) -> dict[str, str]:
    """A reader's environment: where Python finds attune and the locale, nothing else (no
    key or token of the caller's environment reaches a child that only reads files)."""
    kept = {k: v for k, v in os.environ.items() if k in _KEPT_ENV or k.startswith("LC_")}
    return {**kept, **_MALLOC_ENV, "PYTHONPATH": python_path}


# glibc's malloc, told to keep what a reader frees: by default each 1 MiB block read is mapped
# and unmapped again (or trimmed off the heap), 70,000 page faults and a fifth of a reader's
# time in the kernel for this corpus (measured); a reader lives one pass, so keeping is free.
_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}
_KEPT_ENV = frozenset({"PATH", "LANG", "TMPDIR", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE"})


class _Workers:
    """Worker processes; a task goes to the one with the fewest bytes still to read.

    Plain ``python -c`` children, not ``multiprocessing``: its ``spawn`` runs the caller's
    main script again in every child, and ``fork`` would copy the caller's threads' locks."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.workers: list[_Worker] = []

    def submit(self, task: ReadTask) -> _Worker | None:
        if len(self.workers) < self.count:
            try:
                self.workers.append(_Worker())
            except OSError as exc:
                logger.warning("usage: cannot start a reader process (%s); reading here", exc)
                self.count = len(self.workers)
        live = [w for w in self.workers if not w.dead]
        if not live:
            return None
        worker = min(live, key=lambda w: w.queued)
        worker.send(task)
        return worker

    def close(self) -> None:
        """Stop every worker (its input closed: it exits) and wait for them, bounded."""
        for worker in self.workers:
            worker.stop()  # all at once: their exits overlap
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        for worker in self.workers:
            worker.close(deadline)


def serve(results_fd: int) -> None:
    """A worker's loop: a :class:`ReadTask` in on stdin, its :func:`read_file` pickled onto
    ``results_fd`` and announced on stdout, until stdin closes."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    offset = 0
    gc.disable()  # a reader makes no cycles; collecting its rows again and again is waste
    while True:
        try:
            (size,) = _SIZE.unpack(_exactly(source, _SIZE.size))
            task = pickle.loads(_exactly(source, size))  # noqa: S301 - from our own parent
        except EOFError:
            return
        data = pickle.dumps(_wire(read_file(task)), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.pwrite(results_fd, view, offset + len(data) - len(view)) :]
        sink.write(_NOTICE.pack(offset, len(data)))
        sink.flush()
        offset += len(data)


# A FileRead travels as plain tuples (rows too): pickle makes and reads those in C, where a
# named tuple costs a Python call each way (measured: 0.19 s for this corpus's 39k rows).
_Wire = (
    tuple[int, int, list[tuple[int, int, str | None, int, list[tuple[str | int | None, ...]]]]]
    | None
)


def _wire(read: FileRead | None) -> _Wire:
    if read is None:
        return None
    chunks = [
        (c.offset, c.skipped, c.last_skip, c.lines, [tuple(r) for r in c.rows]) for c in read.chunks
    ]
    return read.size, read.mtime_ns, chunks


def _unwire(wire: _Wire) -> FileRead | None:
    if wire is None:
        return None
    size, mtime_ns, chunks = wire
    new = tuple.__new__  # a MessageRow from its fields, without the named tuple's Python call
    return FileRead(
        size,
        mtime_ns,
        [
            Chunk(offset, [new(MessageRow, r) for r in rows], lines, skipped, last_skip)
            for offset, skipped, last_skip, lines, rows in chunks
        ],
    )


_SIZE = struct.Struct("<Q")
_NOTICE = struct.Struct("<QQ")


def _send(pipe: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_SIZE.pack(len(data)) + data)
    while view:
        view = view[pipe.write(view) or 0 :]
    pipe.flush()


def _exactly(pipe: IO[bytes], size: int) -> bytes:
    """``size`` bytes from ``pipe`` (raw pipes may give fewer at a time); EOFError if it ends."""
    parts, left = [], size
    while left:
        part = pipe.read(left)
        if not part:
            raise EOFError("the other end closed")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)

"""After a crash: runs a dead dashboard left ``running`` become ``interrupted``, and what is
left of their processes is ended — but only what provably belongs to them.

A process group is ended only when one of its processes carries the run's
``ATTUNE_RUN_ID`` in its environment (read from ``/proc``). Where that cannot be checked (no
``/proc``, as on macOS), the group is left alone: its id may have been reused by a stranger.

On a team store (PostgreSQL, shared by several machines) a dashboard judges only the runs of
its own machine (:func:`runs_here`: the run's machine id, store/run_origin.py — a host name
alone is no identity; a run recorded before ids were kept is judged by its host name): a
server pid means nothing on another machine, so another machine's run is never marked
``interrupted`` here because that pid is absent. A dashboard killed mid-run (``kill -9``, a
power cut) therefore leaves its run ``running`` until a dashboard of *that* machine (any home)
starts again and marks it ``interrupted``; every other dashboard then sees it end (its live
stream gets ``done``). There is no lease that expires on its own: every running run would have
to write a heartbeat every few seconds to the shared database, and a laptop asleep or a
network cut longer than the lease would end the history of a run that is still going (its
later lines arriving after ``interrupted``). A machine that never comes back leaves its run
``running``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from attune.ops.runs.output import kill_group
from attune.ops.runs.process import INTERRUPTED_NOTE
from attune.ops.store.database import Store
from attune.ops.store.run_origin import runs_here
from attune.ops.store.runs import Run

__all__ = ["recover_runs"]

PROC = Path("/proc")


def recover_runs(store: Store, proc: Path = PROC) -> list[Run]:
    """Mark runs of dead servers ``interrupted``; kill their leftover process groups."""
    left = store.mark_interrupted(INTERRUPTED_NOTE, _server_gone)
    for run in left:
        if not run.pid:
            continue
        belongs = _group_belongs_to(run.pid, run.id, proc)
        if belongs is None:
            store.append_note(
                run.id,
                f"[attune] left process group {run.pid} alone: this system cannot tell "
                "whether it still belongs to the run",
            )
        elif belongs and kill_group(run.pid, 0):
            kill_group(run.pid, signal.SIGKILL)
            store.append_note(run.id, f"[attune] killed the run's leftover process group {run.pid}")
    return left


def _server_gone(run: Run) -> bool:
    """True unless the server that started ``run`` is another live process, or ``run`` is
    another machine's (never judged here: its server pid means nothing on this one)."""
    if not runs_here(run):
        return False
    pid = run.server_pid
    if not pid or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _group_belongs_to(pgid: int, run_id: int, proc: Path) -> bool | None:
    """Whether a process of group ``pgid`` carries ``ATTUNE_RUN_ID=run_id`` (not a reused
    pid); ``None`` when there is no ``proc`` to ask."""
    marker = f"ATTUNE_RUN_ID={run_id}".encode()
    if not proc.is_dir():
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                return True
        except (OSError, ValueError, IndexError):
            continue
    return False

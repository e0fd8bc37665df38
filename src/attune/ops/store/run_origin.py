"""Who started a run and where: the host and user recorded on every run (a team shares one store).

``ATTUNE_HOST`` names this machine when its host name says nothing (a container's random name,
or two dashboards of one machine that should count as two in tests); ``ATTUNE_USER`` the same
for the user. The same migration gives Claude Code's usage rows their member (``user@host``)
and ``usage_members`` each member's project root, so a team store can tell whose usage is whose.
A folder (``usage_cwds``) is one member's too: the same path on two machines is two folders, so
the roll-ups by folder are per member as well.

A host name is a label, not an identity: two laptops are both ``MacBook-Pro.local``, several
containers share one ``ATTUNE_HOST``. So each run also records ``machine``, an opaque id of the
process space that can signal its processes (``/etc/machine-id``, the pid namespace, and
``ATTUNE_HOST`` when set), and only a dashboard with the same id judges or cancels it
(:func:`runs_here`). It is not part of the run object.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from attune.ops.errors import RunElsewhere

__all__ = [
    "ORIGIN_MIGRATION",
    "Origin",
    "refuse_if_elsewhere",
    "runs_here",
    "this_machine",
    "this_origin",
]

ORIGIN_MIGRATION = """
ALTER TABLE runs ADD COLUMN host TEXT;
ALTER TABLE runs ADD COLUMN username TEXT;
ALTER TABLE runs ADD COLUMN machine TEXT;
CREATE INDEX runs_by_host ON runs (host, id);
CREATE INDEX runs_by_user ON runs (username, id);
ALTER TABLE usage_files ADD COLUMN member TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX usage_files_by_member ON usage_files (member, path);
ALTER TABLE usage_cwds ADD COLUMN member TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX usage_cwds_by_member ON usage_cwds (member, cwd);
CREATE TABLE usage_members (
    member TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Origin:
    """A machine and the user on it."""

    host: str
    user: str

    @property
    def member(self) -> str:
        """``user@host``: how a teammate is named in the team's usage."""
        return f"{self.user}@{self.host}"


@cache
def _default_origin() -> Origin:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (some containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return Origin(socket.gethostname() or "localhost", user)


def this_origin() -> Origin:
    """This machine and user (``ATTUNE_HOST`` / ``ATTUNE_USER`` override them)."""
    found = _default_origin()
    host = os.environ.get("ATTUNE_HOST", "").strip() or found.host
    user = os.environ.get("ATTUNE_USER", "").strip() or found.user
    return Origin(host[:200], user[:200])


@cache
def _machine_parts() -> tuple[str, str]:
    """``/etc/machine-id`` (else the host name) and the pid namespace (``""`` without /proc)."""
    machine = ""
    for path in (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")):
        try:
            machine = path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            continue
        if machine:
            break
    try:
        namespace = str(Path("/proc/self/ns/pid").stat().st_ino)
    except OSError:
        namespace = ""
    return machine or socket.gethostname(), namespace


def this_machine() -> str:
    """An opaque id of the processes this one can signal: the same for every dashboard and
    command of this machine (and container), different elsewhere; ``ATTUNE_HOST`` is part of it."""
    machine, namespace = _machine_parts()
    label = os.environ.get("ATTUNE_HOST", "").strip()
    digest = hashlib.sha256(f"{machine}\0{namespace}\0{label}".encode()).hexdigest()
    return digest[:16]


class _Placed(Protocol):
    @property
    def host(self) -> str | None: ...

    @property
    def machine(self) -> str | None: ...


class _Owned(_Placed, Protocol):
    @property
    def id(self) -> int: ...

    @property
    def user(self) -> str | None: ...


def runs_here(run: _Placed) -> bool:
    """Whether ``run``'s processes live where this process does (so it may judge or cancel it):
    the same machine id; a run recorded before ids were kept, by its host name."""
    if run.machine:
        return run.machine == this_machine()
    return run.host in (None, this_origin().host)


def refuse_if_elsewhere(run: _Owned) -> None:
    """Raise ``RunElsewhere`` naming the host when ``run``'s processes live on another machine:
    only that machine can cancel it (the dashboard's cancel and ``attune runs cancel``)."""
    if runs_here(run):
        return
    here = this_origin().host
    raise RunElsewhere(
        f"run {run.id} runs on host {run.host} (started by {run.user or 'someone'}), not on this "
        f"one ({here}): only the machine that runs its process can cancel it — cancel it from "
        "that machine's dashboard or terminal",
        run_id=run.id,
        host=run.host,
    )

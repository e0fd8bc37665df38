"""Who started a run and where: the host and user recorded on every run (a team shares one store).

``ATTUNE_HOST`` names this machine when its host name says nothing (a container's random name,
or two dashboards of one machine that should count as two in tests); ``ATTUNE_USER`` the same
for the user. The same migration gives Claude Code's usage rows their member (``user@host``)
and ``usage_members`` each member's project root, so a team store can tell whose usage is whose.
A folder (``usage_cwds``) is one member's too: the same path on two machines is two folders, so
the roll-ups by folder are per member as well.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from functools import cache

__all__ = ["ORIGIN_MIGRATION", "Origin", "this_origin"]

ORIGIN_MIGRATION = """
ALTER TABLE runs ADD COLUMN host TEXT;
ALTER TABLE runs ADD COLUMN username TEXT;
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

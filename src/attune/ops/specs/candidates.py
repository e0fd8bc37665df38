"""Completion candidates: specs whose tasks are all done but whose status does not say so.

A spec is a candidate when it has at least one required task, every required task is done, its
status is not closed (complete, superseded, archived — "completed", "done", "shipped" normalise
to complete), it is not in an archive folder, and it was not dismissed for the same evidence.
The evidence (task counts, status, the files' mtimes) is hashed into ``snapshot_hash``; a dismissal
is stored with that hash, so the candidate comes back as soon as anything in it changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from attune.ops.config import Config
from attune.ops.errors import AttuneError
from attune.ops.specs.index import SpecIndex
from attune.ops.specs.listing import Spec
from attune.ops.specs.status import CLOSED_STATUSES
from attune.ops.store.database import Store
from attune.ops.store.open import open_store

__all__ = ["CompletionCandidate", "candidates_off_reason", "detect_candidates", "snapshot_hash"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompletionCandidate:
    """A spec that looks finished but is not closed, with the evidence for it."""

    name: str
    path: str
    root: str
    status: str
    status_raw: str | None
    tasks_done: int
    tasks_total: int
    evidence: tuple[str, ...]
    snapshot_hash: str

    def to_json(self) -> dict[str, object]:
        """The candidate as ``GET /api/specs/candidates`` shows it."""
        return {
            "name": self.name,
            "path": self.path,
            "root": self.root,
            "status": self.status,
            "status_raw": self.status_raw,
            "tasks_done": self.tasks_done,
            "tasks_total": self.tasks_total,
            "evidence": list(self.evidence),
            "snapshot_hash": self.snapshot_hash,
        }


def snapshot_hash(spec: Spec) -> str:
    """A hash of the evidence: task counts, status and every phase file's mtime."""
    tasks = spec.tasks
    evidence = {
        "tasks": [tasks.total, tasks.done, tasks.optional_total, tasks.optional_done],
        "status": spec.reading.status_raw,
        "files": sorted((s.filename, s.mtime_ns) for s in spec.stats),
    }
    blob = json.dumps(evidence, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _ago(when: datetime, now: datetime) -> str:
    seconds = max(0.0, (now - when).total_seconds())
    days = int(seconds // 86400)
    if days >= 1:
        return f"last change {days} day{'s' if days != 1 else ''} ago"
    hours = int(seconds // 3600)
    if hours >= 1:
        return f"last change {hours} hour{'s' if hours != 1 else ''} ago"
    minutes = int(seconds // 60)
    if minutes >= 1:
        return f"last change {minutes} minute{'s' if minutes != 1 else ''} ago"
    return "last change just now"


def evidence_for(
    spec: Spec, now: datetime | None = None, *, changed: datetime | None = None
) -> tuple[str, ...]:
    """Human evidence strings, e.g. ``("12/12 tasks done", "status: in-progress", …)``.

    ``changed`` is the spec's last change as the listing knows it (git's, where it can say);
    the files' newest mtime when not given.
    """
    tasks = spec.tasks
    lines = [f"{tasks.done}/{tasks.total} {'task' if tasks.total == 1 else 'tasks'} done"]
    optional_open = tasks.optional_total - tasks.optional_done
    if optional_open:
        lines.append(f"{optional_open} optional task{'s' if optional_open != 1 else ''} open")
    raw = spec.reading.status_raw
    if raw is None:
        lines.append("no status written")
    elif raw.strip().lower() == spec.status.value:
        lines.append(f"status: {spec.status.value}")
    else:
        lines.append(f'status: {spec.status.value} ("{raw}")')
    changed = changed or spec.last_modified
    if changed is not None:
        lines.append(_ago(changed, now or datetime.now(UTC)))
    return tuple(lines)


def is_candidate(spec: Spec) -> bool:
    """All required tasks done (at least one), status not closed, not archived."""
    return (
        not spec.archived
        and spec.reading.tasks_readable
        and spec.tasks.all_done
        and spec.status not in CLOSED_STATUSES
    )


def candidates_off_reason(config: Config) -> str | None:
    """Why detection yields nothing by configuration, or ``None`` when it is on and has roots."""
    if not config.specs_candidates_enabled:
        return (
            "Completion candidates are turned off "
            "(the server was started with --no-specs-candidates)."
        )
    if not config.specs_roots:
        return (
            "No specs folder was found: looked for docs/specs, .kiro/specs and specs in "
            f"{config.project_root}. Start with --specs-root DIR to point at one."
        )
    if not any(root.is_dir() for root in config.specs_roots):
        shown = ", ".join(str(root) for root in config.specs_roots)
        return f"None of the specs roots exists: {shown}."
    return None


def _read_dismissals(config: Config) -> dict[str, str]:
    """Dismissals straight from the database, read-only (no store, no migration, no writes);
    a team's PostgreSQL store is opened and read (its dismissals are the team's)."""
    if config.database_url:
        try:
            store = open_store(config.db_path, config.database_url, integrity_budget_s=0)
        except AttuneError as exc:  # the message already masks the URL's password
            logger.warning("cannot read spec dismissals: %s", exc)
            return {}
        try:
            return store.dismissed_hashes()
        except AttuneError as exc:
            logger.warning("cannot read spec dismissals: %s", exc)
            return {}
        finally:
            store.close()
    if not config.db_path.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"file:{config.db_path}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute("SELECT path, snapshot_hash FROM spec_dismissals").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        logger.warning("cannot read spec dismissals from %s: %s", config.db_path, exc)
        return {}
    return {str(path): str(digest) for path, digest in rows}


def detect_candidates(
    config: Config, *, index: SpecIndex | None = None, store: Store | None = None
) -> list[CompletionCandidate]:
    """Completion candidates under ``config.specs_roots``, dismissed ones left out.

    ``[]`` (never an exception) when detection is off or there are no roots. Works without an
    app: without ``index`` it scans the roots once; without ``store`` it reads dismissals from
    ``config.db_path`` read-only. Example: ``detect_candidates(build_config("."))``.
    """
    if candidates_off_reason(config) is not None:
        return []
    listing = (index or SpecIndex(config)).listing()
    dismissed = store.dismissed_hashes() if store is not None else _read_dismissals(config)
    now = datetime.now(UTC)
    found: list[CompletionCandidate] = []
    for spec in listing.specs:
        if not is_candidate(spec):
            continue
        digest = snapshot_hash(spec)
        if dismissed.get(spec.path) == digest:
            continue
        found.append(
            CompletionCandidate(
                name=spec.name,
                path=spec.path,
                root=spec.root,
                status=spec.status.value,
                status_raw=spec.reading.status_raw,
                tasks_done=spec.tasks.done,
                tasks_total=spec.tasks.total,
                evidence=evidence_for(spec, now, changed=listing.last_change(spec).when),
                snapshot_hash=digest,
            )
        )
    return found

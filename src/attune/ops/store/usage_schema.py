"""The SQL of the Claude Code usage tables (a numbered migration of ``store/database.py``).

Kept apart so ``database.py`` stays small and this module imports nothing: ``database.py``
appends :data:`USAGE_MIGRATION` to ``MIGRATIONS`` and ``store/usage.py`` reads and writes the
tables. Only usage is stored, never a word of a transcript's content.
"""

from __future__ import annotations

__all__ = ["USAGE_MIGRATION"]

# usage_files: every transcript seen, remembered by device, inode, size and the byte offset of
#   the first line not yet read; ``skipped`` counts the lines of it that could not be used.
# usage_messages: one row per API response (dedup key = message.id, else requestId, else
#   uuid), each token field the largest any of its lines carried; cost in pico-dollars
#   (10^-12 USD, exact for every published per-token price), NULL when the model has no price;
#   saved_pusd is what its cache reads would have cost as plain input, less what they cost.
# usage_daily / usage_sessions: roll-ups recomputed for the keys a write touched, so a report
#   reads a few thousand rows instead of every message.
USAGE_MIGRATION = """
CREATE TABLE usage_files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    project_dir TEXT NOT NULL,
    dev INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    size INTEGER NOT NULL,
    read_offset INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    skipped INTEGER NOT NULL DEFAULT 0,
    last_skip TEXT,
    gone INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE TABLE usage_cwds (
    id INTEGER PRIMARY KEY,
    cwd TEXT NOT NULL UNIQUE
);
CREATE TABLE usage_messages (
    key TEXT PRIMARY KEY,
    request_id TEXT,
    ts INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    cwd_id INTEGER NOT NULL,
    file_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    git_branch TEXT,
    version TEXT,
    sidechain INTEGER NOT NULL,
    speed TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_creation_tokens INTEGER NOT NULL,
    cache_5m_tokens INTEGER,
    cache_1h_tokens INTEGER,
    cache_read_tokens INTEGER NOT NULL,
    web_searches INTEGER NOT NULL,
    cost_pusd INTEGER,
    saved_pusd INTEGER NOT NULL,
    priced_with TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX usage_messages_by_ts ON usage_messages (ts);
CREATE INDEX usage_messages_by_session ON usage_messages (session_id, cwd_id, ts);
CREATE TABLE usage_daily (
    day INTEGER NOT NULL,
    cwd_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    messages INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_creation_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cost_pusd INTEGER NOT NULL,
    unpriced INTEGER NOT NULL,
    fast INTEGER NOT NULL,
    saved_pusd INTEGER NOT NULL,
    PRIMARY KEY (day, cwd_id, model)
) WITHOUT ROWID;
CREATE TABLE usage_sessions (
    session_id TEXT NOT NULL,
    cwd_id INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    active_ms INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_creation_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cost_pusd INTEGER NOT NULL,
    unpriced INTEGER NOT NULL,
    git_branch TEXT,
    version TEXT,
    PRIMARY KEY (session_id, cwd_id)
) WITHOUT ROWID;
CREATE INDEX usage_sessions_by_last ON usage_sessions (last_ts);
"""

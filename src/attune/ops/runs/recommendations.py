"""``ATTUNE_REC`` recommendations: what a workflow may suggest, checked before anyone sees it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from attune.ops.errors import AttuneError
from attune.ops.runs.scope import normalize_rel, resolve_scope

__all__ = ["validate_recommendation"]


def validate_recommendation(
    payload: Any, workflows: frozenset[str], root: Path
) -> dict[str, Any] | None:
    """A recommendation in its canonical form (DESIGN §7), or ``None`` when invalid.

    ``next-workflow``: ``{"kind", "workflow", "path"}``; ``open-url``: ``{"kind", "url"}``;
    both with an optional ``title`` (or ``label``) and ``reason``.
    """
    if not isinstance(payload, dict):
        return None
    extra = _texts(payload)
    kind = payload.get("kind")
    if kind == "next-workflow":
        name, path = payload.get("workflow"), payload.get("path")
        if not isinstance(name, str) or name not in workflows:
            return None
        if path is not None:
            if not isinstance(path, str):
                return None
            try:
                resolve_scope(root, path)
                path = normalize_rel(path) or None
            except AttuneError:
                return None
        return {"kind": kind, "workflow": name, "path": path, **extra}
    if kind == "open-url":
        url = payload.get("url")
        if not isinstance(url, str) or len(url) > 2048:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        return {"kind": kind, "url": url, **extra}
    return None


def _texts(payload: dict[str, Any]) -> dict[str, str]:
    """The optional ``title`` (alias ``label``) and ``reason`` of a recommendation, trimmed."""
    out: dict[str, str] = {}
    for key, aliases, limit in (("title", ("title", "label"), 200), ("reason", ("reason",), 500)):
        for alias in aliases:
            value = payload.get(alias)
            if isinstance(value, str) and value.strip():
                out[key] = value.strip()[:limit]
                break
    return out

"""The documented home of ``create_app`` (DESIGN §3): a face over :mod:`attune.ops.web.app`.

Importing it costs nothing heavy: FastAPI is imported only when ``create_app`` runs.
"""

from __future__ import annotations

from attune.ops.web.app import WebStackMissing, create_app

__all__ = ["WebStackMissing", "create_app"]

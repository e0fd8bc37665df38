"""The documented home of the spend API (DESIGN §3, §6): a face over :mod:`attune.ops.spend`.

The real code lives in ``spend/client.py`` (``fetch_summary``, the error kinds) and
``spend/admin_key.py`` (``load_admin_key``); this module only re-exports it for users and scripts.
"""

from __future__ import annotations

from attune.ops.spend.admin_key import KEY_ENV, KEY_FILE_NAME, key_file_path, load_admin_key
from attune.ops.spend.client import (
    DEFAULT_BASE_URL,
    DEFAULT_CACHE_TTL_SECONDS,
    CostFetchError,
    CostFetchErrorKind,
    fetch_live,
    fetch_summary,
)
from attune.ops.spend.report import CostSource, CostSummary

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CACHE_TTL_SECONDS",
    "KEY_ENV",
    "KEY_FILE_NAME",
    "CostFetchError",
    "CostFetchErrorKind",
    "CostSource",
    "CostSummary",
    "fetch_live",
    "fetch_summary",
    "key_file_path",
    "load_admin_key",
]

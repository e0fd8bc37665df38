"""``attune ops setup-billing``: store (or remove) the Anthropic admin key for the spend panel.

The key is read without echo from a terminal (or one line from stdin when piped), checked with
one cost report request, and written to ``<attune_home>/anthropic-admin.env`` with mode 0600 —
the file is created 0600 from the start and moved into place atomically. The key is never
printed, logged or put in a message.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from pathlib import Path

from attune.ops.cli.main import run_command
from attune.ops.config import build_config
from attune.ops.spend.admin_key import (
    ADMIN_KEY_PREFIX,
    KEY_ENV,
    key_file_path,
    remove_key_file,
    write_key_file,
)
from attune.ops.spend.cache import cache_path, write_cache
from attune.ops.spend.client import CostFetchErrorKind, fetch_live
from attune.ops.web.charts import format_usd

__all__ = ["check_key_shape", "cmd_setup_billing"]

PROMPT = "Anthropic admin key (sk-ant-admin…; input hidden): "


def cmd_setup_billing(args: argparse.Namespace) -> int:
    """Store the Anthropic admin key, checked with one request; ``--remove`` deletes it.

    Examples: ``attune ops setup-billing`` (asks without echo),
    ``pass show anthropic/admin | attune ops setup-billing``, ``attune ops setup-billing --remove``.
    Exit codes: 0 stored (or removed), 1 the API rejected the key, 2 no usable key was given.
    """
    return run_command("ops setup-billing", lambda: _setup_billing(args))


def _setup_billing(args: argparse.Namespace) -> int:
    home = build_config(getattr(args, "project", None)).attune_home
    if getattr(args, "remove", False):
        return _remove(home)
    key = _read_key()
    if key is None:
        return 2
    problem = check_key_shape(key)
    if problem is not None:
        print(f"attune ops setup-billing: {problem}; nothing was stored.", file=sys.stderr)
        return 2
    if not _check_with_api(key, home):
        return 1
    path = write_key_file(home, key)
    print(f"Stored the admin key in {path} (mode 0600).")
    if os.environ.get(KEY_ENV, "").strip():
        print(f"Note: ${KEY_ENV} is set in this environment and takes precedence over the file.")
    print("Start (or reload) `attune ops` to see the spend panel.")
    return 0


def _read_key() -> str | None:
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            raw = getpass.getpass(PROMPT)
        else:
            raw = sys.stdin.readline() if sys.stdin is not None else ""
    except (EOFError, KeyboardInterrupt):
        print("\nattune ops setup-billing: cancelled; nothing was stored.", file=sys.stderr)
        return None
    key = raw.strip()
    if not key:
        print("attune ops setup-billing: no key given; nothing was stored.", file=sys.stderr)
        return None
    return key


def check_key_shape(key: str) -> str | None:
    """Why ``key`` cannot be an Anthropic admin key, or ``None`` when it looks like one."""
    if key.startswith("sk-ant-api"):
        return (
            "that is an API key, not an admin key: the cost report needs an admin key "
            f"({ADMIN_KEY_PREFIX}…) from the Anthropic Console, Settings → Admin keys"
        )
    if not key.startswith(ADMIN_KEY_PREFIX):
        return (
            f"that does not look like an Anthropic admin key (they start with {ADMIN_KEY_PREFIX})"
        )
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        return "the key contains spaces or characters an admin key never has"
    return None


def _check_with_api(key: str, home: Path) -> bool:
    """One cost report request; say what the API answered. False only when it rejected the key."""
    print("Checking the key with one cost report request…", flush=True)
    summary, error = fetch_live(key)
    if summary is not None:
        write_cache(cache_path(home), summary)
        print(
            f"The Anthropic API answered: ok — {format_usd(summary.thirty_day_usd)} spent in "
            "the last 30 days."
        )
        return True
    assert error is not None
    print(f"The Anthropic API answered: {error.kind}: {error.message}", file=sys.stderr)
    if error.kind == CostFetchErrorKind.AUTH_FAILED:
        print("attune ops setup-billing: the key was not stored.", file=sys.stderr)
        return False
    print("The key could not be verified now; storing it anyway.", file=sys.stderr)
    return True


def _remove(home: Path) -> int:
    path = key_file_path(home)
    if remove_key_file(home):
        print(f"Removed the admin key file {path}.")
    else:
        print(f"No admin key is stored in {path}; nothing to remove.")
    with contextlib.suppress(FileNotFoundError):
        cache_path(home).unlink()
        print("Removed the cached spend figures.")
    if os.environ.get(KEY_ENV, "").strip():
        print(f"Note: ${KEY_ENV} is still set in this environment; unset it to disconnect.")
    return 0

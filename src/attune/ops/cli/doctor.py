"""``attune ops doctor``: print the checks of :mod:`attune.ops.doctor` and exit by the worst."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from attune.ops.cli.main import run_command
from attune.ops.config import Config
from attune.ops.doctor import Check, CheckStatus, run_checks
from attune.ops.errors import ConfigError
from attune.text import plural

__all__ = ["cmd_doctor", "format_checks"]

_MARKS = {CheckStatus.PASS: "PASS", CheckStatus.WARN: "WARN", CheckStatus.FAIL: "FAIL"}
_COLOURS = {
    CheckStatus.PASS: "\x1b[32m",
    CheckStatus.WARN: "\x1b[33m",
    CheckStatus.FAIL: "\x1b[31m",
}


def format_checks(checks: list[Check], *, colour: bool) -> str:
    lines = []
    for check in checks:
        mark = _MARKS[check.status]
        if colour:
            mark = f"{_COLOURS[check.status]}{mark}\x1b[0m"
        lines.append(f"  {mark}  {check.name:<16} {check.summary}")
        if check.fix and check.status is not CheckStatus.PASS:
            first, *more = check.fix.splitlines()
            lines.append(f"        {'':<16} fix: {first}")
            lines.extend(f"{'':<30}{line}" for line in more)  # an example file, under the fix
    fails = sum(c.status is CheckStatus.FAIL for c in checks)
    warns = sum(c.status is CheckStatus.WARN for c in checks)
    verdict = (
        "all good" if not fails and not warns else f"{fails} failed, {plural(warns, 'warning')}"
    )
    lines.append(f"{verdict}.")
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace, build: Callable[[argparse.Namespace], Config]) -> int:
    """Diagnose this setup; exit 0 only when nothing failed.

    Example: ``attune ops doctor --json``.
    """
    return run_command("ops doctor", lambda: _doctor(args, build))


def _doctor(args: argparse.Namespace, build: Callable[[argparse.Namespace], Config]) -> int:
    try:
        config: Config | ConfigError = build(args)
    except ConfigError as exc:
        config = exc
    checks = run_checks(config)
    failed = any(c.status is CheckStatus.FAIL for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [c.to_json() for c in checks]}, indent=2))
    else:
        root = config.project_root if isinstance(config, Config) else "?"
        print(f"attune ops doctor — {root}")
        print(format_checks(checks, colour=sys.stdout.isatty() and "NO_COLOR" not in os.environ))
    return 1 if failed else 0

"""``attune ops doctor``: every diagnosis of DESIGN §4 as pass / warn / fail with the exact fix.

The same checks feed the Health page (``/health``, ``/api/health``); there the listen check
becomes "serving on host:port" since the server is, by definition, bound.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from attune.ops.config import DEFAULT_SPECS_DIRS, Config
from attune.ops.errors import ConfigError
from attune.ops.listen import bind_error_reason, bind_socket, port_holder

__all__ = ["Check", "CheckStatus", "port_holder", "run_checks"]

WEB_MODULES = (
    ("fastapi", "fastapi"),
    ("uvicorn", "uvicorn"),
    ("jinja2", "Jinja2"),
    ("markdown_it", "markdown-it-py"),
)


class CheckStatus(StrEnum):
    PASS = "pass"  # noqa: S105 - a check status, not a password
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One diagnosis: what was looked at, what was found, and the command that fixes it."""

    name: str
    status: CheckStatus
    summary: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "summary": self.summary,
            "fix": self.fix,
        }


def _pass(name: str, summary: str) -> Check:
    return Check(name, CheckStatus.PASS, summary)


def _warn(name: str, summary: str, fix: str | None = None) -> Check:
    return Check(name, CheckStatus.WARN, summary, fix)


def _fail(name: str, summary: str, fix: str | None = None) -> Check:
    return Check(name, CheckStatus.FAIL, summary, fix)


# -- individual checks -------------------------------------------------------------------------


def check_web_extra() -> Check:
    missing = [dist for mod, dist in WEB_MODULES if importlib.util.find_spec(mod) is None]
    if missing:
        return _fail(
            "web extra",
            f"missing: {', '.join(missing)} — the dashboard cannot start",
            "pip install 'attune-ops[ops]'",
        )
    versions = ", ".join(
        f"{dist} {importlib.metadata.version(dist)}" for _, dist in WEB_MODULES[:3]
    )
    return _pass("web extra", f"installed ({versions})")


def check_listen(config: Config) -> Check:
    where = f"{config.host}:{config.port}"
    try:
        bind_socket(config.host, config.port).close()
    except OSError as exc:
        reason = bind_error_reason(exc)
        holder = port_holder(config.port) if config.port else None
        if holder is not None:
            pid, cmd = holder
            reason = f"in use by pid {pid} ({cmd[:120]})"
            if "attune" in cmd and " ops" in cmd:
                return _warn(
                    "listen",
                    f"{where} is in use by a running attune ops (pid {pid})",
                    f"open http://{where}/ — or use another port: "
                    f"attune ops --port {config.port + 1}",
                )
        return _fail("listen", f"cannot listen on {where}: {reason}", _listen_fix(config))
    return _pass("listen", f"{where} can be bound")


def _listen_fix(config: Config) -> str:
    other = config.port + 1 if config.port else 9000
    return f"stop the other server, or run: attune ops --port {other}"


def check_paths(config: Config) -> list[Check]:
    return [
        _pass("project root", f"{config.project_root}"),
        _pass("attune home", f"{config.attune_home} (writable)"),
    ]


def check_admin_key(config: Config) -> tuple[Check, bool]:
    from attune.ops.spend.admin_key import (
        KEY_ENV,
        key_file_path,
        key_file_problem,
        key_from_environment,
        load_admin_key,
    )

    key = load_admin_key(attune_home=config.attune_home)
    if key is None:
        return (
            _warn(
                "admin key",
                "no Anthropic admin key: the spend panel shows how to connect billing",
                "attune ops setup-billing",
            ),
            False,
        )
    source = (
        f"${KEY_ENV}"
        if key_from_environment()
        else str(key_file_path(config.attune_home))
    )
    problem = key_file_problem(config.attune_home)
    if problem:
        path = key_file_path(config.attune_home)
        return _warn("admin key", f"found in {source}, but {problem}", f"chmod 600 {path}"), True
    return _pass("admin key", f"found in {source}"), True


_COST_FIXES = {
    "auth_failed": "create an admin key (sk-ant-admin…) in the Anthropic Console, "
    "then: attune ops setup-billing",
    "rate_limited": "wait a minute and run attune ops doctor again",
    "network": "check the network or $ANTHROPIC_BASE_URL, then run attune ops doctor again",
    "http_error": "retry later; if it persists, check status.anthropic.com",
    "bad_response": "check $ANTHROPIC_BASE_URL points at the Anthropic API",
    "cache_invalid": "delete the cost cache file and run attune ops doctor again",
    "no_key": "attune ops setup-billing",
}


def check_cost(config: Config, *, refresh: bool) -> Check:
    from attune.ops.spend.client import fetch_summary

    summary, error = fetch_summary(refresh=refresh, attune_home=config.attune_home)
    if error is None and summary is not None:
        return _pass(
            "cost report",
            f"fetch_summary() ok ({summary.source}): 30 days ${summary.thirty_day_usd:.2f}, "
            f"today ${summary.today_usd:.2f}",
        )
    assert error is not None
    stale = " (older figures are still shown)" if summary is not None else ""
    return _fail(
        "cost report",
        f"fetch_summary() failed: {error.kind}: {error.message}{stale}",
        _COST_FIXES.get(str(error.kind)),
    )


def check_workflows(config: Config) -> Check:
    from attune.ops.runs.workflows import WorkflowRegistry

    found = WorkflowRegistry(config.project_root).load()
    builtin = sum(1 for w in found.workflows if w.source == "builtin")
    project = len(found.workflows) - builtin
    if found.errors:
        first = found.errors[0]
        where = first.file + (f":{first.line}" if first.line else "")
        key = f" [{first.key}]" if first.key else ""
        more = f" (and {len(found.errors) - 1} more)" if len(found.errors) > 1 else ""
        return _fail(
            "workflows",
            f"{where}{key}: {first.message}{more}; {project} project workflow(s) still usable",
            f"edit {config.project_root / first.file} at line {first.line or '?'}",
        )
    return _pass("workflows", f"{builtin} built-in, {project} from the project")


def check_specs(config: Config) -> list[Check]:
    checks: list[Check] = []
    if not config.specs_roots:
        looked = ", ".join(DEFAULT_SPECS_DIRS)
        checks.append(
            _warn(
                "specs roots",
                f"no specs folder (looked for {looked})",
                "attune ops --specs-root DIR",
            )
        )
    else:
        bad = [p for p in config.specs_roots if not p.is_dir()]
        if bad:
            checks.append(
                _fail(
                    "specs roots",
                    f"not a directory: {', '.join(map(str, bad))}",
                    "pass an existing folder to --specs-root",
                )
            )
        else:
            roots = ", ".join(
                str(p.relative_to(config.project_root))
                if p.is_relative_to(config.project_root)
                else str(p)
                for p in config.specs_roots
            )
            checks.append(_pass("specs roots", roots))
    if config.specs_candidates_enabled:
        checks.append(_pass("spec candidates", "completion candidate detection is on"))
    else:
        checks.append(
            _warn(
                "spec candidates",
                "completion candidate detection is off (--no-specs-candidates)",
                "run attune ops without --no-specs-candidates",
            )
        )
    return checks


def check_store(config: Config) -> Check:
    from attune.ops.store.database import Store

    try:
        store = Store(config.db_path)
    except Exception as exc:  # any failure to open is the finding itself
        return _fail(
            "store", f"{config.db_path} cannot be opened: {exc}", f"move {config.db_path} aside"
        )
    try:
        with store.read() as conn:
            runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        version = store.schema_version
    finally:
        store.close()
    size = sum(
        p.stat().st_size
        for p in (config.db_path, config.db_path.with_name(config.db_path.name + "-wal"))
        if p.exists()
    )
    summary = f"{config.db_path} ({_size(size)}, schema v{version}, {runs} runs)"
    if store.moved_aside is not None:
        return _warn("store", f"{summary}; an unreadable database was moved to {store.moved_aside}")
    return _pass("store", summary)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


# -- all together ------------------------------------------------------------------------------


def run_checks(
    config: Config | ConfigError, *, serving: bool = False, refresh_cost: bool = True
) -> list[Check]:
    """Every check, in the order of DESIGN §4. ``serving``: called from the running server."""
    checks = [check_web_extra()]
    if isinstance(config, ConfigError):
        checks.append(_fail("configuration", str(config), _config_fix(config)))
        return checks
    if serving:
        checks.append(_pass("listen", f"serving on {config.host}:{config.port}"))
    else:
        checks.append(check_listen(config))
    checks.extend(check_paths(config))
    key_check, has_key = check_admin_key(config)
    checks.append(key_check)
    if has_key:
        checks.append(check_cost(config, refresh=refresh_cost))
    checks.append(check_workflows(config))
    checks.extend(check_specs(config))
    checks.append(check_store(config))
    return checks


def _config_fix(error: ConfigError) -> str:
    text = str(error)
    if text.startswith("project root"):
        return "run attune ops in your project, or pass --project DIR"
    if text.startswith("attune home"):
        return "set ATTUNE_HOME to a writable folder, e.g. export ATTUNE_HOME=~/.attune"
    return "correct the flag named above"

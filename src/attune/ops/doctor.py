"""``attune ops doctor``: every diagnosis of DESIGN §4 as pass / warn / fail with the exact fix.

The same checks feed the Health page (``/health``, ``/api/health``); there the listen check
becomes "serving on host:port" since the server is, by definition, bound, and the store check
reads the running store's start-up integrity check instead of opening the file again.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from attune.ops.config import DEFAULT_SPECS_DIRS, Config
from attune.ops.errors import ConfigError
from attune.ops.listen import bind_error_reason, bind_socket, port_holder
from attune.ops.server_file import SERVERS_DIR, ServerInfo, read_server_file
from attune.ops.store.pg_probe import probe_pg
from attune.text import plural

if TYPE_CHECKING:
    from attune.ops.store.database import Store

__all__ = ["Check", "CheckStatus", "port_holder", "run_checks"]

WEB_MODULES = (
    ("fastapi", "fastapi"),
    ("uvicorn", "uvicorn"),
    ("jinja2", "Jinja2"),
    ("markdown_it", "markdown-it-py"),
)
# A dashboard answers /healthz at once; one that takes longer is as good as hung.
HEALTHZ_TIMEOUT_S = 1.0
EXAMPLE_WORKFLOW = '[workflows.test]\ncommand = ["pytest", "-q"]'


class CheckStatus(StrEnum):
    PASS = "pass"  # noqa: S105 - a check status, not a password
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One diagnosis: what was looked at, what was found, and the command that fixes it.

    ``kind`` is the ``CostFetchError`` kind of the cost report check (``None`` elsewhere).
    """

    name: str
    status: CheckStatus
    summary: str
    fix: str | None = None
    kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "summary": self.summary,
            "fix": self.fix,
            "kind": self.kind,
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


def running_dashboards(config: Config) -> list[ServerInfo]:
    """The live dashboards this home's server files name, the newest first (not this process)."""
    found: dict[int, ServerInfo] = {}
    newest = read_server_file(config)
    if newest is not None:
        found[newest.pid] = newest
    try:
        files = sorted((config.ops_dir / SERVERS_DIR).glob("*.json"))
    except OSError:
        files = []
    for path in files:
        if path.stem.isdigit() and int(path.stem) not in found:
            info = read_server_file(config, pid=int(path.stem))
            if info is not None:
                found[info.pid] = info
    return [info for pid, info in found.items() if pid != os.getpid()]


def healthz_problem(info: ServerInfo) -> str | None:
    """Why ``info``'s address does not answer ``/healthz`` as attune ops; ``None`` if it does."""
    import httpx

    try:
        response = httpx.get(f"{info.url}/healthz", timeout=HEALTHZ_TIMEOUT_S, trust_env=False)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return f"no answer within {HEALTHZ_TIMEOUT_S:g} s ({type(exc).__name__})"
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "ok":
        return f"HTTP {response.status_code}, not an attune ops answer"
    return None


def check_dashboard(config: Config) -> Check | None:
    """Which dashboards of this home run and whether each answers ``/healthz``; ``None``: none."""
    lines, silent = [], []
    for info in running_dashboards(config):
        where = f"{info.url} (pid {info.pid})"
        problem = healthz_problem(info)
        if problem is None:
            lines.append(f"a dashboard is running at {where}, answering /healthz")
        else:
            lines.append(
                f"a dashboard is registered at {where} but does not answer /healthz: {problem}"
            )
            silent.append(info.pid)
    if not lines:
        return None
    if not silent:
        return _pass("dashboard", "; ".join(lines))
    pid = silent[0]
    fix = f"if pid {pid} is a hung attune ops, stop it (kill {pid}) and start attune ops again"
    return _warn("dashboard", "; ".join(lines), fix)


def check_paths(config: Config) -> list[Check]:
    return [
        _pass("project root", f"{config.project_root}"),
        _pass("attune home", f"{config.attune_home} (writable)"),
    ]


def check_admin_key(config: Config) -> Check:
    from attune.ops.spend.admin_key import (
        KEY_ENV,
        key_file_path,
        key_file_problem,
        key_from_environment,
        load_admin_key,
    )

    key = load_admin_key(attune_home=config.attune_home)
    if key is None:
        path = key_file_path(config.attune_home)
        found = "is not a key file" if path.exists() else "does not exist"
        summary = f"none: ${KEY_ENV} is unset and {path} {found}"
        return _warn("admin key", summary, "attune ops setup-billing")
    source = f"${KEY_ENV}" if key_from_environment() else str(key_file_path(config.attune_home))
    problem = key_file_problem(config.attune_home)
    if problem:
        path = key_file_path(config.attune_home)
        return _warn("admin key", f"found in {source}, but {problem}", f"chmod 600 {path}")
    return _pass("admin key", f"found in {source}")


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
    """``fetch_summary()``, naming the ``CostFetchError`` kind when it fails (no key included)."""
    from attune.ops.spend.client import CostFetchErrorKind, fetch_summary

    summary, error = fetch_summary(refresh=refresh, attune_home=config.attune_home)
    if error is None and summary is not None:
        return _pass(
            "cost report",
            f"fetch_summary() ok ({summary.source}): 30 days ${summary.thirty_day_usd:.2f}, "
            f"today ${summary.today_usd:.2f}",
        )
    assert error is not None
    kind = str(error.kind)
    fix = _COST_FIXES.get(kind)
    if error.kind is CostFetchErrorKind.NO_KEY:
        return Check("cost report", CheckStatus.WARN, f"no admin key ({_KIND}: {kind})", fix, kind)
    stale = " (older figures are still shown)" if summary is not None else ""
    found = f"fetch_summary() failed ({_KIND}: {kind}): {error.message}{stale}"
    return Check("cost report", CheckStatus.FAIL, found, fix, kind)


_KIND = "CostFetchError kind"  # the diagnosis asks to inspect ``kind``: name it as such


def check_workflows(config: Config) -> Check:
    from collections import Counter

    from attune.ops.runs.workflows import WorkflowRegistry

    root = config.project_root
    found = WorkflowRegistry(root).load()
    sources = Counter(w.source for w in found.workflows)
    builtin = sources.pop("builtin", 0)
    project = sum(sources.values())  # attune.toml's and the tasks found in the project's files
    if found.errors:
        first = found.errors[0]
        where = first.file + (f":{first.line}" if first.line else "")
        key = f" [{first.key}]" if first.key else ""
        more = f" (and {len(found.errors) - 1} more)" if len(found.errors) > 1 else ""
        return _fail(
            "workflows",
            f"{where}{key}: {first.message}{more}; "
            f"{plural(project, 'project workflow')} still usable",
            f"edit {root / first.file} at line {first.line or '?'}",
        )
    if project == 0:
        exists = (root / "attune.toml").is_file()
        return _warn(
            "workflows",
            f"no project workflows: {'attune.toml declares none' if exists else 'no attune.toml'}"
            f", no [tool.attune.workflows] in pyproject.toml, no tasks found in package.json, "
            f"a Makefile, justfile, Taskfile, tox, nox, poe, pdm or hatch; {builtin} built-in",
            f"{'add to' if exists else 'create'} {root / 'attune.toml'}, e.g.:\n{EXAMPLE_WORKFLOW}",
        )
    sources.pop("project", None)
    found_in = ", ".join(f"{source} {count}" for source, count in sources.items())
    summary = f"{builtin} built-in, {project} from the project"
    return _pass("workflows", summary + (f" (found: {found_in})" if found_in else ""))


def check_specs(config: Config) -> list[Check]:
    root = config.project_root
    bad = [p for p in config.specs_roots if not p.is_dir()]
    if not config.specs_roots:
        looked = f"no specs folder (looked for {', '.join(DEFAULT_SPECS_DIRS)})"
        roots = _warn("specs roots", looked, "attune ops --specs-root DIR")
    elif bad:
        found = f"not a directory: {', '.join(map(str, bad))}"
        roots = _fail("specs roots", found, "pass an existing folder to --specs-root")
    else:
        shown = (
            str(p.relative_to(root)) if p.is_relative_to(root) else str(p)
            for p in config.specs_roots
        )
        roots = _pass("specs roots", ", ".join(shown))
    if config.specs_candidates_enabled:
        candidates = _pass("spec candidates", "completion candidate detection is on")
    else:
        found = "completion candidate detection is off (--no-specs-candidates)"
        candidates = _warn("spec candidates", found, "run attune ops without --no-specs-candidates")
    return [roots, candidates]


def check_store(config: Config, store: Store | None = None) -> Check:
    """The run store: size, schema, runs and ``PRAGMA quick_check``.

    The running dashboard passes its ``store``: its start-up check answers (bounded, so a big
    file may be "unchecked"). Otherwise the file is opened here and checked whole.
    """
    from attune.ops.store.damage import INTEGRITY_OK, INTEGRITY_UNCHECKED
    from attune.ops.store.database import Store

    if config.database_url:  # read-only, on its own connection: the doctor never migrates
        team = probe_pg(config.database_url)
        return Check("store", CheckStatus(team.status), team.summary, team.fix)
    db = config.db_path
    try:
        opened = store if store is not None else Store(db, integrity_budget_s=0)
    except Exception as exc:  # any failure to open is the finding itself
        return _fail("store", f"{db} cannot be opened: {exc}", f"move {db} aside")
    try:
        integrity = opened.integrity if store is not None else opened.check_integrity(None)
        with opened.read() as conn:
            runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        version = opened.schema_version
    except Exception as exc:  # a damaged page can break even the count
        integrity = str(exc)
    finally:
        if store is None:
            opened.close()
    if integrity not in (INTEGRITY_OK, INTEGRITY_UNCHECKED):
        fix = f"stop attune ops, then move it aside (mv {db} {db}.damaged); {_FRESH}"
        return _fail("store", f"{db} is damaged: {integrity}", fix)
    size = sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    summary = f"{db} ({_size(size)}, schema v{version}, {plural(runs, 'run')})"
    if integrity == INTEGRITY_UNCHECKED:
        found = f"{summary}; integrity not checked at start (too big to check in time)"
        return _warn("store", found, "attune ops doctor (it checks the whole file)")
    if opened.moved_aside is not None:
        found = f"{summary}; an unreadable database was moved to {opened.moved_aside}"
        return _warn("store", found)
    return _pass("store", f"{summary}, integrity ok")


_FRESH = "attune ops starts a fresh one"


def check_usage(config: Config, store: Store | None = None) -> Check:
    """Claude Code usage: config roots, this project's transcripts, rows, skips, prices."""
    from attune.ops.spend.usage.diagnosis import diagnose_usage

    if store is None and config.database_url and probe_pg(config.database_url).status != "pass":
        return _warn("claude code usage", "not read: the team database is not ready (see store)")
    found = diagnose_usage(config.project_root, store, config.db_path, config.database_url)
    if found.problem is not None:
        return _fail("claude code usage", found.summary(), found.fix)
    if not found.roots:
        return _warn("claude code usage", found.summary(), found.fix)
    return _pass("claude code usage", found.summary())


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


# -- all together ------------------------------------------------------------------------------


def run_checks(
    config: Config | ConfigError,
    *,
    serving: bool = False,
    refresh_cost: bool = True,
    store: Store | None = None,
) -> list[Check]:
    """Every check, in the order of DESIGN §4.

    ``serving``: called from the running server, whose ``store`` is passed; the dashboard check
    then names only the other dashboards of this home, if any.
    """
    checks = [check_web_extra()]
    if isinstance(config, ConfigError):
        checks.append(_fail("configuration", str(config), _config_fix(config)))
        return checks
    if serving:
        checks.append(_pass("listen", f"serving on {config.host}:{config.port}"))
    else:
        checks.append(check_listen(config))
    dashboard = check_dashboard(config)
    if dashboard is not None:
        checks.append(dashboard)
    elif not serving:
        checks.append(_pass("dashboard", f"none running for {config.attune_home}"))
    checks.extend(check_paths(config))
    checks.append(check_admin_key(config))
    checks.append(check_cost(config, refresh=refresh_cost))
    checks.append(check_workflows(config))
    checks.extend(check_specs(config))
    checks.append(check_store(config, store))
    checks.append(check_usage(config, store))
    return checks


def _config_fix(error: ConfigError) -> str:
    text = str(error)
    if text.startswith("project root"):
        return "run attune ops in your project, or pass --project DIR"
    if text.startswith("attune home"):
        return "set ATTUNE_HOME to a writable folder, e.g. export ATTUNE_HOME=~/.attune"
    return "correct the flag named above"

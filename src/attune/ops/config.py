"""The dashboard's configuration: one frozen value built once by the CLI (or a test).

Only :func:`build_config` reads the environment; everything else receives a ``Config``.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from attune.ops.errors import ConfigError
from attune.ops.store.pg_url import check_url, masked_url

__all__ = ["DEFAULT_SPECS_DIRS", "Config", "ConfigError", "build_config", "is_loopback_host"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_SPECS_DIRS = ("docs/specs", ".kiro/specs", "specs")


@dataclass(frozen=True)
class Config:
    """Everything the dashboard needs to know about where and how it runs."""

    project_root: Path
    attune_home: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_run: bool = True
    specs_roots: tuple[Path, ...] = field(default_factory=tuple)
    specs_candidates_enabled: bool = True
    trusted_hosts: tuple[str, ...] = ()
    runs_retention_days: int = 30
    monthly_budget_usd: Decimal | None = None
    #: a team's PostgreSQL store (``--database-url`` / ``$ATTUNE_DATABASE_URL``); never printed
    database_url: str | None = field(default=None, repr=False)

    @property
    def ops_dir(self) -> Path:
        """``<attune_home>/ops``: the database and the cost cache live here."""
        return self.attune_home / "ops"

    @property
    def db_path(self) -> Path:
        return self.ops_dir / "ops.db"

    @property
    def store_label(self) -> str:
        """Where the store is: the SQLite file, or the team database with its password masked."""
        return masked_url(self.database_url) if self.database_url else str(self.db_path)

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and any address in 127.0.0.0/8 or ``::1``."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_config(project_root: Path | str | None = None, **overrides: Any) -> Config:
    """Resolve paths and defaults into a :class:`Config`.

    ``project_root`` defaults to the current directory; ``attune_home`` to ``$ATTUNE_HOME``,
    else ``~/.attune``. Raises :class:`ConfigError` naming the path and the reason when either
    cannot be used. Example: ``build_config("~/code/app", port=9000, allow_run=False)``.
    """
    root = _resolve_project_root(project_root)
    home_value = overrides.pop("attune_home", None)
    home = _resolve_attune_home(home_value)
    specs_roots = overrides.pop("specs_roots", None)
    if specs_roots is None:
        roots = tuple(root / rel for rel in DEFAULT_SPECS_DIRS if (root / rel).is_dir())
    else:
        roots = tuple(_resolve_against(root, p) for p in specs_roots)
    values: dict[str, Any] = {"specs_roots": roots}
    url = overrides.pop("database_url", None)
    if url is None:
        url = os.environ.get("ATTUNE_DATABASE_URL", "").strip() or None
    if url:
        values["database_url"] = check_url(url)
    for key, value in overrides.items():
        if value is None and key != "monthly_budget_usd":
            continue
        values[key] = value
    values = _validated(values)
    try:
        return Config(project_root=root, attune_home=home, **values)
    except TypeError as exc:
        raise ConfigError(f"unknown configuration option: {exc}") from exc


def _resolve_against(root: Path, value: Path | str) -> Path:
    path = Path(value).expanduser()
    return (path if path.is_absolute() else root / path).resolve()


def _resolve_project_root(value: Path | str | None) -> Path:
    path = Path(value).expanduser() if value is not None else Path.cwd()
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError as exc:
        raise ConfigError(f"project root {path} does not exist") from exc
    except (OSError, RuntimeError) as exc:
        raise ConfigError(f"project root {path} cannot be resolved: {exc}") from exc
    if not resolved.is_dir():
        raise ConfigError(f"project root {resolved} is not a directory")
    return resolved


def _resolve_attune_home(value: Path | str | None) -> Path:
    if value is None:
        env = os.environ.get("ATTUNE_HOME", "").strip()
        value = env or Path.home() / ".attune"
    home = Path(value).expanduser()
    home = home if home.is_absolute() else Path.cwd() / home
    ops = home / "ops"
    try:
        ops.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise ConfigError(f"attune home {home} cannot be created: a file is in the way") from exc
    except NotADirectoryError as exc:
        raise ConfigError(f"attune home {home} cannot be created: a file is in the way") from exc
    except PermissionError as exc:
        raise ConfigError(f"attune home {home} cannot be created: permission denied") from exc
    except OSError as exc:
        raise ConfigError(f"attune home {home} cannot be created: {exc.strerror}") from exc
    try:
        with tempfile.TemporaryFile(dir=ops):
            pass
    except OSError as exc:
        reason = "permission denied" if isinstance(exc, PermissionError) else exc.strerror
        raise ConfigError(f"attune home {home} is not writable: {reason}") from exc
    return home.resolve()


def _validated(values: dict[str, Any]) -> dict[str, Any]:
    port = values.get("port")
    if port is not None:
        try:
            port = int(port)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"port {port!r} is not a number") from exc
        if not 0 <= port <= 65535:
            raise ConfigError(f"port {port} is outside 0-65535")
        values["port"] = port
    days = values.get("runs_retention_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise ConfigError(f"runs_retention_days {days!r} must be a whole number ≥ 0")
    if "monthly_budget_usd" in values:
        values["monthly_budget_usd"] = parse_budget(values["monthly_budget_usd"])
    if "trusted_hosts" in values:
        values["trusted_hosts"] = tuple(h.strip().lower() for h in values["trusted_hosts"] if h)
    return values


def parse_budget(value: object) -> Decimal | None:
    """A monthly budget in USD (``"150"``, ``"99.50"``); ``None`` when not given.

    ``0`` (or ``off``/``none``) is an explicit "no budget": it also forgets a remembered one.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in ("off", "none"):
        return Decimal(0)
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ConfigError(f"monthly budget {value!r} is not an amount in USD") from exc
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"monthly budget {value!r} must be a positive amount in USD, or 0")
    return amount

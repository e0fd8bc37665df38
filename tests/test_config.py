"""build_config: defaults, $ATTUNE_HOME, and the errors a user can actually hit."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from attune.ops.config import Config, build_config, is_loopback_host
from attune.ops.errors import ConfigError


def test_defaults_resolve_project_and_home(project: Path, attune_home: Path) -> None:
    cfg = build_config(project)
    assert cfg.project_root == project.resolve()
    assert cfg.attune_home == attune_home.resolve()  # from $ATTUNE_HOME (conftest)
    assert (cfg.host, cfg.port, cfg.allow_run) == ("127.0.0.1", 8765, True)
    assert cfg.specs_roots == ()
    assert cfg.runs_retention_days == 30
    assert cfg.monthly_budget_usd is None
    assert cfg.db_path == attune_home.resolve() / "ops" / "ops.db"


def test_project_root_defaults_to_cwd(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    assert build_config().project_root == project.resolve()


def test_home_defaults_to_dot_attune(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATTUNE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert build_config(project).attune_home == (tmp_path / "user" / ".attune").resolve()


def test_default_specs_roots_are_the_existing_ones(project: Path) -> None:
    (project / "docs" / "specs").mkdir(parents=True)
    (project / ".kiro" / "specs").mkdir(parents=True)
    cfg = build_config(project)
    assert cfg.specs_roots == (project / "docs" / "specs", project / ".kiro" / "specs")


def test_explicit_specs_roots_are_relative_to_the_project(project: Path) -> None:
    cfg = build_config(project, specs_roots=["design"])
    assert cfg.specs_roots == (project / "design",)


def test_missing_project_root_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=r"project root .*nope does not exist"):
        build_config(missing)


def test_project_root_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ConfigError, match=r"file\.txt is not a directory"):
        build_config(f)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_home_with_a_file_in_the_way(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "home-file"
    blocker.write_text("not a dir")
    with pytest.raises(ConfigError, match=r"home-file cannot be created: a file is in the way"):
        build_config(project, attune_home=blocker)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_home_without_permission(project: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(ConfigError, match="permission denied"):
            build_config(project, attune_home=locked / "home")
    finally:
        locked.chmod(0o700)


def test_home_on_a_read_only_mount_is_reported(project: Path, tmp_path: Path) -> None:
    # /proc is read-only for everybody, root included: a reliable unwritable place.
    with pytest.raises(ConfigError, match=r"attune home /proc/attune"):
        build_config(project, attune_home=Path("/proc/attune"))


def test_attune_home_env_is_honoured(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_HOME", str(tmp_path / "elsewhere"))
    cfg = build_config(project)
    assert cfg.attune_home == (tmp_path / "elsewhere").resolve()
    assert (tmp_path / "elsewhere" / "ops").is_dir()


@pytest.mark.parametrize("port", [-1, 65536, "http"])
def test_bad_ports_are_refused(project: Path, port: object) -> None:
    with pytest.raises(ConfigError, match="port"):
        build_config(project, port=port)


@pytest.mark.parametrize("budget", ["abc", "-5", "NaN", "inf", "-0.01"])
def test_bad_budgets_are_refused(project: Path, budget: str) -> None:
    with pytest.raises(ConfigError, match="budget"):
        build_config(project, monthly_budget_usd=budget)


def test_budget_is_a_decimal(project: Path) -> None:
    assert build_config(project, monthly_budget_usd="99.50").monthly_budget_usd == Decimal("99.50")


@pytest.mark.parametrize("off", ["0", "off", "none", "OFF"])
def test_zero_budget_means_no_budget(project: Path, off: str) -> None:
    assert build_config(project, monthly_budget_usd=off).monthly_budget_usd == Decimal(0)


def test_negative_retention_is_refused(project: Path) -> None:
    with pytest.raises(ConfigError, match="runs_retention_days"):
        build_config(project, runs_retention_days=-1)


def test_unknown_option_is_a_config_error(project: Path) -> None:
    with pytest.raises(ConfigError, match="unknown configuration option"):
        build_config(project, colour="blue")


def test_config_is_frozen(config: Config) -> None:
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_the_team_database_url_comes_from_the_flag_or_the_environment_and_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://ana:s3cr%40t-pw@db.example:5433/attune?sslmode=require"
    monkeypatch.setenv("ATTUNE_DATABASE_URL", url)
    config = build_config(tmp_path, attune_home=tmp_path / "home")
    assert config.database_url == url
    assert config.store_label == "postgresql://ana:***@db.example:5433/attune?sslmode=require"
    assert "s3cr" not in repr(config) and "s3cr" not in str(config)
    flag = build_config(tmp_path, attune_home=tmp_path / "home", database_url="postgres://h/db")
    assert flag.database_url == "postgres://h/db"  # the flag wins over the environment
    monkeypatch.delenv("ATTUNE_DATABASE_URL")
    plain = build_config(tmp_path, attune_home=tmp_path / "home")
    assert plain.database_url is None and plain.store_label == str(plain.db_path)
    with pytest.raises(ConfigError, match="not a PostgreSQL URL") as caught:
        build_config(tmp_path, attune_home=tmp_path / "h", database_url="mysql://u:hunter2@h/db")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigError, match="cannot be read") as bad_port:
        build_config(tmp_path, attune_home=tmp_path / "h", database_url="postgresql://u:pw9@h:x/d")
    assert "pw9" not in str(bad_port.value)

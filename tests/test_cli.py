"""The ``attune`` command as a user runs it: real processes, real ports, real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from attune import cmd_ops
from attune.ops.cli.ops import bind_error_reason, build_ops_parser, config_from_args
from attune.ops.errors import ConfigError
from tests.conftest import ServerProcess, free_port


def run_attune(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attune", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("args", [["--help"], ["ops", "--help"], ["ops", "doctor", "--help"]])
def test_help_does_not_import_the_web_stack(args: list[str]) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from attune.cli import main
        try:
            main({args!r})
        except SystemExit:
            pass
        web = ("fastapi", "uvicorn", "jinja2", "httpx", "starlette")
        heavy = [m for m in web if m in sys.modules]
        print("HEAVY", heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in out.stdout
    assert "usage: attune" in out.stdout


def test_top_level_help_loads_no_command_code() -> None:
    # `attune --help` declares every parser; the code behind them (the store, the config,
    # sockets) stays unloaded so the first thing a user types answers at once.
    code = (
        "import sys\nfrom attune.cli import main\ntry:\n    main(['--help'])\n"
        "except SystemExit:\n    pass\n"
        "print('LOADED', [m for m in ('sqlite3', 'attune.ops.config', 'attune.ops.store.database',"
        " 'socket', 'attune.ops.cli.runs') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "LOADED []" in out.stdout


def test_help_lists_every_flag_of_the_design() -> None:
    out = run_attune("ops", "--help").stdout
    for flag in [
        "--project",
        "--host",
        "--port",
        "--read-only",
        "--no-browser",
        "--specs-root",
        "--no-specs-candidates",
        "--trusted-host",
        "--runs-retention-days",
        "--monthly-budget",
        "setup-billing",
        "doctor",
    ]:
        assert flag in out


def test_version() -> None:
    from attune import __version__

    assert run_attune("--version").stdout.strip() == f"attune {__version__}"


def test_flags_become_config(project: Path, tmp_path: Path) -> None:
    args = build_ops_parser().parse_args(
        [
            "--project",
            str(project),
            "--host",
            "127.0.0.2",
            "--port",
            "9001",
            "--read-only",
            "--specs-root",
            "a",
            "--specs-root",
            "b",
            "--no-specs-candidates",
            "--trusted-host",
            "dash.local",
            "--runs-retention-days",
            "0",
            "--monthly-budget",
            "120.50",
        ]
    )
    cfg = config_from_args(args)
    assert (cfg.host, cfg.port, cfg.allow_run) == ("127.0.0.2", 9001, False)
    assert cfg.specs_roots == (project / "a", project / "b")
    assert not cfg.specs_candidates_enabled
    assert cfg.trusted_hosts == ("dash.local",)
    assert cfg.runs_retention_days == 0
    assert str(cfg.monthly_budget_usd) == "120.50"


def test_port_env_is_the_default(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    args = build_ops_parser().parse_args(["--project", str(project)])
    assert config_from_args(args).port == 9123
    args = build_ops_parser().parse_args(["--project", str(project), "--port", "9200"])
    assert config_from_args(args).port == 9200
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(ConfigError, match=r"\$PORT"):
        config_from_args(build_ops_parser().parse_args(["--project", str(project)]))


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_ops(["--port", "not-a-number"]) == 2
    assert "invalid int value" in capsys.readouterr().err


def test_missing_project_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_ops(["--project", str(tmp_path / "gone"), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gone does not exist" in err


def test_occupied_port_fails_with_the_reason(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = cmd_ops(["--project", str(project), "--port", str(port), "--no-browser"])
    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        f"attune ops: cannot listen on 127.0.0.1:{port}: the port is already in use "
        "(is another attune ops running?)\n"
    )


def test_unavailable_address_fails_with_the_reason(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 192.0.2.0/24 is TEST-NET-1: never assigned to this machine; binding it only fails locally.
    code = cmd_ops(
        ["--project", str(project), "--host", "192.0.2.1", "--port", "0", "--no-browser"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "warning: --host 192.0.2.1 is reachable from other machines" in err
    assert "cannot listen on 192.0.2.1:0: the address is not available on this machine" in err
    assert "Traceback" not in err


def test_bind_error_reasons() -> None:
    import errno

    assert "in use" in bind_error_reason(OSError(errno.EADDRINUSE, "x"))
    assert "not available" in bind_error_reason(OSError(errno.EADDRNOTAVAIL, "x"))
    assert "resolved" in bind_error_reason(socket.gaierror(-2, "Name or service not known"))


def test_second_server_on_the_same_port_exits_non_zero(
    server_factory: Callable[..., ServerProcess], project: Path, tmp_path: Path
) -> None:
    first = server_factory(project)
    second = run_attune(
        "ops",
        "--project",
        str(project),
        "--port",
        str(first.port),
        "--no-browser",
        env={"ATTUNE_HOME": str(tmp_path / "other-home")},
    )
    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{first.port}" in second.stderr
    assert "Traceback" not in second.stderr
    assert httpx.get(f"{first.url}/healthz").status_code == 200  # the first one is unharmed


def test_banner_and_ctrl_c_exit_zero(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    srv = server_factory(project, "--read-only")
    os.killpg(srv.proc.pid, signal.SIGINT)
    assert srv.proc.wait(timeout=20) == 0
    out = srv.output()
    assert f"attune ops — http://127.0.0.1:{srv.port}/" in out
    assert f"project  {project}" in out
    assert f"home     {srv.home}" in out
    assert "runs     disabled (--read-only)" in out
    assert "Traceback" not in out


def test_browser_opens_only_once_the_server_answers(
    server_factory: Callable[..., ServerProcess], project: Path, tmp_path: Path
) -> None:
    record = tmp_path / "opened.txt"
    opener = tmp_path / "fake-browser.py"
    opener.write_text(
        textwrap.dedent(
            f"""
            import sys, urllib.request
            url = sys.argv[1]
            status = urllib.request.urlopen(url + "healthz", timeout=10).status
            open({str(record)!r}, "w").write(f"{{url}} {{status}}")
            """
        )
    )
    port = free_port()
    srv = server_factory(project, env={"BROWSER": f"{sys.executable} {opener} %s"}, port=port)
    # start_server passes --no-browser; start one without it on another port instead.
    srv.kill()
    proc = subprocess.Popen(
        [sys.executable, "-m", "attune", "ops", "--project", str(project), "--port", str(port)],
        env={**srv.env, "BROWSER": f"{sys.executable} {opener} %s"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert record.read_text() == f"http://127.0.0.1:{port}/ 200"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_port_zero_serves_on_the_port_it_got(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    srv = server_factory(project, port=0, wait=False)
    deadline = time.monotonic() + 30
    while "attune ops — " not in srv.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    url = srv.output().split("attune ops — ", 1)[1].split()[0].rstrip("/")
    port = int(url.rsplit(":", 1)[1])
    assert port != 0
    health = httpx.get(f"{url}/api/health", timeout=30).json()
    assert health["checks"][1]["summary"] == f"serving on 127.0.0.1:{port}"
    # `attune runs cancel` can find it: the server file names the real port.
    info = srv.home / "ops" / "server.json"
    while not info.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(info.read_text())["port"] == port

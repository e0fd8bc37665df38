"""Discovered workflows really run (make, npm), in colour; one run at a time across every
dashboard and CLI of a home; ``attune runs start`` through a dashboard or on its own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.config import Config
from attune.ops.errors import RunnerBusy
from attune.ops.runs.runner import Runner
from attune.ops.store.database import Store
from tests.discovery_trees import write_all_sources
from tests.helpers import (
    astart_run,
    await_finished,
    pid_alive,
    python_workflow,
    start_run,
    wait_finished,
    wait_until,
    write_workflows,
)

needs_npm = pytest.mark.skipif(
    shutil.which("npm") is None, reason="npm is installed by `make test` (Debian's npm)"
)
ENV_PRINTER = (
    "import os\nfor k in ('FORCE_COLOR', 'PY_COLORS', 'CLICOLOR_FORCE', 'NO_COLOR'):\n"
    "    print(k, os.environ.get(k, '-'))\n"
)
SLOW = "import time\nprint('started', flush=True)\ntime.sleep(60)\n"


async def _log(client: httpx.AsyncClient, run_id: int) -> str:
    return (await client.get(f"/api/runs/{run_id}/log")).text


# -- real runs of discovered tasks ---------------------------------------------------------------


async def test_a_makefile_target_runs_with_make(client: httpx.AsyncClient, project: Path) -> None:
    (project / "Makefile").write_text(
        "hello: ## greet\n\t@echo hello from make\nboom:\n\t@echo going down; exit 3\n"
    )
    run = await astart_run(client, "make:hello")
    assert run["command"] == ["make", "hello"]
    done = await await_finished(client, run["id"])
    assert done["status"] == "succeeded" and "hello from make" in await _log(client, run["id"])
    failed = await await_finished(client, (await astart_run(client, "make:boom"))["id"])
    assert failed["status"] == "failed" and failed["exit_code"] == 2  # make's own code


@needs_npm
async def test_npm_scripts_run_with_npm_in_colour(client: httpx.AsyncClient, project: Path) -> None:
    write_all_sources(project)
    run = await astart_run(client, "npm:test")
    assert run["command"] == ["npm", "run", "test"]
    done = await await_finished(client, run["id"])
    log = await _log(client, run["id"])
    assert done["status"] == "succeeded", log
    assert "before the tests" in log  # npm ran the pretest hook itself
    assert "\x1b[32mgreen tests\x1b[0m" in log  # FORCE_COLOR reached the script


# -- colour by default ---------------------------------------------------------------------------


async def _env_of_a_run(client: httpx.AsyncClient, name: str = "env") -> dict[str, str]:
    done = await await_finished(client, (await astart_run(client, name))["id"])
    assert done["status"] == "succeeded"
    pairs = (line.split(" ", 1) for line in (await _log(client, done["id"])).splitlines())
    return dict(pair for pair in pairs if len(pair) == 2)


async def test_runs_get_colour_by_default(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FORCE_COLOR", "PY_COLORS", "CLICOLOR_FORCE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    write_workflows(project, python_workflow("env", ENV_PRINTER))
    env = await _env_of_a_run(client)
    assert env == {"FORCE_COLOR": "1", "PY_COLORS": "1", "CLICOLOR_FORCE": "1", "NO_COLOR": "-"}


async def test_no_color_in_the_dashboards_environment_turns_it_off(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FORCE_COLOR", "PY_COLORS", "CLICOLOR_FORCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    write_workflows(project, python_workflow("env", ENV_PRINTER))
    env = await _env_of_a_run(client)
    assert env == {"FORCE_COLOR": "-", "PY_COLORS": "-", "CLICOLOR_FORCE": "-", "NO_COLOR": "1"}


async def test_the_users_and_the_workflows_values_win(
    client: httpx.AsyncClient, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("PY_COLORS", "0")
    (project / "attune.toml").write_text(
        python_workflow("env", ENV_PRINTER).rstrip()
        + '\nenv = { FORCE_COLOR = "3" }\n\n'
        + python_workflow("plain", ENV_PRINTER).rstrip()
        + '\nenv = { NO_COLOR = "1" }\n'
    )
    env = await _env_of_a_run(client)
    assert env["FORCE_COLOR"] == "3" and env["PY_COLORS"] == "0" and env["CLICOLOR_FORCE"] == "1"
    plain = await _env_of_a_run(client, "plain")
    assert plain["FORCE_COLOR"] == "-" and plain["CLICOLOR_FORCE"] == "-"


# -- one run at a time across processes ----------------------------------------------------------


def test_two_runners_of_one_home_take_turns(config: Config, project: Path) -> None:
    """The lock is the home's, not one runner's: a second dashboard is refused while one runs."""
    write_workflows(project, python_workflow("slow", SLOW), python_workflow("quick", "print(1)"))
    first_store, second_store = Store(config.db_path), Store(config.db_path)
    first, second = Runner(config, first_store), Runner(config, second_store)
    try:
        run = first.start("slow", None)
        with pytest.raises(RunnerBusy) as refused:
            second.start("quick", None)
        assert refused.value.extra["current_run_id"] == run.id
        assert f"run {run.id} is still running in another attune process" in refused.value.message
        first.cancel(run.id)
        wait_until(lambda: not first.busy, timeout=15)
        quick = second.start("quick", None)
        wait_until(lambda: not second.busy, timeout=15)
        assert second_store.require_run(quick.id).status == "succeeded"
    finally:
        first.stop()
        second.stop()
        first_store.close()
        second_store.close()


# -- attune runs start ---------------------------------------------------------------------------


@pytest.fixture
def cli(attune_home: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``python -m attune runs start …`` in a project, in its own session (killed at the end)."""
    procs: list[subprocess.Popen[str]] = []

    def start(project: Path, *args: str, env: dict[str, str] | None = None) -> Any:
        proc = subprocess.Popen(
            [sys.executable, "-m", "attune", "runs", "start", *args],
            cwd=project,
            env={**os.environ, "ATTUNE_HOME": str(attune_home), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _runs(home: Path) -> list[dict[str, Any]]:
    store = Store(home / "ops" / "ops.db", integrity_budget_s=0)
    try:
        return [r.to_json() for r in store.list_runs(limit=50)[0]]
    finally:
        store.close()


def test_runs_start_runs_here_without_a_dashboard(
    cli: Callable[..., Any], project: Path, attune_home: Path
) -> None:
    (project / "Makefile").write_text("ok:\n\t@echo all good\nbad:\n\t@echo nope; exit 7\n")
    code, out, err = _finish(cli(project, "make:ok", "--follow"))
    assert code == 0, err
    assert "all good" in out and "started here: make ok" in err
    assert "succeeded (exit 0)" in err
    code, out, err = _finish(cli(project, "make:bad"))
    assert code == 2 and "nope" not in out  # make exits 2 when a recipe fails; no --follow
    code, out, _ = _finish(cli(project, "make:ok", "--json", "--follow"))
    run = json.loads(out)  # the log went to stderr: stdout is one JSON object
    assert run["status"] == "succeeded" and run["trigger"] == "cli"
    assert [r["workflow"] for r in _runs(attune_home)] == ["make:ok", "make:bad", "make:ok"]


def test_runs_start_exit_code_and_path(cli: Callable[..., Any], project: Path) -> None:
    write_workflows(
        project,
        python_workflow("exit", "import sys; print(sys.argv[1]); sys.exit(4)", "{path}",
                        accepts_path=True),
    )  # fmt: skip
    (project / "src").mkdir()
    code, out, err = _finish(cli(project, "exit", "--path", "src", "--follow"))
    assert code == 4 and out.strip() == "src", err
    code, _, err = _finish(cli(project, "nope"))
    assert code == 3 and "no workflow named 'nope'" in err and "exit" in err


def test_ctrl_c_cancels_a_run_this_process_owns(
    cli: Callable[..., Any], project: Path, attune_home: Path
) -> None:
    write_workflows(project, python_workflow("slow", SLOW))
    proc = cli(project, "slow", "--follow")
    assert proc.stdout is not None and proc.stdout.readline() == "started\n"
    [running] = _runs(attune_home)
    os.kill(proc.pid, signal.SIGINT)
    code, _, err = _finish(proc)
    assert code == 130 and "cancelling run" in err
    [run] = _runs(attune_home)
    assert run["id"] == running["id"] and run["status"] == "cancelled"


def test_sigterm_cancels_it_too(cli: Callable[..., Any], project: Path, attune_home: Path) -> None:
    write_workflows(project, python_workflow("slow", SLOW))
    proc = cli(project, "slow", "--follow")
    assert proc.stdout is not None and proc.stdout.readline() == "started\n"
    os.kill(proc.pid, signal.SIGTERM)
    code, _, _ = _finish(proc)
    [run] = _runs(attune_home)
    assert code == 143 and run["status"] == "cancelled"  # 128 + SIGTERM


def test_runs_start_goes_through_the_dashboard_serving_the_project(
    cli: Callable[..., Any], server_factory: Callable[..., Any], project: Path
) -> None:
    (project / "Makefile").write_text("ok:\n\t@echo through the server\n")
    server = server_factory(project)
    code, out, err = _finish(cli(project, "make:ok", "--follow"))
    assert code == 0, err
    assert "started on the dashboard" in err and f"{server.url}/runs/" in err
    assert "through the server" in out
    runs = httpx.get(f"{server.url}/api/runs", timeout=10).json()["runs"]
    assert runs[0]["workflow"] == "make:ok" and runs[0]["trigger"] == "cli"


def test_one_run_at_a_time_across_a_dashboard_and_the_cli(
    cli: Callable[..., Any],
    server_factory: Callable[..., Any],
    project: Path,
    tmp_path: Path,
) -> None:
    """A dashboard of another project on the same home runs; the CLI here is refused, and
    while the CLI runs, the dashboard refuses with the CLI's run."""
    served = tmp_path / "served"
    served.mkdir()
    write_workflows(served, python_workflow("slow", SLOW))
    write_workflows(project, python_workflow("slow", SLOW), python_workflow("quick", "print(1)"))
    server = server_factory(served)
    busy = start_run(server, "slow")
    code, _, err = _finish(cli(project, "quick"))
    assert code == RunnerBusy.exit_code and f"run {busy['id']} is still running" in err
    httpx.post(
        f"{server.url}/api/runs/{busy['id']}/cancel",
        headers={"X-Attune-Token": server.token},
        timeout=15,
    )
    wait_finished(server, busy["id"])
    proc = cli(project, "slow", "--follow")
    assert proc.stdout is not None and proc.stdout.readline() == "started\n"
    mine = next(r for r in _runs(server.home) if r["status"] == "running")
    refused = httpx.post(
        f"{server.url}/api/runs",
        json={"workflow": "slow"},
        headers={"X-Attune-Token": server.token},
        timeout=15,
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["current_run_id"] == mine["id"]
    cancel = httpx.post(
        f"{server.url}/api/runs/{mine['id']}/cancel",
        headers={"X-Attune-Token": server.token},
        timeout=15,
    )
    assert cancel.status_code == 409 and cancel.json()["error"]["code"] == "run_elsewhere"
    os.kill(proc.pid, signal.SIGINT)
    assert _finish(proc)[0] == 130
    assert pid_alive(server.proc.pid)


def test_runs_cancel_stops_a_run_the_cli_owns(
    cli: Callable[..., Any], project: Path, attune_home: Path
) -> None:
    """`attune runs cancel ID` from another terminal reaches the `runs start` that owns it."""
    write_workflows(project, python_workflow("slow", SLOW))
    proc = cli(project, "slow", "--follow")
    assert proc.stdout is not None and proc.stdout.readline() == "started\n"
    [running] = _runs(attune_home)
    cancel = subprocess.run(
        [sys.executable, "-m", "attune", "runs", "cancel", str(running["id"])],
        env={**os.environ, "ATTUNE_HOME": str(attune_home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cancel.returncode == 0, cancel.stderr
    assert cancel.stdout.strip() == f"run {running['id']} cancelled"
    assert _finish(proc)[0] == 143  # it was sent SIGTERM

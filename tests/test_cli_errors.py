"""One way for the CLI to fail: ``attune <command>: <message>`` on stderr, one exit code per
error class, no traceback when the reader of a pipe goes away; and the terminal's cancel
reaching the dashboard that owns the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops import errors
from attune.ops.cli.main import EXIT_PIPE_CLOSED, run_command
from attune.ops.errors import AttuneError, RunFinished, RunNotFound, error_for_code
from attune.ops.runs.recovery import recover_runs
from attune.ops.store.database import Store

PY = json.dumps(sys.executable)


def _classes() -> list[type[AttuneError]]:
    return [getattr(errors, n) for n in errors.__all__ if isinstance(getattr(errors, n), type)]


def test_every_error_class_has_its_own_code_and_an_exit_code() -> None:
    classes = _classes()
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))
    assert all(isinstance(c.exit_code, int) and 1 <= c.exit_code <= 125 for c in classes)
    assert RunNotFound.exit_code == errors.NotFound.exit_code == 3  # "not there"
    assert errors.ConfigError.exit_code == errors.InvalidPath.exit_code == 2  # "bad input"


def test_run_command_prints_one_line_and_the_class_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def body() -> int:
        raise RunFinished("run 3 has already finished (succeeded)")

    assert run_command("runs", body) == RunFinished.exit_code
    assert capsys.readouterr().err == "attune runs: run 3 has already finished (succeeded)\n"


def test_a_server_error_code_becomes_its_class() -> None:
    assert type(error_for_code("run_finished", "x")) is RunFinished
    assert type(error_for_code("not_found", "x")) is errors.NotFound
    assert type(error_for_code("no_such_code", "x")) is AttuneError


def test_a_closed_pipe_ends_quietly(project: Path, attune_home: Path) -> None:
    store = Store(attune_home / "ops" / "ops.db")
    try:
        run = store.create_run("demo", None, ["seq", "50000"], "web")
        store.append_lines(run.id, 1, [f"line {i} " + "x" * 60 for i in range(1, 50_001)])
        store.finish_run(run.id, "succeeded", 0, 0.1, None)
    finally:
        store.close()
    env = {**os.environ, "ATTUNE_HOME": str(attune_home)}
    log = subprocess.Popen(  # 3.5 MB: far more than a pipe holds
        [sys.executable, "-m", "attune", "runs", "log", str(run.id)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert log.stdout is not None
    assert log.stdout.readline().startswith(b"line 1 ")
    log.stdout.close()  # like `| head -1`
    _, err = log.communicate(timeout=60)
    assert err == b""
    assert log.returncode in (0, EXIT_PIPE_CLOSED)


def test_a_broken_pipe_is_exit_141_without_a_word(capsys: pytest.CaptureFixture[str]) -> None:
    def body() -> int:
        raise BrokenPipeError(32, "Broken pipe")

    assert run_command("runs", body) == EXIT_PIPE_CLOSED
    assert capsys.readouterr().err == ""


# -- recovery never kills a stranger ---------------------------------------------------------


def _left_running(store: Store, tmp_path: Path) -> tuple[int, subprocess.Popen[bytes]]:
    run = store.create_run("hold", None, ["sleep", "60"], "web")
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={**os.environ, "ATTUNE_RUN_ID": str(run.id)},
        start_new_session=True,
    )
    store.set_run_pid(run.id, leftover.pid)
    return run.id, leftover


def test_recovery_without_proc_leaves_the_group_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.db")
    run_id, leftover = _left_running(store, tmp_path)
    try:
        [run] = recover_runs(store, proc=tmp_path / "no-proc-here")
        assert run.id == run_id
        assert leftover.poll() is None  # not killed: it might be a stranger's by now
        after = store.require_run(run_id)
        assert after.status == "interrupted"
        last = store.read_lines(run_id)[-1][1]
        assert last.startswith(f"[attune] left process group {leftover.pid} alone")
    finally:
        os.killpg(leftover.pid, signal.SIGKILL)
        leftover.wait()
        store.close()


def test_recovery_with_proc_kills_only_the_runs_own_group(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.db")
    run_id, leftover = _left_running(store, tmp_path)
    stranger = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    other = store.create_run("hold", None, ["sleep", "60"], "web")
    store.set_run_pid(other.id, stranger.pid)  # a reused pid: no ATTUNE_RUN_ID of that run
    try:
        recover_runs(store)
        assert leftover.wait(timeout=10) == -signal.SIGKILL
        assert stranger.poll() is None
        assert store.read_lines(run_id)[-1][1].endswith(f"process group {leftover.pid}")
    finally:
        for proc in (leftover, stranger):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        store.close()


# -- two dashboards on one home --------------------------------------------------------------


def test_cancel_reaches_the_dashboard_that_owns_the_run(
    server_factory: Callable[..., Any], project: Path, tmp_path: Path
) -> None:
    code = "import time\nprint('holding', flush=True)\ntime.sleep(60)"
    (project / "attune.toml").write_text(
        f'[workflows.hold]\ncommand = [{PY}, "-c", {json.dumps(code)}]\n'
    )
    first = server_factory(project)
    r = httpx.post(
        f"{first.url}/api/runs", json={"workflow": "hold"}, headers={"X-Attune-Token": first.token}
    )
    assert r.status_code == 201
    run_id = r.json()["id"]
    second = server_factory(project)  # newer: ops/server.json now names this one
    names = json.loads((second.home / "ops" / "server.json").read_text())
    assert names["port"] == second.port
    done = subprocess.run(
        [sys.executable, "-m", "attune", "runs", "cancel", str(run_id)],
        cwd=project,
        env=first.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30
    while httpx.get(f"{first.url}/api/runs/{run_id}").json()["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert httpx.get(f"{first.url}/api/runs/{run_id}").json()["status"] == "cancelled"
    # With its owner gone, the terminal says whose run it was.
    r = httpx.post(
        f"{first.url}/api/runs", json={"workflow": "hold"}, headers={"X-Attune-Token": first.token}
    )
    orphan = r.json()["id"]
    first.kill(signal.SIGKILL)
    gone = subprocess.run(
        [sys.executable, "-m", "attune", "runs", "cancel", str(orphan)],
        cwd=project,
        env=first.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gone.returncode == 1
    assert gone.stderr == (
        f"attune runs: run {orphan} belongs to the attune ops server with pid "
        f"{first.proc.pid}, which is not running here; only the server that started a run "
        "can cancel it\n"
    )

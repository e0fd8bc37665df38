"""``attune runs start`` running a workflow itself, when stopped: SIGTERM/SIGHUP exit 128+signal,
a second signal during the cancel still stops the runner; a dashboard whose server file is stale
(its pid reused) is not asked; ``attune runs cancel`` says in one line what went wrong."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from attune.cli import main
from attune.ops.cli import run_start
from attune.ops.config import Config
from attune.ops.errors import AttuneError
from attune.ops.store.database import Store
from tests.conftest import free_port
from tests.helpers import python_workflow, write_workflows

SLOW = "import time\nprint('started', flush=True)\ntime.sleep(60)\n"
# `attune runs start` whose cancel is itself hit by a second signal (a second Ctrl-C).
TWICE = (
    "import os, signal, sys\n"
    "from attune.ops.runs.runner import Runner\n"
    "real = Runner.cancel\n"
    "def cancel(self, *a, **k):\n"
    "    os.kill(os.getpid(), signal.SIGTERM)\n"
    "    for _ in range(1000): pass\n"
    "    return real(self, *a, **k)\n"
    "Runner.cancel = cancel\n"
    "from attune.cli import main\n"
    "sys.exit(main(['runs', 'start', 'slow', '--follow']))\n"
)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _spawn(
    procs: list[subprocess.Popen[str]], project: Path, home: Path, argv: list[str]
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, *argv],
        cwd=project,
        env={**os.environ, "ATTUNE_HOME": str(home)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    procs.append(proc)
    return proc


def _only_run(home: Path) -> tuple[int, str, int | None]:
    with sqlite3.connect(home / "ops" / "ops.db") as conn:
        [(run_id, status, pid)] = conn.execute("SELECT id, status, pid FROM runs").fetchall()
    return int(run_id), str(status), pid


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("argv", "sig", "code"),
    [
        (["-m", "attune", "runs", "start", "slow", "--follow"], signal.SIGTERM, 143),
        (["-m", "attune", "runs", "start", "slow", "--follow"], signal.SIGHUP, 129),
        (["-m", "attune", "runs", "start", "slow", "--follow"], signal.SIGINT, 130),
        (["-c", TWICE], signal.SIGINT, 130),  # a second signal inside the cancel
    ],
)
def test_a_stopped_runs_start_cancels_its_run_and_exits_128_plus_the_signal(
    procs: list[subprocess.Popen[str]],
    project: Path,
    attune_home: Path,
    argv: list[str],
    sig: int,
    code: int,
) -> None:
    write_workflows(project, python_workflow("slow", SLOW))
    proc = _spawn(procs, project, attune_home, argv)
    assert proc.stdout is not None and proc.stdout.readline() == "started\n"
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "cancelling run" in err
    _, status, pid = _only_run(attune_home)
    assert status == "cancelled"
    assert pid is not None and not _group_alive(pid)


def _stale_server_file(home: Path, project: Path, port: int) -> None:
    """A crashed dashboard's file whose pid now belongs to another live process (this one)."""
    data = {"pid": os.getpid(), "host": "127.0.0.1", "port": port, "token": "t",
            "project": str(project.resolve())}  # fmt: skip
    servers = home / "ops" / "servers"
    servers.mkdir(parents=True, mode=0o700)
    for path in (servers / f"{os.getpid()}.json", home / "ops" / "server.json"):
        path.write_text(json.dumps(data))


@pytest.mark.parametrize("listening", [False, True])
def test_a_stale_server_file_is_no_dashboard(
    procs: list[subprocess.Popen[str]], project: Path, attune_home: Path, listening: bool
) -> None:
    write_workflows(project, python_workflow("quick", "print('ran here')"))
    silent = socket.socket()  # accepts connections (the backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        port = int(silent.getsockname()[1]) if listening else free_port()
        if not listening:
            silent.close()
        _stale_server_file(attune_home, project, port)
        started = time.monotonic()
        proc = _spawn(procs, project, attune_home, ["-m", "attune", "runs", "start", "quick", "-f"])
        out, err = proc.communicate(timeout=60)
    finally:
        silent.close()
    assert proc.returncode == 0, err
    assert out.strip() == "ran here"
    assert "does not answer" in err and "started here" in err
    assert time.monotonic() - started < 20


# -- attune runs cancel of a run an `attune runs start` owns -------------------------------------

IGNORE_TERM = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\ntime.sleep(60)\n"
)


@pytest.fixture
def owned_run(procs: list[subprocess.Popen[str]], project: Path, config: Config) -> tuple[int, int]:
    """A running run whose owner is a live process with `runs start` in its command line (it
    ignores SIGTERM); ``(run id, owner pid)``."""
    owner = _spawn(procs, project, config.attune_home, ["-c", IGNORE_TERM, "runs", "start", "x"])
    assert owner.stdout is not None and owner.stdout.readline() == "ready\n"
    store = Store(config.db_path, integrity_budget_s=0)
    try:
        run = store.create_run("x", None, ["x"], "cli")
    finally:
        store.close()
    with sqlite3.connect(config.db_path) as conn:
        conn.execute("UPDATE runs SET server_pid = ? WHERE id = ?", (owner.pid, run.id))
    return run.id, owner.pid


def test_a_run_still_running_after_the_wait_is_said_so(
    config: Config, owned_run: tuple[int, int]
) -> None:
    run_id, owner = owned_run
    with pytest.raises(AttuneError, match=r"is still running after 0\.3 s"):
        run_start.cancel_in_terminal(config, run_id, owner, wait_s=0.3)


@pytest.mark.parametrize(
    ("error", "said"), [(ProcessLookupError, "has just ended"), (PermissionError, "may not signal")]
)
def test_a_signal_that_cannot_be_sent_is_one_line(
    config: Config,
    owned_run: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: type[OSError],
    said: str,
) -> None:
    run_id, owner = owned_run
    real_kill = os.kill

    def kill(pid: int, sig: int) -> Any:
        if pid == owner and sig == signal.SIGTERM:
            raise error
        return real_kill(pid, sig)

    monkeypatch.setattr(os, "kill", kill)
    monkeypatch.chdir(config.project_root)
    assert main(["runs", "cancel", str(run_id)]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("attune runs: ") and said in line, line
    assert captured.out == ""

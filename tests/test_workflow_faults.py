"""Hostile workflows files and commands: a FIFO, a huge file, symlinks, NUL bytes.

None of them may hang or wedge the dashboard: the file's problem is a workflow error on the
page, the API and in ``attune ops doctor``; a command no process can take fails its one run and
the next run starts. Anything that could hang runs in a child process with a bound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from attune.ops.config import Config
from attune.ops.runs.project_file import MAX_FILE_BYTES
from attune.ops.runs.runner import Runner
from attune.ops.runs.workflows import Workflow, WorkflowRegistry, WorkflowSet
from attune.ops.store.database import Store
from attune.ops.store.runs import RunStatus
from tests.conftest import ServerProcess
from tests.helpers import PY, python_workflow, start_run, wait_finished, wait_until, workflow_toml

HELLO = python_workflow("hello", "print('hello')")


@pytest.fixture
def fifo_project(project: Path) -> Iterator[Path]:
    """A project whose attune.toml is a FIFO no one writes to, and a valid pyproject.toml."""
    os.mkfifo(project / "attune.toml")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.attune.workflows.lint]\ncommand = ["ruff", "check"]\n'
    )
    yield project
    # Whoever still waits on the FIFO (a reader that ignored O_NONBLOCK) is let go.
    with open(os.open(project / "attune.toml", os.O_RDWR | os.O_NONBLOCK), "wb"):
        pass


def test_a_fifo_attune_toml_is_an_error_and_the_api_answers(
    server_factory: Callable[..., ServerProcess], fifo_project: Path
) -> None:
    server = server_factory(fifo_project)
    r = httpx.get(f"{server.url}/api/workflows", timeout=15)  # the bound: a hang fails here
    assert r.status_code == 200
    body = r.json()
    [error] = body["errors"]
    assert error["file"] == "attune.toml" and "FIFO" in error["message"]
    assert {"lint", "todo-scan"} <= {w["name"] for w in body["workflows"]}
    page = httpx.get(f"{server.url}/workflows", timeout=15)
    assert page.status_code == 200 and "FIFO" in page.text
    assert httpx.get(f"{server.url}/healthz", timeout=15).status_code == 200


def test_a_fifo_attune_toml_fails_the_doctor_check_without_hanging(fifo_project: Path) -> None:
    out = subprocess.run(
        [PY, "-m", "attune", "ops", "doctor", "--json", "--project", str(fifo_project)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    workflows = checks["workflows"]
    assert workflows["status"] == "fail" and "FIFO" in workflows["summary"]
    assert "1 project workflow" in workflows["summary"]  # pyproject's lint still works


def test_a_file_over_the_cap_is_an_error_naming_its_size(project: Path) -> None:
    filler = "# " + "x" * 98 + "\n"
    text = workflow_toml("big", ["true"]) + filler * (MAX_FILE_BYTES // len(filler) + 1)
    (project / "attune.toml").write_text(text)
    found = WorkflowRegistry(project).load()
    [error] = found.errors
    assert error.file == "attune.toml" and f"{len(text):,} bytes" in error.message
    assert "limit" in error.message and "big" not in found.names()


def test_a_directory_at_attune_toml_is_an_error(project: Path) -> None:
    (project / "attune.toml").mkdir()
    [error] = WorkflowRegistry(project).load().errors
    assert error.file == "attune.toml" and "directory" in error.message


def test_a_symlink_inside_the_root_is_followed(project: Path) -> None:
    (project / "config").mkdir()
    (project / "config" / "workflows.toml").write_text(HELLO)
    (project / "attune.toml").symlink_to("config/workflows.toml")
    found = WorkflowRegistry(project).load()
    assert found.errors == () and "hello" in found.names()


def test_a_symlink_out_of_the_root_is_not_followed(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.toml"
    outside.write_text(HELLO)
    (project / "attune.toml").symlink_to(outside)
    found = WorkflowRegistry(project).load()
    [error] = found.errors
    assert error.file == "attune.toml" and "outside the project root" in error.message
    assert "hello" not in found.names()


# -- commands no process could take --------------------------------------------------------------


async def test_a_nul_in_a_command_is_refused_and_runs_go_on(
    client: httpx.AsyncClient, project: Path
) -> None:
    (project / "attune.toml").write_text(
        HELLO + workflow_toml("nul", [PY, "-c", "print(1)\0"]) + python_workflow("ok", "")
    )
    body = (await client.get("/api/workflows")).json()
    [error] = body["errors"]
    assert error["key"] == "workflows.nul.command" and "NUL" in error["message"]
    assert error["line"] is not None
    r = await client.post("/api/runs", json={"workflow": "nul"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_workflow"
    r = await client.post("/api/runs", json={"workflow": "hello", "path": "src/\0x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_path"
    r = await client.post("/api/runs", json={"workflow": "hello"})
    assert r.status_code == 201, r.text


class WithUnchecked(WorkflowRegistry):
    """The project's workflows plus some built in code, unchecked, as a library caller could."""

    def __init__(self, root: Path, *extra: Workflow) -> None:
        super().__init__(root)
        self.extra = extra

    def load(self) -> WorkflowSet:
        found = super().load()
        return WorkflowSet(found.workflows + self.extra, found.errors)


@pytest.mark.parametrize(
    ("command", "env"),
    [
        ((PY, "-c", "print(1)\0"), {}),
        ((PY, "-c", "print(1)"), {"A": "x\0y"}),
        ((PY, "-c", "print(1)"), {"A=B": "1"}),
    ],
    ids=["nul-argument", "nul-env-value", "eq-env-name"],
)
def test_the_runner_fails_one_bad_spawn_cleanly(
    config: Config, project: Path, command: tuple[str, ...], env: dict[str, str]
) -> None:
    """Past the registry, Popen's ValueError fails that run; the busy lock is free again."""
    (project / "attune.toml").write_text(HELLO)
    store = Store(config.attune_home / "faults.db")
    bad = Workflow("bad", "", command, env=env)
    runner = Runner(config, store, registry=WithUnchecked(project, bad))
    try:
        failed = runner.start("bad", None)
        assert failed.status == RunStatus.FAILED and not runner.busy
        [(_, note)] = store.read_lines(failed.id)
        assert note.startswith(f"[attune] could not start {PY!r}: ")
        assert "cannot be passed to a process" in note and note == failed.error
        assert store.require_run(failed.id).status == RunStatus.FAILED
        nxt = runner.start("hello", None)
        assert nxt.status == RunStatus.RUNNING
        wait_until(lambda: store.require_run(nxt.id).status != RunStatus.RUNNING)
        assert store.require_run(nxt.id).status == RunStatus.SUCCEEDED
    finally:
        runner.stop()
        store.close()


def test_a_real_server_survives_a_nul_workflow(
    server_factory: Callable[..., ServerProcess], project: Path
) -> None:
    (project / "attune.toml").write_text(HELLO + workflow_toml("nul", [PY, "-c", "x\0"]))
    server = server_factory(project)
    headers = {"X-Attune-Token": server.token}
    r = httpx.post(f"{server.url}/api/runs", json={"workflow": "nul"}, headers=headers)
    assert r.status_code == 404
    run = start_run(server, "hello")
    assert wait_finished(server, run["id"])["status"] == "succeeded"
    assert "hello" in httpx.get(f"{server.url}/api/runs/{run['id']}/log", timeout=10).text


def test_the_doctor_names_a_nul_workflow(project: Path) -> None:
    (project / "attune.toml").write_text(HELLO + workflow_toml("nul", [PY, "-c", "x\0"]))
    out = subprocess.run(
        [sys.executable, "-m", "attune", "ops", "doctor", "--json", "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    workflows = {c["name"]: c for c in json.loads(out.stdout)["checks"]}["workflows"]
    assert workflows["status"] == "fail"
    assert (
        "attune.toml:" in workflows["summary"] and "[workflows.nul.command]" in workflows["summary"]
    )

"""The workflow registry: built-ins, attune.toml / pyproject.toml, broken files, live edits."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx

from attune.ops.runs.workflows import WorkflowRegistry, parse_workflows

GOOD = """
[workflows.tests]
description = "Run the test suite"
command = ["python", "-m", "pytest", "{path}"]
accepts_path = true
timeout_s = 1800
env = { PYTHONUNBUFFERED = "1" }
"""


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()  # make sure a quick second write is seen as a change
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_builtins_are_always_there(project: Path) -> None:
    found = WorkflowRegistry(project).load()
    names = {w.name: w for w in found.workflows}
    assert {"todo-scan", "secrets-scan"} <= set(names)
    scan = names["todo-scan"]
    assert scan.source == "builtin" and scan.accepts_path
    assert scan.command[:3] == (sys.executable, "-m", "attune.workflows.todo_scan")
    assert found.errors == ()


def test_project_workflow_from_attune_toml(project: Path) -> None:
    (project / "attune.toml").write_text(GOOD)
    tests = WorkflowRegistry(project).get("tests")
    assert tests.source == "project"
    assert tests.timeout_s == 1800.0
    assert dict(tests.env) == {"PYTHONUNBUFFERED": "1"}
    assert tests.argv("src/app") == ["python", "-m", "pytest", "src/app"]
    assert tests.argv(None) == ["python", "-m", "pytest", "."]
    assert tests.to_json() == {
        "name": "tests",
        "description": "Run the test suite",
        "accepts_path": True,
        "source": "project",
    }


def test_pyproject_tool_table(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.attune.workflows.lint]\ncommand = ["ruff", "check"]\n'
    )
    lint = WorkflowRegistry(project).get("lint")
    assert lint.command == ("ruff", "check") and not lint.accepts_path


def test_bad_toml_reports_file_and_line(project: Path) -> None:
    (project / "attune.toml").write_text('[workflows.a]\ncommand = ["x"]\n\n[workflows.b\n')
    found = WorkflowRegistry(project).load()
    assert len(found.errors) == 1
    err = found.errors[0]
    assert err.file == "attune.toml" and err.line == 4
    assert "invalid TOML" in err.message
    assert {"todo-scan", "secrets-scan"} <= found.names()  # the dashboard still works


def test_bad_entries_are_located_and_good_ones_kept(project: Path) -> None:
    text = (
        GOOD
        + '\n[workflows.typo]\ncommand = ["make"]\ncomand = 1\n'
        + "\n[workflows.empty]\ncommand = []\n"
        + '\n[workflows.types]\ncommand = "make test"\ntimeout_s = -5\naccepts_path = "yes"\n'
        + '\n[workflows.noop]\ndescription = "no command"\n'
    )
    (project / "attune.toml").write_text(text)
    lines = text.splitlines()
    found = WorkflowRegistry(project).load()
    assert "tests" in found.names()
    assert not {"typo", "empty", "types", "noop"} & found.names()
    by_key = {e.key: e for e in found.errors}
    typo = by_key["workflows.typo.comand"]
    assert lines[typo.line - 1].startswith("comand") and "unknown key" in typo.message
    empty = by_key["workflows.empty.command"]
    assert lines[empty.line - 1] == "command = []" and "empty" in empty.message
    assert lines[by_key["workflows.types.command"].line - 1].startswith('command = "make')
    assert lines[by_key["workflows.types.timeout_s"].line - 1].startswith("timeout_s")
    assert "true or false" in by_key["workflows.types.accepts_path"].message
    noop = by_key["workflows.noop"]
    assert lines[noop.line - 1] == "[workflows.noop]" and "command" in noop.message
    assert all(e.file == "attune.toml" for e in found.errors)


def test_workflows_must_be_tables() -> None:
    found, errors = parse_workflows('workflows = "oops"\n', "attune.toml")
    assert found == [] and errors[0].line == 1 and errors[0].key == "workflows"
    found, errors = parse_workflows("[workflows]\nx = 3\n", "attune.toml")
    assert found == [] and errors[0].line == 2 and errors[0].key == "workflows.x"


def test_edits_are_picked_up_without_restart(project: Path) -> None:
    registry = WorkflowRegistry(project)
    assert "tests" not in registry.load().names()
    _write(project / "attune.toml", GOOD)
    assert "tests" in registry.load().names()
    _write(project / "attune.toml", GOOD.replace("tests", "suite"))
    assert registry.load().names() >= {"suite"} and "tests" not in registry.load().names()
    (project / "attune.toml").unlink()
    assert "suite" not in registry.load().names()


def test_unreadable_bytes_are_an_error_not_a_crash(project: Path) -> None:
    (project / "attune.toml").write_bytes(b"\xff\xfe[workflows")
    found = WorkflowRegistry(project).load()
    assert found.errors and found.errors[0].file == "attune.toml"


async def test_api_lists_workflows_and_errors(client: httpx.AsyncClient, project: Path) -> None:
    (project / "attune.toml").write_text(GOOD + "\n[workflows.bad]\ncommand = [1]\n")
    r = await client.get("/api/workflows")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    tests = next(w for w in body["workflows"] if w["name"] == "tests")
    assert tests == {
        "name": "tests",
        "description": "Run the test suite",
        "accepts_path": True,
        "source": "project",
    }
    assert {w["name"] for w in body["workflows"]} >= {"todo-scan", "secrets-scan"}
    [error] = body["errors"]
    assert error["file"] == "attune.toml" and error["key"] == "workflows.bad.command"
    assert error["line"] == GOOD.count("\n") + 3

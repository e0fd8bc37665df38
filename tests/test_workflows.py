"""The workflow registry: built-ins, attune.toml / pyproject.toml, broken files, live edits."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attune.ops.errors import InvalidPath
from attune.ops.runs.scope import normalize_rel
from attune.ops.runs.workflows import (
    MAX_SHOWN_ERRORS,
    Workflow,
    WorkflowRegistry,
    parse_workflows,
)
from tests.helpers import toml_string, workflow_toml

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
        "origin": "attune.toml:2",
        "command": ["python", "-m", "pytest", "{path}"],
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
        "origin": "attune.toml:2",
        "command": ["python", "-m", "pytest", "{path}"],
        "last_run": None,
        "success_rate": None,
    }
    assert {w["name"] for w in body["workflows"]} >= {"todo-scan", "secrets-scan"}
    [error] = body["errors"]
    assert error["file"] == "attune.toml" and error["key"] == "workflows.bad.command"
    assert error["line"] == GOOD.count("\n") + 3


# -- commands no process could take --------------------------------------------------------------


def test_nul_bytes_and_bad_env_names_are_workflow_errors(project: Path) -> None:
    """exec() cannot take them: the file is wrong, so the registry says so, with line and key."""
    tables = {
        "nul-arg": (["python", "-c", "print(1)\0"], {}),
        "nul-value": (["true"], {"A": "x\0y"}),
        "eq-name": (["true"], {"A=B": "1"}),
        "empty-name": (["true"], {"": "1"}),
        "nul-name": (["true"], {"A\0": "1"}),
    }
    text = GOOD
    for name, (command, env) in tables.items():
        text += workflow_toml(name, command)
        if env:
            pairs = ", ".join(f"{toml_string(k)} = {toml_string(v)}" for k, v in env.items())
            text += f"env = {{ {pairs} }}\n\n"
    (project / "attune.toml").write_text(text)
    lines = text.splitlines()
    found = WorkflowRegistry(project).load()
    assert "tests" in found.names() and not set(tables) & found.names()
    by_workflow = {e.key.split(".")[1]: e for e in found.errors if e.key}
    assert set(by_workflow) == set(tables) and len(found.errors) == len(tables)
    arg = by_workflow["nul-arg"]
    assert arg.key == "workflows.nul-arg.command" and "argument 3" in arg.message
    assert lines[arg.line - 1].startswith("command = ") and "NUL" in arg.message
    for name in ("nul-value", "eq-name", "empty-name", "nul-name"):
        error = by_workflow[name]
        assert error.file == "attune.toml" and error.key == f"workflows.{name}.env"
        assert lines[error.line - 1].startswith("env = {"), (name, error)
    assert "NUL" in by_workflow["nul-value"].message
    assert "'A=B'" in by_workflow["eq-name"].message


def test_env_errors_in_a_sub_table_point_at_its_header(project: Path) -> None:
    text = '[workflows.x]\ncommand = ["true"]\n\n[workflows.x.env]\n"A=B" = "1"\n'
    (project / "attune.toml").write_text(text)
    [error] = WorkflowRegistry(project).load().errors
    assert error.key == "workflows.x.env" and error.line == 4


def test_path_substitution_cannot_bring_a_nul() -> None:
    """``{path}`` is the scope the runner normalised, and normalisation refuses a NUL."""
    with pytest.raises(InvalidPath):
        normalize_rel("src/\0x")
    [workflow], _ = parse_workflows(
        '[workflows.t]\ncommand = ["grep", "-r", "x", "{path}"]\naccepts_path = true\n', "a"
    )
    assert workflow.argv(normalize_rel("src/app")) == ["grep", "-r", "x", "src/app"]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=20))
def test_every_path_the_scope_accepts_keeps_argv_free_of_nul(path: str) -> None:
    try:
        scope = normalize_rel(path)
    except InvalidPath:
        return
    workflow = Workflow("t", "", ("grep", "{path}", "--", "x{path}y"), accepts_path=True)
    assert not any("\0" in part for part in workflow.argv(scope or None))


def test_nesting_too_deep_for_tomllib_is_an_error_not_a_crash(project: Path) -> None:
    (project / "attune.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    found = WorkflowRegistry(project).load()
    [error] = found.errors
    assert error.file == "attune.toml" and "nested too deeply" in error.message
    assert {"todo-scan", "secrets-scan"} <= found.names()


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_lines_are_counted_as_tomllib_counts_them(newline: str) -> None:
    """A raw U+2028 in a string is no line break, and CRLF files count like LF ones."""
    lines = ["[workflows.a]", 'description = "x\u2028y"', 'command = ["make"]', ""]
    lines += ["[workflows.b]", 'command = ["make"]', "comand = 1", ""]
    text = newline.join(lines)
    _, [error] = parse_workflows(text, "attune.toml")
    assert error.key == "workflows.b.comand" and error.line == 7


# -- big broken files ----------------------------------------------------------------------------


def broken_entries(count: int) -> str:
    """``count`` tables, each with an unknown key and no command: two errors apiece."""
    return "".join(f"[workflows.w{i}]\ncomand = ['make']\n\n" for i in range(count))


async def test_ten_thousand_broken_entries_load_with_errors_capped(
    client: httpx.AsyncClient, project: Path
) -> None:
    text = GOOD + broken_entries(10_000)
    (project / "attune.toml").write_text(text)
    lines = text.splitlines()
    found = WorkflowRegistry(project).load()
    assert len(found.errors) == 20_000 and "tests" in found.names()
    last = [e for e in found.errors if e.key == "workflows.w9999.comand"]
    assert [lines[e.line - 1] for e in last] == ["comand = ['make']"]
    missing = next(e for e in found.errors if e.key == "workflows.w9999")
    assert lines[missing.line - 1] == "[workflows.w9999]"

    body = (await client.get("/api/workflows")).json()
    assert "tests" in {w["name"] for w in body["workflows"]}
    shown = body["errors"]
    assert len(shown) == MAX_SHOWN_ERRORS + 1
    assert shown[-1]["file"] == "attune.toml" and shown[-1]["line"] is None
    assert (
        shown[-1]["message"] == f"… and {20_000 - MAX_SHOWN_ERRORS:,} more problems in attune.toml"
    )
    page = await client.get("/workflows")
    assert page.status_code == 200 and "19,800 more problems" in page.text
    assert page.text.count('class="wf-error-where"') == MAX_SHOWN_ERRORS + 1
    # The header counts them all, not the entries shown.
    assert re.search(r"20,?000 problems in the workflow files", page.text)


KEYS = ["description", "command", "accepts_path", "timeout_s", "env", "comand", "extra"]
VALUES = {
    "description": ['"d"', "3"],
    "command": ['["make"]', '"make"', "[]"],
    "accepts_path": ["true", '"yes"'],
    "timeout_s": ["5", "-1"],
    "env": ['{ A = "1" }', "{ A = 1 }"],
    "comand": ["1"],
    "extra": ['"x"'],
}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 2)), unique_by=lambda kv: kv[0]),
        min_size=1,
        max_size=6,
    )
)
def test_every_error_points_at_its_header_or_its_key(tables: list[list[tuple[str, int]]]) -> None:
    """Whatever the tables hold, an error's line shows the key it names (or the table)."""
    text = ""
    for index, pairs in enumerate(tables):
        text += f"[workflows.w{index}]\n"
        for key, choice in pairs:
            options = VALUES[key]
            text += f"{key} = {options[choice % len(options)]}\n"
        text += "\n"
    lines = text.splitlines()
    _, errors = parse_workflows(text, "attune.toml")
    for error in errors:
        assert error.key is not None and error.line is not None
        _, name, *key = error.key.split(".")
        shown = lines[error.line - 1]
        expected = f"{key[0]} = " if key else f"[workflows.{name}]"
        assert shown.startswith(expected), (error, shown)

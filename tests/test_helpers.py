"""The shared test helpers themselves: the workflow-TOML writer and ``pid_alive``.

A writer that mangled a name or a command would make other tests pass or fail for the wrong
reason, so it is checked against ``tomllib`` for any text, and against the app's own parser.
"""

from __future__ import annotations

import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attune.ops.runs.workflows import parse_workflows
from tests.helpers import PY, pid_alive, python_workflow, workflow_toml, write_workflows

AWKWARD = [
    "name with space",
    "dotted.name",
    'a "quoted" name',
    "back\\slash",
    "trailing\\",
    "ünïcødé ☃ 名前",
    "emoji 🚀",
    "new\nline\ttab\rcr",
    "nul\x00 bell\x07 del\x7f esc\x1b",
    "[workflows.injected]",
    "x]\ncommand = ['rm']\n[y",
    "'single'",
    "",
]


def parsed(text: str) -> dict[str, Any]:
    workflows: dict[str, Any] = tomllib.loads(text)["workflows"]
    return workflows


@pytest.mark.parametrize("name", AWKWARD)
def test_awkward_names_and_strings_round_trip_through_tomllib(name: str) -> None:
    text = workflow_toml(name, [PY, "-c", f"print({name!r})", name], description=name)
    assert parsed(text) == {
        name: {"description": name, "command": [PY, "-c", f"print({name!r})", name]}
    }


@given(
    name=st.text(max_size=30),
    command=st.lists(st.text(max_size=30), min_size=1, max_size=4),
    description=st.none() | st.text(max_size=30),
    accepts_path=st.booleans(),
    timeout_s=st.none() | st.floats(min_value=0.001, max_value=1e6),
)
def test_any_text_round_trips_through_tomllib(
    name: str,
    command: list[str],
    description: str | None,
    accepts_path: bool,
    timeout_s: float | None,
) -> None:
    text = workflow_toml(
        name, command, description=description, accepts_path=accepts_path, timeout_s=timeout_s
    )
    expected: dict[str, Any] = {"command": command}
    if description is not None:
        expected["description"] = description
    if accepts_path:
        expected["accepts_path"] = True
    if timeout_s is not None:
        expected["timeout_s"] = timeout_s
    assert parsed(text) == {name: expected}


def test_tables_concatenate_into_one_file(project: Path) -> None:
    path = write_workflows(
        project,
        python_workflow("a b", "print(1)", "--flag", accepts_path=True),
        python_workflow("a.b", "print(2)", timeout_s=0.5),
        workflow_toml("plain", ["true"]),
    )
    assert parsed(path.read_text()) == {
        "a b": {"command": [PY, "-c", "print(1)", "--flag"], "accepts_path": True},
        "a.b": {"command": [PY, "-c", "print(2)"], "timeout_s": 0.5},
        "plain": {"command": ["true"]},
    }


def test_the_app_reads_a_quoted_dotted_name_as_one_workflow() -> None:
    text = python_workflow("lint.fast", "print('ok')") + python_workflow("has space", "print(1)")
    found, errors = parse_workflows(text, "attune.toml")
    assert [(w.name, w.command) for w in found] == [("lint.fast", (PY, "-c", "print('ok')"))]
    # The name with a space reaches the app whole (no TOML error): refused as a name.
    assert [(e.key, "workflow name" in e.message) for e in errors] == [
        ("workflows.has space", True)
    ]


def test_pid_alive_follows_a_process_to_its_end() -> None:
    # A command name with a space and parentheses, as /proc/PID/stat shows it: "PID (a) Z (b) S".
    code = (
        "import sys\nopen('/proc/self/comm', 'w').write('a) Z (b')\n"
        "print('named', flush=True)\nsys.stdin.read()"
    )
    proc = subprocess.Popen(
        [PY, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline() == "named\n"
        assert Path(f"/proc/{proc.pid}/comm").read_text() == "a) Z (b\n"
        assert pid_alive(proc.pid)
        proc.stdin.close()  # it exits; not reaped yet, it is a zombie
        deadline = time.monotonic() + 10
        while pid_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pid_alive(proc.pid)
        assert proc.poll() is not None  # reaped only now: the zombie was not counted as alive
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert not pid_alive(proc.pid)

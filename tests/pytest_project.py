"""A small real pytest project for the test-result tests: passing, failing, erroring, skipped,
parametrised and class tests, a test that flips on an ignored file, in a git repository.

``V2`` is the change between two runs: ``test_pass`` breaks, ``test_fixed_later`` is fixed,
``test_removed_later`` goes and ``test_added`` comes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers import PY, workflow_toml, write_workflows

V1 = """
import pathlib
import pytest

VERSION = 1


def test_pass():
    assert True


def test_fail():
    assert 1 == 2, "one is not two"


def test_fixed_later():
    assert VERSION == 2


@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke")


def test_error(broken):
    pass


@pytest.mark.skip(reason="not today")
def test_skip():
    pass


@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(n):
    assert n < 3


class TestGroup:
    def test_method(self):
        assert True


def test_flaky():
    state = pathlib.Path(__file__).parent.parent / "state.txt"
    assert not state.exists() or state.read_text() != "fail"


def test_removed_later():
    pass
"""

V2 = (
    V1.replace("VERSION = 1", "VERSION = 2")
    .replace("def test_pass():\n    assert True", "def test_pass():\n    assert False, 'broke'")
    .replace("def test_removed_later():\n    pass\n", "def test_added():\n    pass\n")
)


def git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(project), *args], check=True, capture_output=True, text=True
    ).stdout


def write_project(project: Path) -> None:
    (project / "tests").mkdir()
    (project / "tests" / "test_sample.py").write_text(V1)
    (project / ".gitignore").write_text("state.txt\n.pytest_cache/\n__pycache__/\n")
    write_workflows(
        project,
        workflow_toml(
            "tests", [PY, "-m", "pytest", "-p", "no:cacheprovider", "{path}"], accepts_path=True
        ),
    )
    git(project, "init", "-q")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "v1")

"""The admin key hand-over (``attune.cli`` + ``spend/admin_key.py``): ``attune runs start`` runs
its workflow without the key in its own initial environment, the decision to hand over comes
from the parsed words, a failed re-exec is one line, and a stale ``$ATTUNE_KEY_FD`` is ignored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from attune import cli
from attune.ops.spend import admin_key
from tests.fake_anthropic import ADMIN_KEY
from tests.helpers import python_workflow, write_workflows

PEEK = (
    "import os\n"
    f"KEY = {ADMIN_KEY.encode()!r}\n"
    "data = open(f'/proc/{os.getppid()}/environ', 'rb').read()\n"
    "print('parent environ:', 'LEAKED' if KEY in data else 'clean', flush=True)\n"
)


class _Exec(Exception):
    """What the patched ``os.execve`` raises instead of replacing the test process."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        super().__init__("execve")
        self.argv = argv
        self.env = env


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        raise _Exec(list(argv), dict(env))

    monkeypatch.setattr(os, "execve", fake_execve)
    monkeypatch.setattr(admin_key, "_handed_over", "")


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_runs_start_here_keeps_the_key_out_of_its_workflows_reach(
    project: Path, attune_home: Path
) -> None:
    write_workflows(project, python_workflow("peek", PEEK))
    done = subprocess.run(
        [sys.executable, "-m", "attune", "runs", "start", "peek", "--follow"],
        cwd=project,
        env={**os.environ, "ATTUNE_HOME": str(attune_home), "ANTHROPIC_ADMIN_API_KEY": ADMIN_KEY},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "started here" in done.stderr
    assert done.stdout.splitlines() == ["parent environ: clean"]


@pytest.mark.parametrize(
    ("words", "serves"),
    [
        (["--project", "doctor"], True),
        (["--project", "setup-billing", "--no-browser"], True),
        ([], True),
        (["doctor"], False),
        (["--project", "x", "doctor", "--json"], False),
        (["setup-billing", "--remove"], False),
        (["--help"], False),
        (["--no-such-flag"], False),
    ],
)
def test_serving_is_read_from_the_parsed_action(words: list[str], serves: bool) -> None:
    assert cli._serves(words) is serves


def test_a_flag_value_named_doctor_still_hands_over(
    execs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("ATTUNE_KEY_FD", "0")  # stale, from some parent: no reason to skip
    with pytest.raises(_Exec) as caught:
        cli.main(["ops", "--project", "doctor", "--no-browser"])
    argv, env = caught.value.argv, caught.value.env
    assert argv[0] == sys.executable and argv[-4:] == ["ops", "--project", "doctor", "--no-browser"]
    assert "ANTHROPIC_ADMIN_API_KEY" not in env and ADMIN_KEY not in json.dumps(env)
    fd = int(env["ATTUNE_KEY_FD"])
    assert fd != 0
    try:
        assert os.read(fd, 4096).decode() == f"{env['ATTUNE_KEY_NONCE']}\n{ADMIN_KEY}"
    finally:
        os.close(fd)


def test_runs_start_hands_over_too(execs: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    with pytest.raises(_Exec) as caught:
        cli.main(["runs", "start", "tests"])
    assert caught.value.argv[-3:] == ["runs", "start", "tests"]
    os.close(int(caught.value.env["ATTUNE_KEY_FD"]))


def _pipe_with(data: bytes) -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


@pytest.mark.parametrize("nonce", [None, "wrong"])
def test_a_stale_key_fd_is_ignored(monkeypatch: pytest.MonkeyPatch, nonce: str | None) -> None:
    monkeypatch.setattr(admin_key, "_handed_over", "")
    fd = _pipe_with(b"right\nsk-ant-admin-not-ours")
    monkeypatch.setenv("ATTUNE_KEY_FD", str(fd))
    if nonce is not None:
        monkeypatch.setenv("ATTUNE_KEY_NONCE", nonce)
    try:
        admin_key.adopt_handed_over_key()
        assert admin_key.load_admin_key() is None
        os.fstat(fd)  # not ours: left open
        assert "ATTUNE_KEY_FD" not in os.environ
    finally:
        os.close(fd)


def test_the_hand_over_pipe_with_its_nonce_is_adopted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin_key, "_handed_over", "")
    fd = _pipe_with(f"n0nce\n{ADMIN_KEY}".encode())
    monkeypatch.setenv("ATTUNE_KEY_FD", str(fd))
    monkeypatch.setenv("ATTUNE_KEY_NONCE", "n0nce")
    admin_key.adopt_handed_over_key()
    assert admin_key.load_admin_key() == ADMIN_KEY
    with pytest.raises(OSError):
        os.fstat(fd)  # read and closed


@pytest.mark.parametrize("executable", ["", "not-executable"])
@pytest.mark.parametrize("words", [["ops", "--no-browser"], ["runs", "start", "x"]])
def test_a_failed_re_exec_is_one_line(
    tmp_path: Path, project: Path, executable: str, words: list[str]
) -> None:
    if executable:
        target = tmp_path / executable
        target.write_text("")
        executable = str(target)
    code = (
        "import sys\n"
        f"sys.executable = {executable!r}\n"
        "from attune.cli import main\n"
        f"sys.exit(main({[*words, '--project', str(project)]!r}))\n"
    )
    done: Any = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "ANTHROPIC_ADMIN_API_KEY": ADMIN_KEY},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    command = " ".join(words[:2]) if words[0] == "runs" else "ops"
    [line] = done.stderr.splitlines()
    assert line.startswith(f"attune {command}: cannot start again without"), line
    assert ADMIN_KEY not in done.stderr + done.stdout

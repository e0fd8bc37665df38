"""``attune runs`` behaves like a Unix tool: no colour codes into a pipe (or with ``$NO_COLOR``),
times in the local zone with their offset (``--utc`` for UTC), aligned multi-line commands, and
"whole project" for a run without a path, as the web says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from attune.ops.store.database import Store

SCRIPT = "import sys\nprint(1)\nprint(2)"


@pytest.fixture
def stored(attune_home: Path) -> int:
    store = Store(attune_home / "ops" / "ops.db")
    try:
        run = store.create_run("hello", None, [sys.executable, "-c", SCRIPT], "web")
        store.append_lines(run.id, 1, ["\x1b[32mgreen\x1b[0m text", "plain"])
        store.finish_run(run.id, "succeeded", 0, 1.5, None)
        return run.id
    finally:
        store.close()


def runs(project: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "ATTUNE_HOME": str(home), **env}
    if "NO_COLOR" not in env:
        full.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "attune", "runs", *args],
        cwd=project,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_colour_codes_into_a_pipe(project: Path, attune_home: Path, stored: int) -> None:
    piped = runs(project, attune_home, "log", str(stored))
    assert piped.stdout == "green text\nplain\n"
    forced = runs(project, attune_home, "log", str(stored), "--color", "always")
    assert forced.stdout == "\x1b[32mgreen\x1b[0m text\nplain\n"
    never = runs(project, attune_home, "log", str(stored), "--color", "never")
    assert never.stdout == "green text\nplain\n"


def test_no_color_is_honoured_on_a_terminal(project: Path, attune_home: Path, stored: int) -> None:
    import pty

    def on_terminal(**env: str) -> str:
        leader, follower = pty.openpty()
        full = {**os.environ, "ATTUNE_HOME": str(attune_home), **env}
        if "NO_COLOR" not in env:
            full.pop("NO_COLOR", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "attune", "runs", "log", str(stored)],
            cwd=project,
            env=full,
            stdout=follower,
            stderr=subprocess.DEVNULL,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the terminal closed
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=60)
        os.close(leader)
        return b"".join(chunks).decode().replace("\r\n", "\n")

    assert on_terminal() == "\x1b[32mgreen\x1b[0m text\nplain\n"
    assert on_terminal(NO_COLOR="1") == "green text\nplain\n"


def test_times_are_local_with_their_offset(project: Path, attune_home: Path, stored: int) -> None:
    local = runs(project, attune_home, "show", str(stored), TZ="Asia/Kolkata")
    started = next(line for line in local.stdout.splitlines() if "started" in line)
    assert started.rstrip().endswith("+05:30")
    utc = runs(project, attune_home, "show", str(stored), "--utc", TZ="Asia/Kolkata")
    started = next(line for line in utc.stdout.splitlines() if "started" in line)
    assert started.rstrip().endswith("+00:00")
    listed = runs(project, attune_home, "list", TZ="Asia/Kolkata").stdout.splitlines()
    assert "+05:30" in listed[1]


def test_show_aligns_a_multi_line_command_and_names_the_scope(
    project: Path, attune_home: Path, stored: int
) -> None:
    shown = runs(project, attune_home, "show", str(stored)).stdout.splitlines()
    at = next(i for i, line in enumerate(shown) if line.lstrip().startswith("command"))
    assert shown[at].startswith("   command  ")
    assert shown[at].endswith(" -c 'import sys")
    assert shown[at + 1] == " " * 12 + "print(1)"
    assert shown[at + 2] == " " * 12 + "print(2)'"
    assert "     scope  whole project" in shown
    listed = runs(project, attune_home, "list").stdout.splitlines()
    assert listed[0].endswith("SCOPE") and listed[1].endswith("whole project")

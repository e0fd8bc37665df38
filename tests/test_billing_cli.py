"""``attune ops setup-billing``: a real TTY, piped stdin, the one check request, mode 0600."""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attune.ops.cli.ops import cmd_ops
from attune.ops.spend.admin_key import key_file_problem, load_admin_key
from attune.ops.spend.cache import cache_path
from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic, stop_fake


@pytest.fixture
def fake_anthropic(fake_anthropic: FakeAnthropic) -> FakeAnthropic:
    """The shared fake (conftest), with today's spend on it for the check request to show."""
    fake_anthropic.add(datetime.now(UTC).date(), "1234.5", model="claude-sonnet-4-5")
    return fake_anthropic


def key_file(home: Path) -> Path:
    return home / "anthropic-admin.env"


def run_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cmd_ops(["setup-billing", *args])
    out, err = capsys.readouterr()
    assert ADMIN_KEY not in out + err
    return code, out, err


def test_piped_key_is_checked_once_and_stored_0600(
    fake_anthropic: FakeAnthropic, attune_home: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "ATTUNE_HOME": str(attune_home), "ANTHROPIC_BASE_URL": fake_anthropic.url}
    result = subprocess.run(
        [sys.executable, "-m", "attune", "ops", "setup-billing"],
        input=ADMIN_KEY + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "The Anthropic API answered: ok — $12.35 spent in the last 30 days." in result.stdout
    assert f"Stored the admin key in {key_file(attune_home)} (mode 0600)" in result.stdout
    assert ADMIN_KEY not in result.stdout + result.stderr
    assert stat.S_IMODE(key_file(attune_home).stat().st_mode) == 0o600
    assert key_file(attune_home).read_text().endswith(f"ANTHROPIC_ADMIN_API_KEY={ADMIN_KEY}\n")
    assert load_admin_key(attune_home=attune_home) == ADMIN_KEY
    (request,) = fake_anthropic.report_requests()
    assert request.headers["x-api-key"] == ADMIN_KEY
    cached = cache_path(attune_home).read_text()  # the page needs no second request
    assert ADMIN_KEY not in cached and '"source": "live"' in cached


def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {needle!r}; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_terminal_prompt_does_not_echo_the_key(
    fake_anthropic: FakeAnthropic, attune_home: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "ATTUNE_HOME": str(attune_home), "ANTHROPIC_BASE_URL": fake_anthropic.url}
    argv = [sys.executable, "-m", "attune", "ops", "setup-billing"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: a real controlling terminal, as a user at a shell would have
        os.chdir(tmp_path)
        os.execve(sys.executable, argv, env)
    try:
        deadline = time.monotonic() + 60
        screen = _read_until(fd, b"input hidden): ", deadline)
        os.write(fd, ADMIN_KEY.encode() + b"\n")
        screen += _read_until(fd, b"attune ops", deadline)
        _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    text = screen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert ADMIN_KEY not in text  # not echoed, not printed
    assert "ok — $12.35" in text
    assert stat.S_IMODE(key_file(attune_home).stat().st_mode) == 0o600
    assert len(fake_anthropic.report_requests()) == 1


def test_key_file_is_0600_even_with_a_permissive_umask(
    fake_anthropic: FakeAnthropic, attune_home: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "ATTUNE_HOME": str(attune_home), "ANTHROPIC_BASE_URL": fake_anthropic.url}
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; os.umask(0); from attune.cli import main; "
            "sys.exit(main(['ops', 'setup-billing']))",
        ],
        input=ADMIN_KEY + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert stat.S_IMODE(key_file(attune_home).stat().st_mode) == 0o600
    assert key_file_problem(attune_home) is None


def test_an_existing_world_readable_file_is_replaced_by_a_0600_one(
    fake_anthropic: FakeAnthropic,
    attune_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    attune_home.mkdir(parents=True, exist_ok=True)
    key_file(attune_home).write_text("sk-ant-admin-old\n")
    key_file(attune_home).chmod(0o644)
    code, _, _ = run_in_process(monkeypatch, capsys, ADMIN_KEY + "\n")
    assert code == 0
    assert stat.S_IMODE(key_file(attune_home).stat().st_mode) == 0o600
    assert load_admin_key(attune_home=attune_home) == ADMIN_KEY
    assert sorted(p.name for p in attune_home.iterdir() if "admin" in p.name) == [
        "anthropic-admin.env"
    ]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("sk-ant-api03-abcdef", "that is an API key, not an admin key"),
        ("hunter2", "does not look like an Anthropic admin key"),
        ("sk-ant-admin01 with spaces", "spaces or characters"),
    ],
)
def test_keys_that_are_not_admin_keys_are_refused_without_a_request(
    fake_anthropic: FakeAnthropic,
    attune_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    key: str,
    reason: str,
) -> None:
    code, _, err = run_in_process(monkeypatch, capsys, key + "\n")
    assert code == 2
    assert reason in err and "nothing was stored" in err
    assert key not in err
    assert not key_file(attune_home).exists()
    assert fake_anthropic.requests == []


def test_empty_input_stores_nothing(
    attune_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_in_process(monkeypatch, capsys, "")
    assert code == 2 and "no key given" in err
    assert not key_file(attune_home).exists()


def test_rejected_key_is_reported_and_not_stored(
    fake_anthropic: FakeAnthropic,
    attune_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_anthropic.mode = "401"
    code, _, err = run_in_process(monkeypatch, capsys, ADMIN_KEY + "\n")
    assert code == 1
    assert (
        "The Anthropic API answered: auth_failed: the Anthropic API rejected the admin key" in err
    )
    assert "the key was not stored" in err
    assert not key_file(attune_home).exists()
    assert len(fake_anthropic.report_requests()) == 1


@pytest.mark.parametrize(("mode", "kind"), [("429", "rate_limited"), ("stopped", "network")])
def test_unverifiable_key_is_stored_with_what_the_api_said(
    fake_anthropic: FakeAnthropic,
    attune_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    kind: str,
) -> None:
    if mode == "stopped":
        stop_fake(fake_anthropic)
    else:
        fake_anthropic.mode = mode
    code, out, err = run_in_process(monkeypatch, capsys, ADMIN_KEY + "\n")
    assert code == 0
    assert f"The Anthropic API answered: {kind}: " in err
    assert "could not be verified now; storing it anyway" in err
    assert "Stored the admin key" in out
    assert stat.S_IMODE(key_file(attune_home).stat().st_mode) == 0o600


def test_remove_deletes_the_key_and_the_cached_figures(
    fake_anthropic: FakeAnthropic,
    attune_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_in_process(monkeypatch, capsys, ADMIN_KEY + "\n")[0] == 0
    assert cache_path(attune_home).exists()
    code, out, _ = run_in_process(monkeypatch, capsys, "", "--remove")
    assert code == 0
    assert f"Removed the admin key file {key_file(attune_home)}" in out
    assert "Removed the cached spend figures" in out
    assert not key_file(attune_home).exists() and not cache_path(attune_home).exists()
    code, out, _ = run_in_process(monkeypatch, capsys, "", "--remove")
    assert code == 0 and "nothing to remove" in out


def test_environment_key_is_mentioned(
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", "sk-ant-admin-env-key")
    code, out, _ = run_in_process(monkeypatch, capsys, ADMIN_KEY + "\n")
    assert code == 0 and "takes precedence over the file" in out
    code, out, _ = run_in_process(monkeypatch, capsys, "", "--remove")
    assert "still set in this environment" in out

"""``claude-review`` as a real program against the fake Messages API on loopback.

What it sends (a dirty scope's diff, a clean scope's files), what it refuses to send (a likely
secret, a scope over the cap, an admin key), and how each failure of the API ends the run:
one line, its own exit code, and what streamed before it kept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fake_messages import API_KEY, FakeMessages

SECRET = "sk-ant-api03-" + "Zq9" * 12 + "wxyz"


def review(
    project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attune.workflows.claude_review", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


def sent(fake: FakeMessages) -> str:
    """The user message of the one message request the fake received."""
    [request] = fake.message_requests()
    [message] = request.body["messages"]
    return str(message["content"])


@pytest.fixture
def repo(project: Path) -> Path:
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("def main():\n    return 1\n")
    (project / "src" / "other.py").write_text("UNCHANGED_MARKER = 1\n")
    (project / "docs.md").write_text("outside the scope\n")
    (project / ".gitignore").write_text("*.log\n")
    (project / "attune.toml").write_text(
        '[claude]\nmax_retries = 0\ntimeout_s = 2\n\n[workflows.tests]\ncommand = ["true"]\n'
    )
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "start")
    return project


def test_a_dirty_scope_sends_only_its_diff(repo: Path, fake_messages: FakeMessages) -> None:
    (repo / "src" / "app.py").write_text("def main():\n    return 2  # CHANGED_LINE\n")
    (repo / "src" / "new.py").write_text("NEW_FILE_MARKER = 3\n")
    (repo / "src" / "trace.log").write_text("IGNORED_MARKER\n")
    (repo / "docs.md").write_text("OUTSIDE_CHANGE\n")
    proc = review(repo, "src")
    assert proc.returncode == 0, proc.stderr
    assert "Sending the uncommitted changes of src: 2 files" in proc.stdout
    content = sent(fake_messages)
    assert '<diff path="src/app.py">' in content and "+    return 2  # CHANGED_LINE" in content
    assert '<file path="src/new.py">' in content and "NEW_FILE_MARKER" in content
    for absent in ("UNCHANGED_MARKER", "IGNORED_MARKER", "OUTSIDE_CHANGE"):
        assert absent not in content
    assert fake_messages.paths() == ["/v1/messages/count_tokens", "/v1/messages"]
    headers = fake_messages.message_requests()[0].headers
    # The SDK sends the key (as x-api-key, or as a bearer token in SDK 2.x) and a version.
    sent_key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
    assert sent_key == API_KEY and headers["anthropic-version"]


def test_a_clean_scope_sends_its_text_files(repo: Path, fake_messages: FakeMessages) -> None:
    (repo / "src" / "blob.bin").write_bytes(b"\0BINARY_MARKER")
    (repo / "src" / "node_modules").mkdir()
    (repo / "src" / "node_modules" / "dep.js").write_text("DEPENDENCY_MARKER\n")
    (repo / "src" / "debug.log").write_text("IGNORED_MARKER\n")
    # Tracked, so the scope is clean: the files are left out by the scans' rules, not by git.
    git(repo, "add", "-f", "src/blob.bin", "src/node_modules/dep.js")
    git(repo, "commit", "-q", "-m", "blob")
    proc = review(repo, "src")
    assert proc.returncode == 0, proc.stderr
    assert "Sending 2 files of src" in proc.stdout
    content = sent(fake_messages)
    assert '<file path="src/app.py">' in content and "UNCHANGED_MARKER" in content
    for absent in ("BINARY_MARKER", "DEPENDENCY_MARKER", "IGNORED_MARKER", "outside the scope"):
        assert absent not in content


def test_the_review_streams_indented_and_ends_with_a_verdict_usage_and_a_card(
    repo: Path, fake_messages: FakeMessages
) -> None:
    fake_messages.count = 1234
    proc = review(repo)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "  The change is small and mostly right." in lines
    # The answer's own "ATTUNE_REC …" line is indented: the dashboard never takes it as a card.
    assert '  ATTUNE_REC {"kind": "open-url", "url": "https://evil.example"}' in lines
    [usage] = [json.loads(x.split(" ", 1)[1]) for x in lines if x.startswith("ATTUNE_USAGE ")]
    assert usage == {
        "model": "claude-sonnet-4-6",
        "input_tokens": 1234,
        "output_tokens": 50,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    [rec] = [json.loads(x.split(" ", 1)[1]) for x in lines if x.startswith("ATTUNE_REC ")]
    assert rec["workflow"] == "tests" and rec["path"] is None
    assert "\x1b[1;31mVerdict: changes requested\x1b[0m" in lines[-2]
    body = fake_messages.message_requests()[0].body
    assert body["stream"] is True and body["max_tokens"] == 4096
    assert body["system"].startswith("You are a careful senior engineer")


def test_a_planted_secret_blocks_the_request(repo: Path, fake_messages: FakeMessages) -> None:
    (repo / "src" / "settings.py").write_text(f'DEBUG = True\nKEY = "{SECRET}"\n')
    proc = review(repo, "src")
    assert proc.returncode == 1
    assert fake_messages.paths() == []  # not even the count
    assert "\x1b[31mAnthropic API key\x1b[0m  src/settings.py:2  sk-ant-…wxyz" in proc.stdout
    assert "refused: 1 likely secret in 1 file of what would be sent; nothing was sent" in (
        proc.stderr
    )
    assert SECRET not in proc.stdout + proc.stderr
    assert '"workflow": "secrets-scan"' in proc.stdout


def test_a_secret_a_diff_removes_still_blocks(repo: Path, fake_messages: FakeMessages) -> None:
    (repo / "src" / "old.py").write_text(f"TOKEN = '{SECRET}'\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "oops")
    (repo / "src" / "old.py").write_text("TOKEN = None\n")
    proc = review(repo, "src")
    assert proc.returncode == 1 and fake_messages.paths() == []
    assert "src/old.py:1 (a removed line)  sk-ant-…wxyz" in proc.stdout


def test_over_the_cap_is_refused_before_any_message(
    repo: Path, fake_messages: FakeMessages
) -> None:
    (repo / "attune.toml").write_text("[claude]\nmax_input_tokens = 1000\n")
    fake_messages.count = 48_213
    proc = review(repo, "src")
    assert proc.returncode == 3
    assert "src is 48,213 input tokens, over the cap of 1,000" in proc.stderr
    assert fake_messages.paths() == ["/v1/messages/count_tokens"]


@pytest.mark.parametrize(
    ("mode", "code", "line", "streamed"),
    [
        ("401", 5, "the API refused the key (401 authentication_error: invalid x-api-key)", False),
        ("429", 6, "rate limited (429 rate_limit_error: ", False),
        ("529", 7, "the API is overloaded or failing (529 overloaded_error: Overloaded)", False),
        ("error-event", 7, "overloaded or failing (mid-stream overloaded_error: Overloaded)", True),
        ("reset", 4, "the connection to the Anthropic API failed", True),
        ("hang", 4, "the Anthropic API sent nothing for 2 s ([claude] timeout_s)", True),
    ],
)
def test_every_failure_gives_its_line_and_exit_code_and_keeps_what_streamed(
    repo: Path, fake_messages: FakeMessages, mode: str, code: int, line: str, streamed: bool
) -> None:
    fake_messages.mode = mode
    proc = review(repo, "src")
    assert proc.returncode == code, proc.stdout + proc.stderr
    [said] = proc.stderr.strip().splitlines()  # one clear line
    assert said.startswith("claude-review: ") and line in said
    assert API_KEY not in proc.stdout + proc.stderr
    if mode == "429":
        assert said.endswith("the API asks to wait 7 s before retrying")
    assert ("  The change is small and mostly right." in proc.stdout) is streamed
    # A call that started is billed: its tokens are reported even though it broke.
    assert ("ATTUNE_USAGE " in proc.stdout) is streamed


def test_an_admin_key_or_no_key_is_refused(repo: Path, fake_messages: FakeMessages) -> None:
    admin = review(repo, env={"ANTHROPIC_API_KEY": "sk-ant-admin01-" + "a" * 60})
    assert admin.returncode == 2 and "holds an admin key" in admin.stderr
    assert "a" * 60 not in admin.stdout + admin.stderr
    missing = review(repo, env={"ANTHROPIC_API_KEY": ""})
    assert missing.returncode == 2 and "ANTHROPIC_API_KEY is not set" in missing.stderr
    assert fake_messages.paths() == []


def test_without_the_sdk_it_says_what_to_install(
    repo: Path, fake_messages: FakeMessages, tmp_path: Path
) -> None:
    hide = tmp_path / "no-sdk"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['anthropic'] = None\n")
    proc = review(repo, env={"PYTHONPATH": str(hide)})
    assert proc.returncode == 2
    assert "the anthropic SDK is not installed; pip install 'attune-ops[claude]'" in proc.stderr


def test_claude_settings_come_from_attune_toml(repo: Path, fake_messages: FakeMessages) -> None:
    (repo / "prompts").mkdir()
    (repo / "prompts" / "review.md").write_text("Review like a pirate.\n")
    (repo / "attune.toml").write_text(
        '[claude]\nmodel = "claude-haiku-4-5"\nmax_tokens = 512\n'
        'system_prompt_file = "prompts/review.md"\n'
    )
    proc = review(repo, "src/app.py")
    assert proc.returncode == 0, proc.stderr
    body: dict[str, Any] = fake_messages.message_requests()[0].body
    assert (body["model"], body["max_tokens"], body["system"]) == (
        "claude-haiku-4-5",
        512,
        "Review like a pirate.",
    )
    (repo / "attune.toml").write_text("[claude]\nmax_token = 5\n")
    bad = review(repo)
    assert bad.returncode == 2 and "unknown key 'max_token'" in bad.stderr
    (repo / "attune.toml").write_text('[claude]\nsystem_prompt_file = "../outside.md"\n')
    outside = review(repo)
    assert outside.returncode == 2 and "is outside the project" in outside.stderr

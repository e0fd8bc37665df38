"""The built-in scanners as real programs: todo-scan and secrets-scan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from attune.workflows.secrets_scan import mask, scan_line

ANTHROPIC = "sk-ant-api03-" + "A1b2C3d4E5f6G7h8I9j0" * 3 + "wxyz"
OPENAI = "sk-proj-" + "Q" * 40 + "abcd"
GITHUB = "ghp_" + "a" * 32 + "9876"
AWS_ID = "AKIA" + "ABCDEFGHIJKLMNOP"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"


def run(module: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"attune.workflows.{module}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def repo(project: Path) -> Path:
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("x = 1  # TODO: tidy\n\ny = 2  # FIXME(bob) broken\n")
    (project / "src" / "notes.md").write_text("HACK around it\nXXX: later\nTODOS is no marker\n")
    (project / "src" / "blob.bin").write_bytes(b"\0TODO binary\0")
    (project / "node_modules").mkdir()
    (project / "node_modules" / "dep.js").write_text("// TODO in a dependency\n")
    (project / "gen").mkdir()
    (project / "gen" / "out.py").write_text("# TODO generated\n")
    (project / ".gitignore").write_text("gen/\n")
    return project


def test_todo_scan_groups_by_file(repo: Path) -> None:
    proc = run("todo_scan", repo)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "src/app.py" in out and "src/notes.md" in out
    assert "    1  \x1b[33mTODO " in out and "tidy" in out and "    3  \x1b[33mFIXME" in out
    assert "4 markers in 2 of" in out and "1 TODO, 1 FIXME, 1 HACK, 1 XXX" in out
    assert "dependency" not in out and "generated" not in out and "binary" not in out
    rec = json.loads(out.split("ATTUNE_REC ", 1)[1])
    assert rec["workflow"] == "secrets-scan" and rec["path"] is None


def test_todo_scan_on_a_scope(repo: Path) -> None:
    out = run("todo_scan", repo, "src/app.py").stdout
    assert "2 markers in 1 of 1 files" in out
    assert json.loads(out.split("ATTUNE_REC ", 1)[1])["path"] == "src/app.py"
    assert run("todo_scan", repo, "missing").returncode == 2


def test_secrets_scan_masks_and_fails(project: Path) -> None:
    (project / "config.py").write_text(
        f'ANTHROPIC = "{ANTHROPIC}"\nOPENAI = "{OPENAI}"\ntoken = "{GITHUB}"\n'
        f"aws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n"
    )
    (project / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    proc = run("secrets_scan", project)
    assert proc.returncode == 1
    out = proc.stdout
    for secret in (ANTHROPIC, OPENAI, GITHUB, AWS_ID, AWS_SECRET):
        assert secret not in out  # never the full value
    assert "sk-ant-…wxyz" in out and "sk-proj-…abcd" in out and "ghp_…9876" in out
    assert "AKIA…MNOP" in out and "AWS secret access key" in out
    assert "private key" in out and "id_rsa:1" in out
    assert "config.py:1" in out and "6 likely secrets" in out


def test_secrets_scan_clean_tree_exits_0(repo: Path) -> None:
    proc = run("secrets_scan", repo)
    assert proc.returncode == 0 and "No likely secrets" in proc.stdout


def test_scan_line_does_not_double_count() -> None:
    assert [k for k, _ in scan_line(f"key={ANTHROPIC}")] == ["Anthropic API key"]
    assert scan_line("sk-short") == [] and scan_line("the task-management docs") == []
    assert mask(ANTHROPIC) == "sk-ant-…wxyz"

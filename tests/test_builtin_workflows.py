"""The built-in scanners as real programs: todo-scan and secrets-scan."""

from __future__ import annotations

import json
import os
import socket
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


def run(
    module: str, cwd: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"attune.workflows.{module}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,  # a scan stuck on a FIFO is killed here and the test fails
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
    assert "2 markers in 1 of 1 file scanned" in out  # one file: singular
    assert json.loads(out.split("ATTUNE_REC ", 1)[1])["path"] == "src/app.py"
    assert run("todo_scan", repo, "missing").returncode == 2
    (repo / "src" / "one.py").write_text("z = 3  # XXX once\n")
    one = run("todo_scan", repo, "src/one.py").stdout
    assert "1 marker in 1 of 1 file scanned (0 TODO, 0 FIXME, 0 HACK, 1 XXX)" in one
    assert json.loads(one.split("ATTUNE_REC ", 1)[1])["reason"].startswith("1 marker found;")


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


def test_todo_scan_follows_every_gitignore_like_git(project: Path) -> None:
    files = {
        ".gitignore": "docs/*.md\nlogs/**/trace.py\nbuild-out/\n!build-out/keep.py\n",
        "docs/top.md": "TODO top-level doc\n",
        "docs/sub/deep.md": "TODO deep doc\n",
        "logs/trace.py": "# TODO trace at the top\n",
        "logs/a/b/trace.py": "# TODO trace deep down\n",
        "pkg/.gitignore": "*.gen.py\n!keep.gen.py\n",
        "pkg/x/y/z.gen.py": "# TODO generated deep\n",
        "pkg/x/keep.gen.py": "# TODO kept generated\n",
        "build-out/keep.py": "# TODO inside an ignored folder\n",
        "tool-cache/.gitignore": "# made by a tool\n*\n",
        "tool-cache/data.py": "# TODO cached by a tool\n",
    }
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    proc = run("todo_scan", project)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "deep doc" in out and "kept generated" in out
    for skipped in ("top-level doc", "trace at", "trace deep", "generated deep", "inside an"):
        assert skipped not in out, skipped
    assert "cached by a tool" not in out
    assert "2 markers in 2 of 4 files scanned" in out  # + the .gitignore files of root and pkg


def test_scans_skip_fifos_and_finish(repo: Path) -> None:
    """A FIFO in the tree (as a file, as a .gitignore, as the scope) is skipped, never opened
    in a way that blocks; the regular files around it are still scanned."""
    (repo / "src" / "config.py").write_text(f'KEY = "{ANTHROPIC}"  # XXX rotate\n')
    (repo / "src" / "sub").mkdir()
    for fifo in ("src/pipe", "src/sub/.gitignore", "fifo.md"):
        os.mkfifo(repo / fifo)
    todo = run("todo_scan", repo, timeout=30)
    assert todo.returncode == 0, todo.stderr
    assert "src/app.py" in todo.stdout and "src/config.py" in todo.stdout
    assert "5 markers in 3 of" in todo.stdout and "pipe" not in todo.stdout
    secrets = run("secrets_scan", repo, timeout=30)
    assert secrets.returncode == 1, secrets.stderr
    assert "src/config.py:1" in secrets.stdout and "1 likely secret in " in secrets.stdout
    alone = run("todo_scan", repo, "src/pipe", timeout=30)
    assert alone.returncode == 0 and "0 markers in 0 of 0 files" in alone.stdout


def test_scans_skip_symlinks_sockets_and_oversized_files(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("# TODO outside the project\n")
    (repo / "src" / "link.py").symlink_to(outside)
    (repo / "src" / "big.py").write_text("# TODO big\n" + "x" * (5 * 1024 * 1024))
    monkeypatch.chdir(repo / "src")  # a relative name: socket paths are short (108 bytes)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("sock")
        out = run("todo_scan", repo, timeout=30).stdout
    assert "outside the project" not in out and "big" not in out
    assert "4 markers in 2 of" in out

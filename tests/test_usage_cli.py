"""``attune usage`` as a user runs it: a real process on real transcripts and a real store; it
ingests first, prints the /api/usage object with --json, a table per --by, one line for a bad
flag, and never a word of the transcripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.usage_lines import assistant, at, transcript, user, write

SECRET = "sk-ant-api03-PLANTEDSECRET-cli-0123456789abcdef"


def usage(project: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ATTUNE_HOME": str(tmp_path / "attune-home"),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config"),
        "NO_COLOR": "1",
    }
    env.pop("ANTHROPIC_ADMIN_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "attune", "usage", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def seed(tmp_path: Path, project: Path) -> None:
    cwd = str(project)
    root = tmp_path / "claude-config"
    write(
        transcript(root, cwd, "s1"),
        [
            user(f"use {SECRET}", ts=at(0), cwd=cwd),
            assistant("m1", ts=at(1), cwd=cwd, output_tokens=300, text=SECRET),
            assistant("m2", ts=at(9), cwd=cwd, request_id="r2", model="claude-imaginary-9"),
        ],
    )
    other = str(project.parent / "elsewhere")
    write(transcript(root, other, "s2"), [assistant("m3", ts=at(2), cwd=other, session="s2")])


def test_json_is_the_api_object_after_an_ingest(tmp_path: Path, project: Path) -> None:
    seed(tmp_path, project)
    done = usage(project, tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["scope"] == "project" and body["project"] == str(project)
    assert body["estimate"] is True and body["price_source"].startswith("genai-prices")
    assert body["totals"]["messages"] == 2 and body["totals"]["unpriced_messages"] == 1
    assert [s["id"] for s in body["sessions"]] == ["s1"]
    assert body["reconciliation"] is None and body["skipped_lines"] == 0
    every = json.loads(usage(project, tmp_path, "--all", "--json").stdout)
    assert every["scope"] == "all" and every["totals"]["messages"] == 3
    assert {p["project"] for p in every["projects"]} == {
        str(project),
        str(project.parent / "elsewhere"),
    }
    assert SECRET not in done.stdout + done.stderr


def test_tables_by_day_session_model_block_and_project(tmp_path: Path, project: Path) -> None:
    seed(tmp_path, project)
    by_day = usage(project, tmp_path)
    assert by_day.returncode == 0, by_day.stderr
    assert "estimate, genai-prices" in by_day.stdout and "2026-11-20" in by_day.stdout
    assert "+ 1 unpriced (price unknown)" in by_day.stdout
    assert "s1" in usage(project, tmp_path, "--by", "session").stdout
    models = usage(project, tmp_path, "--by", "model").stdout
    assert "claude-imaginary-9" in models and "price unknown" in models
    recent = usage(project, tmp_path, "--by", "block").stdout
    assert "no 5-hour block in the last 7 days" in recent  # the transcripts are older
    older = usage(project, tmp_path, "--by", "block", "--since", "2026-11-20").stdout
    assert "2026-11-20 10:00" in older
    projects = usage(project, tmp_path, "--all", "--by", "project").stdout
    assert str(project.parent / "elsewhere") in projects and "%" in projects
    for text in (by_day.stdout, models, projects):
        assert SECRET not in text


def test_a_bad_flag_is_one_line_and_exit_code_2(tmp_path: Path, project: Path) -> None:
    bad = usage(project, tmp_path, "--since", "last week")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "attune usage: since must be a date YYYY-MM-DD, not 'last week'"
    ]
    both = usage(project, tmp_path, "--all", "--project", str(project))
    assert both.returncode == 2 and "not allowed with" in both.stderr
    missing = usage(project, tmp_path, "--project", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_help_names_every_flag(tmp_path: Path, project: Path) -> None:
    shown = usage(project, tmp_path, "--help").stdout
    for flag in ("--project", "--all", "--since", "--until", "--by", "--json"):
        assert flag in shown
    assert "attune usage --by session" in shown


def test_the_doctor_reports_roots_transcripts_rows_skips_and_prices(
    tmp_path: Path, project: Path
) -> None:
    seed(tmp_path, project)
    write(transcript(tmp_path / "claude-config", str(project), "s9"), ['{"usage": broken'])
    assert usage(project, tmp_path).returncode == 0  # ingests
    env = {
        **os.environ,
        "ATTUNE_HOME": str(tmp_path / "attune-home"),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "attune", "ops", "doctor", "--json", "--port", "0"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    check = next(c for c in json.loads(out.stdout)["checks"] if c["name"] == "claude code usage")
    assert check["status"] == "pass", check
    summary = check["summary"]
    assert str(tmp_path / "claude-config") in summary and "3 transcripts, 2 in this" in summary
    assert "2 responses stored for this project, 3 in all" in summary
    assert "1 skipped line (last: not JSON)" in summary and "genai-prices 0." in summary
    env["CLAUDE_CONFIG_DIR"] = str(tmp_path / "nothing-here")
    out = subprocess.run(
        [sys.executable, "-m", "attune", "ops", "doctor", "--json", "--port", "0"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    check = next(c for c in json.loads(out.stdout)["checks"] if c["name"] == "claude code usage")
    assert check["status"] == "warn" and "CLAUDE_CONFIG_DIR" in check["fix"]

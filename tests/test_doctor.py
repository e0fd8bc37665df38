"""``attune ops doctor`` and the Health page: each diagnosis with its verdict and fix."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.config import Config, build_config
from attune.ops.doctor import CheckStatus, port_holder, run_checks
from attune.ops.store.database import Store
from attune.text import plural
from tests.fake_anthropic import ADMIN_KEY, FakeAnthropic


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, dict[str, str]]]:
    out = subprocess.run(
        [sys.executable, "-m", "attune", "ops", "doctor", "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    body = json.loads(out.stdout)
    assert body["ok"] is (out.returncode == 0)
    return out.returncode, {c["name"]: c for c in body["checks"]}


def test_healthy_setup_passes(project: Path) -> None:
    (project / "docs" / "specs").mkdir(parents=True)
    (project / "attune.toml").write_text('[workflows.test]\ncommand = ["pytest", "-q"]\n')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    code, checks = doctor("--project", str(project), "--port", str(free))
    assert code == 0
    for name in ("web extra", "listen", "project root", "attune home", "workflows", "store"):
        assert checks[name]["status"] == "pass", checks[name]
    assert checks["workflows"]["summary"].endswith("1 from the project")
    assert checks["admin key"]["status"] == "warn"
    assert checks["admin key"]["fix"] == "attune ops setup-billing"
    assert checks["specs roots"] == {
        "name": "specs roots",
        "status": "pass",
        "summary": "docs/specs",
        "fix": None,
        "kind": None,
    }
    assert checks["store"]["summary"].endswith("integrity ok")


def test_no_key_names_the_cost_fetch_error_kind(
    project: Path,
    attune_home: Path,
    fake_anthropic: FakeAnthropic,
) -> None:
    code, checks = doctor("--project", str(project), "--port", "0")
    assert code == 0  # a missing key is a warning: the dashboard works without spend
    assert checks["admin key"]["summary"] == (
        f"none: $ANTHROPIC_ADMIN_API_KEY is unset and {attune_home / 'anthropic-admin.env'} "
        "does not exist"
    )
    cost = checks["cost report"]
    assert cost["status"] == "warn"
    assert cost["kind"] == "no_key"
    assert cost["summary"] == "no admin key (CostFetchError kind: no_key)"
    assert cost["fix"] == "attune ops setup-billing"
    assert fake_anthropic.requests == []  # nothing to ask without a key


def test_no_attune_toml_says_how_to_add_workflows(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    code, checks = doctor("--project", str(project), "--port", "0")
    assert code == 0
    wf = checks["workflows"]
    assert wf["status"] == "warn"
    assert wf["summary"].startswith(
        "no project workflows: no attune.toml, no [tool.attune.workflows] in pyproject.toml"
    )
    example = '[workflows.test]\ncommand = ["pytest", "-q"]'
    assert wf["fix"] == f"create {project / 'attune.toml'}, e.g.:\n{example}"
    human = subprocess.run(
        [sys.executable, "-m", "attune", "ops", "doctor", "--project", str(project), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert f"fix: create {project / 'attune.toml'}, e.g.:\n" in human
    assert "\n" + " " * 30 + 'command = ["pytest", "-q"]\n' in human  # under the fix
    # The fix is a real one: written as shown, the workflow is found.
    (project / "attune.toml").write_text(wf["fix"].split(":\n", 1)[1] + "\n")
    _, checks = doctor("--project", str(project), "--port", "0")
    assert checks["workflows"]["status"] == "pass"
    assert checks["workflows"]["summary"].endswith("1 from the project")


def test_workflows_in_pyproject_need_no_attune_toml(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.attune.workflows.lint]\ncommand = ["ruff"]\n')
    _, checks = doctor("--project", str(project), "--port", "0")
    assert checks["workflows"]["status"] == "pass"
    assert checks["workflows"]["fix"] is None


def test_busy_port_names_the_holder(project: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, checks = doctor("--project", str(project), "--port", str(port))
        assert port_holder(port) == (os.getpid(), port_holder(port)[1])  # type: ignore[index]
    assert code == 1
    listen = checks["listen"]
    assert listen["status"] == "fail"
    assert f"cannot listen on 127.0.0.1:{port}: in use by pid {os.getpid()}" in listen["summary"]
    assert listen["fix"] == f"stop the other server, or run: attune ops --port {port + 1}"


def test_missing_project_fails_with_the_fix(tmp_path: Path) -> None:
    code, checks = doctor("--project", str(tmp_path / "gone"))
    assert code == 1
    assert checks["configuration"]["status"] == "fail"
    assert "gone does not exist" in checks["configuration"]["summary"]
    assert checks["configuration"]["fix"] == "run attune ops in your project, or pass --project DIR"


def test_broken_attune_toml_names_file_and_line(project: Path) -> None:
    (project / "attune.toml").write_text('[workflows.ok]\ncommand = ["true"]\n\n[workflows.bad\n')
    code, checks = doctor("--project", str(project), "--port", "0")
    assert code == 1
    wf = checks["workflows"]
    assert wf["status"] == "fail"
    assert wf["summary"].startswith("attune.toml:4")
    assert wf["fix"] == f"edit {project / 'attune.toml'} at line 4"


def test_specs_off_and_bad_roots(project: Path) -> None:
    code, checks = doctor(
        "--project", str(project), "--port", "0", "--specs-root", "nope", "--no-specs-candidates"
    )
    assert code == 1
    assert checks["specs roots"]["status"] == "fail"
    assert checks["spec candidates"]["status"] == "warn"


def test_loose_key_file_and_rejected_key(
    project: Path,
    attune_home: Path,
    fake_anthropic: FakeAnthropic,
) -> None:
    attune_home.mkdir(parents=True, exist_ok=True)
    key_file = attune_home / "anthropic-admin.env"
    key_file.write_text(f"ANTHROPIC_ADMIN_API_KEY={ADMIN_KEY}\n")
    key_file.chmod(0o644)
    fake_anthropic.mode = "401"
    code, checks = doctor("--project", str(project), "--port", "0")
    assert code == 1
    assert checks["admin key"]["status"] == "warn"
    assert checks["admin key"]["fix"] == f"chmod 600 {key_file}"
    cost = checks["cost report"]
    assert cost["status"] == "fail"
    assert cost["summary"].startswith("fetch_summary() failed (CostFetchError kind: auth_failed): ")
    assert cost["kind"] == "auth_failed"
    assert "setup-billing" in cost["fix"]
    assert ADMIN_KEY not in json.dumps(checks)


def test_working_key_reports_live_figures(
    project: Path,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_anthropic.add(datetime.now(UTC).date(), "12345", model="claude-x")
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
    found = {c.name: c for c in run_checks(build_config(project, port=0))}
    assert found["admin key"].status is CheckStatus.PASS
    assert found["admin key"].summary == "found in $ANTHROPIC_ADMIN_API_KEY"
    assert found["cost report"].status is CheckStatus.PASS
    assert "today $123.45" in found["cost report"].summary
    assert found["cost report"].kind is None
    assert len(fake_anthropic.report_requests()) == 1


def test_human_output_has_fixes(project: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "attune", "ops", "doctor", "--project", str(project), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    assert f"attune ops doctor — {project}" in out.stdout
    assert "WARN  admin key" in out.stdout
    assert "fix: attune ops setup-billing" in out.stdout
    assert "\x1b[" not in out.stdout  # no colour codes when not a terminal


async def test_health_page_and_api(client: httpx.AsyncClient) -> None:
    api = (await client.get("/api/health")).json()
    names = [c["name"] for c in api["checks"]]
    assert names[:3] == ["web extra", "listen", "project root"]
    assert api["checks"][1]["summary"].startswith("serving on 127.0.0.1:")
    page = await client.get("/health")
    assert page.status_code == 200
    assert "attune ops doctor" in page.text
    assert "attune ops setup-billing" in page.text
    count = {s: sum(c["status"] == s for c in api["checks"]) for s in ("pass", "warn", "fail")}
    verdict = f"{count['pass']} passed, {plural(count['warn'], 'warning')}, {count['fail']} failed."
    assert verdict in page.text and "(s)" not in page.text
    assert api["integrity"] == "ok"
    store = next(c for c in api["checks"] if c["name"] == "store")
    assert store["status"] == "pass" and store["summary"].endswith("integrity ok")


# -- a damaged store ---------------------------------------------------------------------------


def damage(db: Path) -> None:
    """A store whose run log has one overwritten page: it still opens, quick_check finds it."""
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store(db)
    run = store.create_run("w", None, ["w"])
    store.append_lines(run.id, 1, [f"line {i} " + "x" * 4000 for i in range(20)])
    store.finish_run(run.id, "succeeded", 0, 1.0)
    store.close()
    conn = sqlite3.connect(db)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            row[0]
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'run_chunks' AND pagetype = 'overflow' "
                "ORDER BY pageno"
            )
        ]
    finally:
        conn.close()
    with db.open("r+b") as fh:
        fh.seek((pages[len(pages) // 2] - 1) * page_size)
        fh.write(b"\xde\xad\xbe\xef" * (page_size // 4))


def test_doctor_fails_a_damaged_store_with_the_fix(project: Path, attune_home: Path) -> None:
    db = attune_home / "ops" / "ops.db"
    damage(db)
    code, checks = doctor("--project", str(project), "--port", "0")
    assert code == 1
    store = checks["store"]
    assert store["status"] == "fail"
    assert store["summary"].startswith(f"{db} is damaged: ")
    assert "page" in store["summary"]  # quick_check's first finding
    move = f"mv {db} {db}.damaged"
    assert (
        store["fix"]
        == f"stop attune ops, then move it aside ({move}); attune ops starts a fresh one"
    )
    assert db.exists()  # the doctor only looks


async def test_health_reports_the_start_up_integrity_check(
    make_app: Callable[[Config], Any], make_config: Callable[..., Config], attune_home: Path
) -> None:
    damage(attune_home / "ops" / "ops.db")
    app = make_app(make_config())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765"
    ) as client:
        api = (await client.get("/api/health")).json()
        page = (await client.get("/health")).text
    assert api["ok"] is False
    assert api["integrity"] not in ("ok", "unchecked")
    store = next(c for c in api["checks"] if c["name"] == "store")
    assert store["status"] == "fail"
    assert store["summary"].endswith(f"is damaged: {api['integrity']}")
    assert "attune ops starts a fresh one" in store["fix"]
    assert "is damaged" in page and "attune ops starts a fresh one" in page


@pytest.mark.parametrize("status", ["pass", "warn", "fail"])
def test_status_values_are_stable(status: str) -> None:
    assert CheckStatus(status).value == status

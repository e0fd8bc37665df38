"""The two dashboards under test and how to drive each over HTTP.

``Ours`` follows DESIGN.md §5/§7: workflows from ``attune.toml``, ``POST /api/runs`` with the
``X-Attune-Token`` from ``GET /api/session``, SSE at ``/api/runs/{id}/events``, history at
``GET /api/runs?limit=50``.

``Reference`` is PyPI ``attune-ai==16.4.0`` in its own venv: token from
``GET /api/session/token`` sent as ``X-Attune-Client``, ``POST /workflows/{name}/run`` with
``{"path": ...}``, SSE at ``/runs/{id}/stream`` (one ``event: line`` frame per line, then
``event: done``), run status at ``/runs/{id}``, persisted history at ``GET /api/runs/{workflow}``
(its 20 newest runs of one workflow, read from ``<attune_home>/ops/runs/<workflow>/*.json``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from _cost_fixture import FAKE_KEY
from _proc import BenchError

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
GEN = BENCH_DIR / "_gen_lines.py"
GEN_PYTHON = sys.executable  # the same interpreter runs the generator for both products
REF_VENV = ROOT / ".bench" / "ref"
REF_WORKFLOW = "health-check"  # a path-accepting workflow of the reference's registry
OUR_WORKFLOW = "bench-lines"


def base_env(home: Path, user_home: Path) -> dict[str, str]:
    """The environment of every process under test: temp homes, no Anthropic secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC")}
    env.update(ATTUNE_HOME=str(home), HOME=str(user_home))
    env.pop("PORT", None)
    return env


@dataclass
class Sandbox:
    """A product's project directory, attune home and user home under the work dir."""

    project: Path
    home: Path
    user_home: Path

    @classmethod
    def make(cls, root: Path, name: str, counts: list[int]) -> Sandbox:
        box = cls(root / name / "project", root / name / "attune-home", root / name / "home")
        for d in (box.project, box.home, box.user_home):
            d.mkdir(parents=True, exist_ok=True)
        for n in counts:
            (box.project / f"n{n}").write_text(f"{n}\n")  # the scope a run is given
        return box


class Ours:
    """attune-ops from this repository's ``.venv``."""

    name = "ours"
    python = ROOT / ".venv" / "bin" / "python"
    history_path = "/api/runs?limit=50"

    def __init__(self, box: Sandbox, fake_anthropic_url: str) -> None:
        self.box = box
        self.env = base_env(box.home, box.user_home)
        self.env.update(ANTHROPIC_BASE_URL=fake_anthropic_url, ANTHROPIC_ADMIN_API_KEY=FAKE_KEY)
        (box.project / "attune.toml").write_text(
            f"[workflows.{OUR_WORKFLOW}]\n"
            'description = "Benchmark: print N numbered lines"\n'
            f"command = [{json.dumps(GEN_PYTHON)}, {json.dumps(str(GEN))}, " + '"{path}"]\n'
            "accepts_path = true\ntimeout_s = 900\n"
        )

    def cli_cmd(self) -> list[str]:
        return [str(ROOT / ".venv" / "bin" / "attune"), "--help"]

    def server_cmd(self, port: int) -> list[str]:
        return [str(self.python), "-m", "attune", "ops", "--project", str(self.box.project),
                "--port", str(port), "--no-browser"]  # fmt: skip

    bench_server_cmd = server_cmd

    @staticmethod
    def token(client: httpx.Client, base: str) -> str:
        return str(client.get(f"{base}/api/session").json()["token"])

    def start_run(self, client: httpx.Client, base: str, n: int, token: str) -> str:
        response = client.post(
            f"{base}/api/runs",
            json={"workflow": OUR_WORKFLOW, "path": f"n{n}"},
            headers={"X-Attune-Token": token},
        )
        if response.status_code != 201:
            raise BenchError(f"ours: POST /api/runs → {response.status_code} {response.text}")
        return str(response.json()["id"])

    @staticmethod
    def events_path(run_id: str) -> str:
        return f"/api/runs/{run_id}/events"

    @staticmethod
    def status_of(client: httpx.Client, base: str, run_id: str) -> str:
        return str(client.get(f"{base}/api/runs/{run_id}").json()["status"])

    @staticmethod
    def finished(status: str) -> bool:
        return status != "running"


class Reference:
    """attune-ai 16.4.0 from ``.bench/ref`` (see ``_reference.py`` for the bench server)."""

    name = "reference"
    python = REF_VENV / "bin" / "python"
    history_path = f"/api/runs/{REF_WORKFLOW}"

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.env = base_env(box.home, box.user_home)

    def cli_cmd(self) -> list[str]:
        return [str(REF_VENV / "bin" / "attune"), "--help"]

    def server_cmd(self, port: int) -> list[str]:
        return [str(REF_VENV / "bin" / "attune"), "ops", "--project-root", str(self.box.project),
                "--port", str(port), "--no-browser"]  # fmt: skip

    def bench_server_cmd(self, port: int) -> list[str]:
        return [str(self.python), str(BENCH_DIR / "_reference.py"), "--project",
                str(self.box.project), "--port", str(port), "--python", GEN_PYTHON,
                "--gen", str(GEN)]  # fmt: skip

    @staticmethod
    def token(client: httpx.Client, base: str) -> str:
        return str(client.get(f"{base}/api/session/token").json()["token"])

    def start_run(self, client: httpx.Client, base: str, n: int, token: str) -> str:
        response = client.post(
            f"{base}/workflows/{REF_WORKFLOW}/run",
            json={"path": f"n{n}"},
            headers={"X-Attune-Client": token},
        )
        if response.status_code != 201:
            raise BenchError(f"reference: POST run → {response.status_code} {response.text}")
        return str(response.json()["run_id"])

    @staticmethod
    def events_path(run_id: str) -> str:
        return f"/runs/{run_id}/stream"

    @staticmethod
    def status_of(client: httpx.Client, base: str, run_id: str) -> str:
        return str(client.get(f"{base}/runs/{run_id}").json()["status"])

    @staticmethod
    def finished(status: str) -> bool:
        return status in ("completed", "failed")


Product = Ours | Reference


def wait_finished(product: Product, client: httpx.Client, base: str, run_id: str, n: int) -> str:
    """Poll the run until it is no longer running (bounded); its final status."""
    deadline = time.monotonic() + 60 + n / 5_000
    while time.monotonic() < deadline:
        status = product.status_of(client, base, run_id)
        if product.finished(status):
            return status
        time.sleep(0.05)
    raise BenchError(f"{product.name}: run {run_id} still running after the deadline")

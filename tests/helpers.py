"""Plain helpers shared by the test modules (the fixtures live in ``conftest.py``).

- ``workflow_toml`` / ``python_workflow`` / ``write_workflows``: the one writer of ``attune.toml``
  workflow tables, with every key and string quoted (a name with a dot, a space or a quote stays
  one key).
- ``start_run`` / ``wait_finished``: start a run and wait for its end over HTTP against a real
  server (anything with ``url`` and ``token``); ``astart_run`` / ``await_finished`` are their
  async twins for an in-process ``httpx.AsyncClient`` (the ``a`` prefix as in
  ``sse_client.aread_events``).
- ``pid_alive``: whether a process still runs (a zombie counts as gone).
- ``wait_until``: poll a condition with a bound.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import anyio
import httpx

PY = sys.executable


# -- attune.toml ---------------------------------------------------------------------------------


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string.

    JSON escapes the quote, the backslash and every control character below U+0020, all with
    escapes TOML shares. Two differences remain: TOML forbids a raw DEL (U+007F), which JSON
    leaves as it is, and JSON's surrogate pairs for characters beyond U+FFFF (``\\ud83d\\ude80``)
    are no TOML escape, so those characters are written as themselves (UTF-8).
    """
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def workflow_toml(
    name: str,
    command: Sequence[str],
    *,
    description: str | None = None,
    accepts_path: bool = False,
    timeout_s: float | None = None,
) -> str:
    """One ``[workflows."NAME"]`` table, ending with a blank line so tables concatenate."""
    lines = [f"[workflows.{toml_string(name)}]"]
    if description is not None:
        lines.append(f"description = {toml_string(description)}")
    lines.append("command = [" + ", ".join(toml_string(part) for part in command) + "]")
    if accepts_path:
        lines.append("accepts_path = true")
    if timeout_s is not None:
        lines.append(f"timeout_s = {float(timeout_s)!r}")
    return "\n".join(lines) + "\n\n"


def python_workflow(name: str, code: str, *args: str, **options: Any) -> str:
    """A workflow running ``python -c CODE ARGS…`` with this interpreter."""
    return workflow_toml(name, [PY, "-c", code, *args], **options)


def write_workflows(project: Path, *tables: str) -> Path:
    """Write ``tables`` (from :func:`workflow_toml`) as the project's ``attune.toml``."""
    path = project / "attune.toml"
    path.write_text("".join(tables))
    return path


# -- runs ----------------------------------------------------------------------------------------


class Served(Protocol):
    """A running dashboard: ``conftest.ServerProcess`` or anything with its URL and token."""

    @property
    def url(self) -> str: ...

    @property
    def token(self) -> str: ...


def start_run(server: Served, workflow: str, path: str | None = None) -> dict[str, Any]:
    """Start ``workflow`` through ``POST /api/runs``; the run as the API returns it (201)."""
    r = httpx.post(
        f"{server.url}/api/runs",
        json={"workflow": workflow, "path": path},
        headers={"X-Attune-Token": server.token},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def wait_finished(server: Served, run_id: int, timeout: float = 60) -> dict[str, Any]:
    """Poll ``GET /api/runs/ID`` until the run is no longer running; the finished run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{server.url}/api/runs/{run_id}", timeout=10).json()
        if run["status"] != "running":
            return dict(run)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still running after {timeout} s")


async def astart_run(
    client: httpx.AsyncClient, workflow: str, path: str | None = None
) -> dict[str, Any]:
    """:func:`start_run` through an in-process client (its token preset, as ``client`` has)."""
    r = await client.post("/api/runs", json={"workflow": workflow, "path": path})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def await_finished(
    client: httpx.AsyncClient, run_id: int, timeout: float = 60
) -> dict[str, Any]:
    """:func:`wait_finished` through an in-process client."""
    with anyio.fail_after(timeout):
        while True:
            run = (await client.get(f"/api/runs/{run_id}")).json()
            if run["status"] != "running":
                return dict(run)
            await anyio.sleep(0.02)


# -- processes and conditions --------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "PID (COMM) STATE …": COMM may hold spaces and parentheses, so split after the last ")".
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_until(
    predicate: Callable[[], bool], timeout: float = 20.0, message: str = "condition not met in time"
) -> None:
    """Poll ``predicate`` every 0.1 s until it is true; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)

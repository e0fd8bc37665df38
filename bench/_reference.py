"""Serve the reference dashboard (PyPI ``attune-ai==16.4.0``) for the benchmark.

Runs inside the reference's own venv (``.bench/ref``), never ours::

    .bench/ref/bin/python bench/_reference.py --project DIR --port N --python PY --gen GEN

It builds the reference's app exactly as its ``attune ops`` does (``build_config`` +
``create_app`` + ``uvicorn.run``), with two substitutions the benchmark needs:

* its ``RunnerService`` gets a command builder that runs our line generator instead of
  ``attune workflow run <name>`` (persistence and bulletin wired as in its
  ``_build_default_runner``). Runs are started through its real route
  ``POST /workflows/{name}/run`` with ``{"path": "nN"}``; the runner appends ``--path <abs>``,
  from which the generator reads N. The workflow name must be one of its registry's
  path-accepting workflows (we use ``health-check``) — the route rejects anything else.
* its in-process cost cache (``attune.ops.anthropic_cost._CACHE``; it has no on-disk cache and
  its Admin API URL cannot be redirected) is filled with the same 30-day payload our fake
  Anthropic server answers, so its home page renders from a cached summary like ours.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _cost_fixture import cost_payload


def fill_cost_cache() -> None:
    """Put a summary in the reference's in-memory cache under the key its home page reads."""
    from attune.ops import anthropic_cost as ac

    today = datetime.now(UTC).date()
    start = today - timedelta(days=ac._HISTORY_DAYS - 1)
    end = today + timedelta(days=1)
    summary = ac._summarize(cost_payload(), today=today)
    ac._cache_put((start.isoformat(), end.isoformat(), "1d"), summary)


def build_runner(config: object, python: str, gen: str) -> object:
    """The reference's ``RunnerService`` wired like production, running our generator."""
    from attune.bulletin import FileBulletinBackend
    from attune.ops.runner import RunnerService

    def command(workflow: str) -> Sequence[str]:
        return (python, gen)

    return RunnerService(
        command_builder=command,
        persistence_dir=config.runs_dir,  # type: ignore[attr-defined]
        project_root=config.project_root,  # type: ignore[attr-defined]
        bulletin=FileBulletinBackend(config.bulletin_dir),  # type: ignore[attr-defined]
        actor_kind="dashboard",
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="_reference.py")
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--python", required=True, help="interpreter for the generator")
    parser.add_argument("--gen", required=True, help="path of _gen_lines.py")
    args = parser.parse_args(argv)

    import uvicorn

    from attune.ops.config import build_config
    from attune.ops.server import create_app

    config = build_config(
        project_root=args.project, host="127.0.0.1", port=args.port, allow_run=True
    )
    app = create_app(config, runner=build_runner(config, args.python, args.gen))  # type: ignore[arg-type]
    fill_cost_cache()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

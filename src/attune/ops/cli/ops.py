"""``attune ops``: serve the dashboard, set up billing, diagnose a setup.

The web stack is imported only once a server is about to start, never for ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from attune.ops.cli.args import build_ops_parser
from attune.ops.cli.main import run_command
from attune.ops.cli.masking import install_masking
from attune.ops.config import Config, build_config, is_loopback_host
from attune.ops.errors import AttuneError, ConfigError
from attune.ops.listen import bind_error_reason, bind_socket, url_for

__all__ = ["build_ops_parser", "cmd_ops", "config_from_args"]


def config_from_args(args: argparse.Namespace) -> Config:
    """Turn parsed flags (and ``$PORT``) into a :class:`Config`; raises ``ConfigError``."""
    port = args.port
    if port is None and os.environ.get("PORT", "").strip():
        raw = os.environ["PORT"].strip()
        if not raw.isdigit():
            raise ConfigError(f"$PORT={raw!r} is not a port number")
        port = int(raw)
    overrides: dict[str, Any] = {
        "host": args.host,
        "port": port,
        "allow_run": not args.read_only,
        "specs_candidates_enabled": not args.no_specs_candidates,
        "trusted_hosts": tuple(args.trusted_host or ()),
        "runs_retention_days": args.runs_retention_days,
        "database_url": args.database_url,
    }
    if args.specs_root:
        overrides["specs_roots"] = tuple(args.specs_root)
    if args.monthly_budget is not None:
        overrides["monthly_budget_usd"] = args.monthly_budget
    return build_config(args.project, **overrides)


def cmd_ops(argv: Sequence[str] | None = None) -> int:
    """Run ``attune ops`` with ``argv`` (the words after ``ops``); return the exit code.

    Example: ``cmd_ops(["--port", "9000", "--no-browser"])`` serves until Ctrl-C and returns 0;
    it returns 1 with one line on stderr when the port cannot be bound.
    """
    parser = build_ops_parser()
    try:
        args = parser.parse_args(list(sys.argv[2:] if argv is None else argv))
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return int(exc.code or 0)
    _setup_logging(getattr(args, "database_url", None) or os.environ.get("ATTUNE_DATABASE_URL"))
    if args.action == "setup-billing":
        from attune.ops.cli.billing import cmd_setup_billing

        return cmd_setup_billing(args)
    if args.action == "doctor":
        from attune.ops.cli.doctor import cmd_doctor

        return cmd_doctor(args, config_from_args)
    return run_command(
        "ops", lambda: serve(config_from_args(args), open_browser=not args.no_browser)
    )


def _setup_logging(database_url: str | None = None) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format="attune: %(levelname)s %(message)s")
    logging.getLogger("uvicorn.error").addFilter(_quiet_deliberate_cuts)
    install_masking(database_url)


def _quiet_deliberate_cuts(record: logging.LogRecord) -> bool:
    # The events route ends a stream early to disconnect a reader that stopped reading
    # (routes/runs.py, EventStreamResponse); uvicorn reports every such end as an error.
    return record.getMessage() != "ASGI callable returned without completing response."


def serve(config: Config, *, open_browser: bool) -> int:
    """Bind, build the app, print the banner, open the browser, serve until Ctrl-C."""
    from attune.ops.web.app import WebStackMissing

    if not is_loopback_host(config.host) and not config.trusted_hosts:
        print(
            f"attune ops: warning: --host {config.host} is reachable from other machines and "
            "anyone who can reach it can run workflows; browsers must use a --trusted-host "
            "name (none given).",
            file=sys.stderr,
        )
    try:
        sock = bind_socket(config.host, config.port)
    except OSError as exc:
        print(
            f"attune ops: cannot listen on {config.host}:{config.port}: {bind_error_reason(exc)}",
            file=sys.stderr,
        )
        return 1
    # With --port 0 the system picked the port: from here on the config names the real one
    # (the Host allowlist, the server file of `attune runs cancel`, the Health page).
    config = dataclasses.replace(config, port=int(sock.getsockname()[1]))
    try:
        import uvicorn

        from attune.ops.web.app import create_app

        app = create_app(config)
    except WebStackMissing as exc:
        sock.close()
        print(f"attune ops: {exc}", file=sys.stderr)
        return 1
    except AttuneError:
        sock.close()
        raise
    from attune.ops.web.services import services_of

    url = url_for(config)
    _print_banner(config, url, app)
    server = _dashboard_server(uvicorn)(
        services_of(app).begin_shutdown,
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=3,
            lifespan="on",
        ),
    )
    if open_browser:
        threading.Timer(0.2, _open_browser, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("attune ops: stopped.", file=sys.stderr)
    return 0


def _dashboard_server(uvicorn: Any) -> Any:
    """uvicorn's server, told of a stop request at once, and ending with exit code 0.

    On the first Ctrl-C, SIGTERM or SIGHUP (the terminal closed) the app ends its live run and
    its live streams, so the graceful shutdown never waits on (and then cancels, with a
    traceback) an open run page.
    uvicorn re-raises the captured signal after its shutdown; the dashboard has shut down
    cleanly by then, so it returns instead and ``attune ops`` exits 0.
    """

    class DashboardServer(uvicorn.Server):  # type: ignore[misc]
        def __init__(self, on_stop: Callable[[], None], config: Any) -> None:
            super().__init__(config)
            self._on_stop = on_stop

        def handle_exit(self, sig: int, frame: Any) -> None:
            first = not self.should_exit
            super().handle_exit(sig, frame)
            if first:
                with contextlib.suppress(RuntimeError):  # no loop yet, or closed
                    asyncio.get_running_loop().call_soon_threadsafe(self._on_stop)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return DashboardServer


def _open_browser(url: str) -> None:
    try:
        webbrowser.open(url)
    except Exception:
        logging.getLogger(__name__).info("could not open a browser for %s", url)


def _print_banner(config: Config, url: str, app: Any) -> None:
    runs = "enabled (one at a time)" if config.allow_run else "disabled (--read-only)"
    lines = [
        f"attune ops — {url}",
        f"  project  {config.project_root}",
        f"  home     {config.attune_home}",
        f"  store    {config.store_label}{' (team)' if config.database_url else ''}",
        f"  runs     {runs}",
    ]
    from attune.ops.web.services import services_of

    moved = services_of(app).store.moved_aside
    if moved is not None:
        lines.append(f"  note     the old database could not be read; it was moved to {moved}")
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)

"""``attune ops``: serve the dashboard, set up billing, diagnose a setup.

The web stack is imported only once a server is about to start, never for ``--help``.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys
import threading
import webbrowser
from collections.abc import Sequence
from typing import Any

from attune.ops.config import Config, ConfigError, build_config, is_loopback_host

__all__ = ["add_ops_parser", "build_ops_parser", "cmd_ops", "config_from_args"]

DESCRIPTION = "Serve the attune ops dashboard for the project in the current directory."
EPILOG = """examples:
  attune ops                          serve http://127.0.0.1:8765 and open the browser
  attune ops --port 9000 --no-browser
  attune ops --read-only              show everything, run nothing
  attune ops setup-billing            connect the Anthropic Admin API (spend panel)
  attune ops doctor                   diagnose this setup
"""


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """The flags shared by ``attune ops`` and ``attune ops doctor`` (DESIGN §4)."""
    parser.add_argument("--project", metavar="DIR", help="project root (default: current dir)")
    parser.add_argument("--host", metavar="H", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port", metavar="N", type=int, help="port to bind (default: $PORT, else 8765)"
    )
    parser.add_argument(
        "--read-only", action="store_true", help="show everything but refuse to start runs"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open a browser once serving"
    )
    parser.add_argument(
        "--specs-root",
        metavar="DIR",
        action="append",
        help="a folder of specs (repeatable; default: docs/specs, .kiro/specs, specs)",
    )
    parser.add_argument(
        "--no-specs-candidates",
        action="store_true",
        help="do not flag specs whose tasks are all done",
    )
    parser.add_argument(
        "--trusted-host",
        metavar="H",
        action="append",
        help="an extra Host header value to accept (repeatable; for non-loopback binds)",
    )
    parser.add_argument(
        "--runs-retention-days",
        metavar="N",
        type=int,
        help="delete runs older than N days (default 30; 0 keeps all)",
    )
    parser.add_argument(
        "--monthly-budget", metavar="USD", help="monthly Anthropic budget for the spend panel"
    )


def build_ops_parser(prog: str = "attune ops") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _fill_ops_parser(parser)
    return parser


def _fill_ops_parser(parser: argparse.ArgumentParser) -> None:
    add_server_flags(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    billing = actions.add_parser(
        "setup-billing",
        help="store the Anthropic admin key for the spend panel",
        description="Ask for the Anthropic admin key (no echo; or read it from stdin), check it "
        "with one request and store it with mode 0600. Example: attune ops setup-billing",
    )
    billing.add_argument("--remove", action="store_true", help="delete the stored key")
    doctor = actions.add_parser(
        "doctor",
        help="diagnose this setup: pass / warn / fail with the fix for each check",
        description="Run every diagnosis check. Example: attune ops doctor --json",
    )
    add_server_flags(doctor)
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")


def add_ops_parser(commands: Any) -> None:
    """Register ``ops`` under the top-level ``attune`` parser (for ``attune --help``)."""
    parser = commands.add_parser(
        "ops",
        help="serve the dashboard (and setup-billing, doctor)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _fill_ops_parser(parser)


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
    _setup_logging()
    if args.action == "setup-billing":
        from attune.ops.billing_cli import cmd_setup_billing

        return cmd_setup_billing(args)
    if args.action == "doctor":
        from attune.ops.doctor import cmd_doctor

        return cmd_doctor(args, config_from_args)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"attune ops: {exc}", file=sys.stderr)
        return 2
    return serve(config, open_browser=not args.no_browser)


def _setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format="attune: %(levelname)s %(message)s")


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` now, so failures are known before anything starts."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP;
    # without it every response waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def bind_error_reason(exc: OSError) -> str:
    """A short human reason for a failed bind."""
    if isinstance(exc, socket.gaierror):
        return "the host name cannot be resolved"
    reasons = {
        errno.EADDRINUSE: "the port is already in use (is another attune ops running?)",
        errno.EADDRNOTAVAIL: "the address is not available on this machine",
        errno.EACCES: "permission denied (ports below 1024 need root)",
    }
    return reasons.get(exc.errno or 0, exc.strerror or str(exc))


def url_for(config: Config, port: int) -> str:
    host = config.host
    if host in ("0.0.0.0", "::"):  # noqa: S104 - only to print a clickable address
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def serve(config: Config, *, open_browser: bool) -> int:
    """Bind, build the app, print the banner, open the browser, serve until Ctrl-C."""
    from attune.ops.server import WebStackMissing

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
    try:
        import uvicorn

        from attune.ops.server import create_app

        app = create_app(config)
    except WebStackMissing as exc:
        sock.close()
        print(f"attune ops: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        sock.close()
        print(f"attune ops: {exc}", file=sys.stderr)
        return 2
    port = int(sock.getsockname()[1])
    url = url_for(config, port)
    _print_banner(config, url, app)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=3,
            lifespan="on",
        )
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
        f"  runs     {runs}",
    ]
    moved = app.state.services.store.moved_aside
    if moved is not None:
        lines.append(f"  note     the old database could not be read; it was moved to {moved}")
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)

"""Shared fixtures: real configs on tmp_path, in-process apps, real server processes, Chromium,
the fake Anthropic Admin API.

Every process a test starts runs in its own session and is killed as a group at teardown.
Plain helpers (the workflow-TOML writer, start a run and wait for it, ``pid_alive``) are in
``tests/helpers.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from attune.ops.config import Config, build_config
from tests.fake_anthropic import FakeAnthropic, running_fake
from tests.fake_messages import FakeMessages, running_messages
from tests.postgres_cluster import PostgresCluster, running_cluster

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: Any, name: str, obj: Any) -> None:
    """Every ``async def`` test runs on asyncio through anyio's plugin (marked at collection)."""
    import inspect

    if inspect.iscoroutinefunction(obj) and name.startswith("test"):
        pytest.mark.anyio(obj)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real home, key or Anthropic endpoint."""
    monkeypatch.setenv("ATTUNE_HOME", str(tmp_path / "attune-home"))
    for name in ("ANTHROPIC_ADMIN_API_KEY", "ANTHROPIC_BASE_URL", "PORT"):
        monkeypatch.delenv(name, raising=False)
    # Tests refresh the spend at will; tests/test_cost_throttle.py restores the one-a-minute rule.
    monkeypatch.setenv("ATTUNE_COST_MIN_REFRESH_S", "0")
    # Claude Code's transcripts: an empty config folder, never the developer's ~/.claude.
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def attune_home(tmp_path: Path) -> Path:
    return tmp_path / "attune-home"


@pytest.fixture
def make_config(project: Path, attune_home: Path) -> Callable[..., Config]:
    def make(**overrides: Any) -> Config:
        overrides.setdefault("attune_home", attune_home)
        return build_config(overrides.pop("project_root", project), **overrides)

    return make


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest.fixture
def make_app() -> Iterator[Callable[[Config], Any]]:
    """Build apps with ``create_app``; their services are stopped at teardown."""
    from attune.ops.web.app import create_app

    apps: list[Any] = []

    def make(cfg: Config) -> Any:
        app = create_app(cfg)
        apps.append(app)
        return app

    yield make
    import anyio

    for app in apps:
        anyio.run(app.state.services.stop)


@pytest.fixture
def app(make_app: Callable[[Config], Any], config: Config) -> Any:
    return make_app(config)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with the app's token preset on state-changing requests."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://127.0.0.1:8765",
        headers={"X-Attune-Token": app.state.services.token},
    ) as c:
        yield c


@pytest.fixture
def fake_anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    """The fake Admin API on a loopback port, ``$ANTHROPIC_BASE_URL`` pointing at it.

    It starts empty and answering; a module that wants spend on it overrides this fixture with
    one that asks for it (``def fake_anthropic(fake_anthropic): fake_anthropic.add(...)``).
    """
    with running_fake(monkeypatch) as fake:
        yield fake


@pytest.fixture
def fake_messages(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMessages]:
    """The fake Messages API (``tests/fake_messages.py``) on a loopback port, with
    ``$ANTHROPIC_BASE_URL`` and a normal ``$ANTHROPIC_API_KEY`` pointing at it."""
    with running_messages(monkeypatch) as fake:
        yield fake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A real ``attune ops`` process on a loopback port."""

    proc: subprocess.Popen[bytes]
    port: int
    home: Path
    project: Path
    log_path: Path
    token: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def start_server(
    project: Path,
    home: Path,
    log_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    port: int | None = None,
    wait: bool = True,
) -> ServerProcess:
    """Start ``python -m attune ops`` in its own session and wait until /healthz answers.

    ``port=0`` lets the server pick one (then pass ``wait=False`` and read its banner).
    """
    port = free_port() if port is None else port
    full_env = {**os.environ, "ATTUNE_HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})}
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "attune",
            "ops",
            "--project",
            str(project),
            "--port",
            str(port),
            "--no-browser",
            *args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=full_env,
        start_new_session=True,
    )
    log.close()
    server = ServerProcess(proc, port, home, project, log_path, env=full_env)
    if not wait:
        return server
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.output()}")
        try:
            r = httpx.get(f"{server.url}/api/session", timeout=1)
            if r.status_code == 200:
                server.token = r.json()["token"]
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"server did not answer within 30 s:\n{server.output()}")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start real servers; every one is killed (whole process group) at teardown."""
    servers: list[ServerProcess] = []

    def start(
        project: Path | None = None, *args: str, home: Path | None = None, **kw: Any
    ) -> ServerProcess:
        proj = project or tmp_path / "project"
        proj.mkdir(exist_ok=True)
        srv = start_server(
            proj,
            home or tmp_path / "attune-home",
            tmp_path / f"server-{len(servers)}.log",
            *args,
            **kw,
        )
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.kill()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Collects console errors and page errors; attach with :func:`watch_page`."""
    return []


def watch_page(page: Any, errors: list[str]) -> None:
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))


@contextlib.contextmanager
def open_page(browser: Any, errors: list[str], shot: Path, **options: Any) -> Iterator[Any]:
    """A fresh 1280x900 page that reports console errors into ``errors``.

    When the block fails, a full-page screenshot is saved at ``shot`` (in the test's tmp dir).
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch_page(page, errors)
    try:
        yield page
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(shot), full_page=True)
        raise
    finally:
        context.close()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the session (``tests/postgres_cluster.py``).

    Started on first use only, so a run without PostgreSQL tests never pays for it; stopped and
    removed when the session ends. A test may ``stop()`` it to play a database that went away;
    ``postgres_url``'s teardown starts it again for the next test.
    """
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(
    postgres_cluster: PostgresCluster, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh, empty database for this test (``postgresql://attune:…@127.0.0.1:PORT/NAME``),
    dropped afterwards with any connection still open on it."""
    import re
    import uuid

    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40].strip("_")
    name = f"t_{stem}_{uuid.uuid4().hex[:8]}"
    postgres_cluster.create_database(name)
    yield postgres_cluster.url(name)
    postgres_cluster.start()  # a no-op unless the test left the server stopped
    postgres_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each store backend in turn: a test that takes it runs once on SQLite, once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def any_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh store of ``backend``: ``<tmp>/ops.db``, or a new database on the test cluster."""
    from attune.ops.store.database import Store

    store: Store
    if backend == "sqlite":
        store = Store(tmp_path / "ops.db")
    else:
        from attune.ops.store.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("postgres_url"))
    yield store
    store.close()


@pytest.fixture
def backend_config(
    backend: str, make_config: Callable[..., Config], request: pytest.FixtureRequest
) -> Config:
    """This test's config on ``backend`` (a fresh PostgreSQL database for "postgresql").

    A module whose tests should run on both store backends overrides ``config`` with it:
    ``def config(backend_config): return backend_config``."""
    if backend == "sqlite":
        return make_config()
    return make_config(database_url=request.getfixturevalue("postgres_url"))

"""Benchmark: the run page with a 100,000-line log in real headless Chromium (issue 3, item 6).

Starts a real ``attune ops`` server on a loopback port, runs a workflow that prints N coloured
lines (N = 100,000 by default), opens its run page and prints:

- seconds from navigation until every line is in the DOM (replay over SSE + incremental render);
- animation-frame gaps while the lines render (p50 / p95 / max, ms): the page stays responsive
  when frames keep coming, however long the whole render takes;
- frame gaps while jumping around the finished log (scroll responsiveness);
- one search over all lines (Enter in the search box, synchronous) and a next-hit step, in ms;
- the JS heap after rendering.

Usage: ``.venv/bin/python bench/run_page.py [--lines N]``. Needs ``/usr/bin/chromium``.
Software rendering on a shared 2-core machine: compare figures between runs of the same box.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PRINTER = (
    "import sys\n"
    "w = sys.stdout.write\n"
    "for i in range(1, {n} + 1):\n"
    "    w(f'\\x1b[3{{i % 8}}m{{i:>7}}\\x1b[0m INFO worker-{{i % 13}} processed item {{i * 7}} "
    "in {{i % 97}} ms <ok>\\n')\n"
)
FRAME_MONITOR = """
window.__gaps = [];
(() => {
  let last = performance.now();
  const loop = (now) => {
    window.__gaps.push(now - last);
    last = now;
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(project: Path, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "ATTUNE_HOME": str(home)}
    cmd = [sys.executable, "-m", "attune", "ops", "--project", str(project)]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--no-browser"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("server did not start")


def run_workflow(url: str) -> int:
    token = httpx.get(url + "/api/session").json()["token"]
    r = httpx.post(
        url + "/api/runs",
        json={"workflow": "printer", "path": None},
        headers={"X-Attune-Token": token},
    )
    r.raise_for_status()
    run_id = int(r.json()["id"])
    while httpx.get(f"{url}/api/runs/{run_id}").json()["status"] == "running":
        time.sleep(0.2)
    return run_id


def gaps_summary(gaps: list[float]) -> str:
    if not gaps:
        return "no frames"
    ordered = sorted(gaps)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"p50 {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms "
        f"({len(ordered)} frames)"
    )


def measure(url: str, run_id: int, lines: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.add_init_script(FRAME_MONITOR)
        start = time.monotonic()
        page.goto(f"{url}/runs/{run_id}")
        count = "document.querySelectorAll('#log-body .ll').length"
        while page.evaluate(count) < lines and time.monotonic() - start < 300:
            time.sleep(0.05)
        rendered_s = time.monotonic() - start
        render_gaps: list[float] = page.evaluate("window.__gaps.splice(0)")
        page.evaluate(
            """async () => {
              const log = document.getElementById('log');
              for (let i = 0; i < 40; i++) {
                log.scrollTop = Math.random() * log.scrollHeight;
                await new Promise((r) => requestAnimationFrame(r));
              }
            }"""
        )
        scroll_gaps: list[float] = page.evaluate("window.__gaps.splice(0)")
        timings = page.evaluate(
            """() => {
              const input = document.getElementById('log-search');
              const enter = () => input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'}));
              input.value = 'worker-7 processed';
              let t = performance.now(); enter(); const search = performance.now() - t;
              t = performance.now(); enter(); const step = performance.now() - t;
              input.value = 'item 699993 ';
              t = performance.now(); enter(); const rare = performance.now() - t;
              return {search, step, rare, hits: document.getElementById('log-hits').textContent,
                      heap: performance.memory ? performance.memory.usedJSHeapSize : null};
            }"""
        )
        browser.close()
    print(f"run page with {lines:,} lines")
    print(f"  all lines rendered after   {rendered_s:.2f} s (navigation, SSE replay, render)")
    print(f"  frames while rendering     {gaps_summary(render_gaps)}")
    print(f"  frames while scrolling     {gaps_summary(scroll_gaps)}")
    print(f"  search (common term)       {timings['search']:.1f} ms")
    print(f"  next hit                   {timings['step']:.1f} ms")
    print(f"  search (rare term)         {timings['rare']:.1f} ms ({timings['hits']})")
    if timings["heap"]:
        print(f"  JS heap after render       {timings['heap'] / 1e6:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project, home = Path(tmp) / "project", Path(tmp) / "home"
        project.mkdir()
        command = [sys.executable, "-c", PRINTER.format(n=args.lines)]
        (project / "attune.toml").write_text(
            f"[workflows.printer]\ncommand = {json.dumps(command)}\n"
        )
        proc, url = start_server(project, home)
        try:
            measure(url, run_workflow(url), args.lines)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()

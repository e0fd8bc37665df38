"""Benchmark: the run page streaming 100,000 lines folded into 2,000 CI groups (issue 15).

A variant of ``bench/run_page.py``: the workflow prints ``::group::`` / ``::endgroup::`` around
every 50 lines (one ``::error`` annotation half way), over several seconds, while the page is
open, so the frames are measured *while streaming*. Prints:

- frame gaps while the lines stream in and render (p50 / p95 / max, ms);
- seconds until every line is in the DOM;
- whether every line is reachable: 300 line numbers spread over the log, each shown with
  ``#L``-style ``showLine`` (its group opened) and found on screen with its own number;
- the time to open every group (expand all) and the "First error" jump.

Usage: ``.venv/bin/python bench/run_page_groups.py [--lines N] [--groups G]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_page import CHROMIUM, CHROMIUM_ARGS, FRAME_MONITOR, gaps_summary, start_server

PRINTER = (
    "import sys, time\n"
    "w = sys.stdout.write\n"
    "n, groups = {n}, {groups}\n"
    "per = n // groups\n"
    "for g in range(groups):\n"
    "    w(f'::group::Group {{g + 1}}: build step\\n')\n"
    "    for i in range(g * per + 1, (g + 1) * per + 1):\n"
    "        w(f'\\x1b[3{{i % 8}}m{{i:>7}}\\x1b[0m INFO worker-{{i % 13}} item {{i}} <ok>\\n')\n"
    "    if g == groups // 2:\n"
    "        w('::error file=src/app.py,line=3::half way it broke\\n')\n"
    "    w('::endgroup::\\n')\n"
    "    sys.stdout.flush()\n"
    "    time.sleep(0.004)\n"
)

REACHABLE = """async (total) => {
  const view = window.__view;
  let ok = 0;
  const missing = [];
  for (let k = 0; k < 300; k++) {
    const n = 1 + Math.floor(k * (total - 1) / 299);
    view.showLine(n);
    await new Promise((r) => requestAnimationFrame(r));
    const el = view.lineElement(n - 1);
    const shown = el && Number(el.dataset.n) === n && el.getClientRects().length > 0
      && !el.classList.contains('ll-marker');
    if (shown || (el && el.classList.contains('ll-marker'))) ok++; else missing.push(n);
  }
  let t = performance.now();
  for (const g of view.groups) view.toggleGroup(g.index, true);
  await new Promise((r) => requestAnimationFrame(r));
  const expand = performance.now() - t;
  t = performance.now();
  document.getElementById('log-first-error').click();
  const first = performance.now() - t;
  return {ok, missing: missing.slice(0, 5), expand, first,
          target: document.querySelector('.ll-target')?.textContent ?? ''};
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=2_000)
    args = parser.parse_args()
    total = args.lines + 2 * args.groups + 1  # the markers are lines too, and one annotation
    with tempfile.TemporaryDirectory() as tmp:
        project, home = Path(tmp) / "project", Path(tmp) / "home"
        project.mkdir()
        command = [sys.executable, "-c", PRINTER.format(n=args.lines, groups=args.groups)]
        (project / "attune.toml").write_text(
            f"[workflows.printer]\ncommand = {json.dumps(command)}\n"
        )
        proc, url = start_server(project, home)
        try:
            measure(url, total)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def measure(url: str, total: int) -> None:
    from playwright.sync_api import sync_playwright

    token = httpx.get(url + "/api/session").json()["token"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.add_init_script(FRAME_MONITOR)
        page.add_init_script(
            "document.addEventListener('DOMContentLoaded', () => { const V = AttuneLogView;"
            " AttuneLogView = class extends V { constructor(...a) { super(...a);"
            " window.__view = this; } }; });"
        )
        run = httpx.post(
            url + "/api/runs",
            json={"workflow": "printer", "path": None},
            headers={"X-Attune-Token": token},
        ).json()
        start = time.monotonic()
        page.goto(f"{url}/runs/{run['id']}")
        count = "window.__view ? window.__view.rendered : 0"
        while page.evaluate(count) < total and time.monotonic() - start < 300:
            time.sleep(0.05)
        rendered_s = time.monotonic() - start
        gaps: list[float] = page.evaluate("window.__gaps.splice(0)")
        result = page.evaluate(REACHABLE, total)
        groups = page.evaluate("window.__view.groups.length")
        browser.close()
    print(f"run page streaming {total:,} lines in {groups:,} groups")
    print(f"  frames while streaming     {gaps_summary(gaps)}")
    print(f"  all lines rendered after   {rendered_s:.2f} s (live SSE + render)")
    print(f"  lines reachable            {result['ok']} of 300 sampled {result['missing']}")
    print(f"  open all groups            {result['expand']:.0f} ms")
    print(f"  first error jump           {result['first']:.1f} ms -> {result['target'][:40]!r}")


if __name__ == "__main__":
    main()

// attune ops: the current-run indicator in the top bar of every page.
// It asks GET /api/runs?status=running&limit=1 on load, every few seconds while the tab is
// visible, and at once when a page says a run started or ended. No EventSource here: browsers
// allow only six connections per host, and the run page needs one for its log.
"use strict";

(() => {
  const POLL_MS = 5000;
  let timer = null, clock = null, inFlight = false, shownId = null, shownRun = null;

  function render(run) {
    const box = document.getElementById("current-run");
    if (!box) return;
    shownRun = run;
    clearInterval(clock);
    clock = null;
    if (!run) {
      if (shownId !== null) box.replaceChildren();
      shownId = null;
      return;
    }
    // The elapsed time ticks every second between two polls.
    clock = setInterval(() => {
      const node = box.querySelector(".current-run-elapsed");
      if (node && shownRun) node.textContent = elapsed(shownRun);
    }, 1000);
    if (shownId === run.id) {
      box.querySelector(".current-run-elapsed").textContent = elapsed(run);
      return;
    }
    shownId = run.id;
    box.replaceChildren(attune.el("a", {
      class: "current-run", href: `/runs/${run.id}`, title: `Run #${run.id} of ${run.workflow} is running`,
    },
      attune.el("span", { class: "badge status-running", text: "running" }),
      attune.el("span", { class: "current-run-name", text: run.workflow }),
      attune.el("span", { class: "current-run-elapsed muted", text: elapsed(run) })));
  }

  function elapsed(run) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(run.started_at)) / 1000));
    return seconds < 60 ? `${seconds} s` : attune.formatDuration(seconds);
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    try {
      const data = await attune.api("/api/runs?status=running&limit=1");
      render(data?.runs?.[0] ?? null);
    } catch {
      /* the server may be restarting; the next poll tries again */
    } finally {
      inFlight = false;
    }
  }

  function schedule() {
    clearInterval(timer);
    timer = null;
    if (document.visibilityState === "visible") timer = setInterval(refresh, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    refresh();
    schedule();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refresh();
      schedule();
    });
    window.addEventListener("attune:run-changed", refresh);
  });
})();

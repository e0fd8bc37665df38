// attune ops: the current-run indicator in the top bar of every page.
// It asks GET /api/runs?status=running&limit=1 on load, every few seconds while the tab is
// visible (more often while a run is shown, so its end shows promptly), and at once when a page
// says a run started or ended. No EventSource here: browsers allow only six connections per
// host, and the run page needs one for its log.
// When the shown run ends, the pill says how it ended (its status and duration, still a link to
// the run) for ENDED_MS, then hides: a run that vanished silently left the user guessing.
"use strict";

(() => {
  const POLL_MS = 5000;
  const POLL_RUNNING_MS = 2000;
  const ENDED_MS = 10000;
  const REQUEST_MS = 10000; // a request that hangs must not stop the polling for good
  let timer = null, clock = null, hideTimer = null, inFlight = false;
  let shownId = null, shownRun = null, endedId = null;

  const box = () => document.getElementById("current-run");
  const statusLabel = (status) => status.replaceAll("_", " ");

  function stopClock() {
    clearInterval(clock);
    clock = null;
  }

  function clear() {
    clearTimeout(hideTimer);
    hideTimer = null;
    endedId = null;
    box()?.replaceChildren();
  }

  function showRunning(run) {
    const node = box();
    if (!node) return;
    shownRun = run;
    stopClock();
    // The elapsed time ticks every second between two polls.
    clock = setInterval(() => {
      const elapsedNode = node.querySelector(".current-run-elapsed");
      if (elapsedNode && shownRun) elapsedNode.textContent = elapsed(shownRun);
    }, 1000);
    if (shownId === run.id) {
      node.querySelector(".current-run-elapsed").textContent = elapsed(run);
      return;
    }
    clear();
    shownId = run.id;
    node.replaceChildren(attune.el("a", {
      class: "current-run", href: `/runs/${run.id}`, title: `Run #${run.id} of ${run.workflow} is running`,
    },
      attune.el("span", { class: "badge status-running", text: "running" }),
      attune.el("span", { class: "current-run-name", text: run.workflow }),
      attune.el("span", { class: "current-run-elapsed muted", text: elapsed(run) })));
  }

  // The run that was shown is no longer running: say how it ended, then hide.
  function showEnded(run) {
    const node = box();
    if (!node) return;
    stopClock();
    shownId = null;
    shownRun = null;
    endedId = run.id;
    const label = statusLabel(run.status);
    node.replaceChildren(attune.el("a", {
      class: "current-run current-run-ended", href: `/runs/${run.id}`,
      title: `Run #${run.id} of ${run.workflow} ${label}: open it`, "data-status": run.status,
    },
      attune.el("span", { class: `badge status-${run.status}`, text: label }),
      attune.el("span", { class: "current-run-name", text: run.workflow }),
      attune.el("span", { class: "current-run-elapsed muted", text: attune.formatDuration(run.duration_s) })));
    // The home page's Runs panel shows the same run as running: it ended there too.
    const home = document.querySelector(`.home-current[href="/runs/${run.id}"] .badge`);
    if (home) {
      home.className = `badge status-${run.status}`;
      home.textContent = label;
    }
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => {
      if (endedId === run.id) clear();
    }, ENDED_MS);
  }

  async function ended(id) {
    try {
      const run = await attune.api(`/api/runs/${id}`, { signal: AbortSignal.timeout(REQUEST_MS) });
      if (run && run.status !== "running") {
        showEnded(run);
        return;
      }
    } catch {
      /* removed meanwhile, or the server is restarting: nothing to tell */
    }
    stopClock();
    shownId = null;
    shownRun = null;
    clear();
  }

  function elapsed(run) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(run.started_at)) / 1000));
    return seconds < 60 ? `${seconds} s` : attune.formatDuration(seconds);
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    try {
      const data = await attune.api("/api/runs?status=running&limit=1", {
        signal: AbortSignal.timeout(REQUEST_MS),
      });
      const run = data?.runs?.[0] ?? null;
      if (run) showRunning(run);
      else if (shownId !== null) await ended(shownId);
    } catch {
      /* the server may be restarting; the next poll tries again */
    } finally {
      inFlight = false;
      schedule();
    }
  }

  function schedule() {
    clearInterval(timer);
    timer = null;
    if (document.visibilityState !== "visible") return;
    timer = setInterval(refresh, shownId !== null ? POLL_RUNNING_MS : POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    refresh();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refresh();
      else schedule();
    });
    window.addEventListener("attune:run-changed", refresh);
  });
})();

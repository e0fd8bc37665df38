// Spend panel: the Refresh link shows that it is working; a refreshed page drops "?refresh=1"
// from its address (reloading later will not ask Anthropic again); and a panel rendered while
// the fetch was still running waits for it through /api/cost, then reloads once to show it.
(() => {
  "use strict";
  const RELOADS_KEY = "attune.spend.pendingReloads";

  async function awaitPendingFetch(panel) {
    const reloads = Number(sessionStorage.getItem(RELOADS_KEY) || "0");
    if (reloads >= 2) return; // the API is slow right now: the notice stays, Refresh still works
    try {
      await attune.api("/api/cost");
    } catch (err) {
      return;
    }
    sessionStorage.setItem(RELOADS_KEY, String(reloads + 1));
    window.location.reload();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const url = new URL(window.location.href);
    if (url.searchParams.has("refresh")) {
      url.searchParams.delete("refresh");
      window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    const panel = document.querySelector(".spend");
    if (panel && panel.dataset.pending) {
      awaitPendingFetch(panel);
    } else {
      sessionStorage.removeItem(RELOADS_KEY);
    }
    const button = document.getElementById("spend-refresh");
    if (button) {
      button.addEventListener("click", () => {
        button.textContent = "Refreshing…";
        button.setAttribute("aria-busy", "true");
      });
    }
  });
})();

// Spend panel: the Refresh link shows that it is working; a refreshed page drops "?refresh=1"
// from its address (reloading later will not ask Anthropic again); and a panel rendered while
// the fetch was still running waits for it through /api/cost, then reloads once to show it.
// The 30-day chart (drawn on the server as a radio group of days) opens scrolled to today
// where it is wider than the screen, and a tap, a focus or the arrow keys show a day's date and
// amount in the label under it: a phone has no hover for the bars' titles.
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

  function dayChart(panel) {
    const scroller = panel.querySelector(".spend-chart-scroll");
    const label = panel.querySelector("#spend-day");
    const days = [...panel.querySelectorAll(".spend-chart .chart-bar")];
    if (!scroller || !label || !days.length) return;
    scroller.scrollLeft = scroller.scrollWidth; // today is the rightmost day

    function check(day) {
      for (const other of days) {
        other.setAttribute("aria-checked", String(other === day));
        other.setAttribute("tabindex", other === day ? "0" : "-1");
      }
      const today = day.classList.contains("chart-bar-today");
      label.replaceChildren(
        attune.el("span", { class: "spend-day-date", text: (today ? "Today, " : "") + day.dataset.date }),
        ": ",
        attune.el("strong", { class: "spend-day-usd", text: day.dataset.usd }));
    }

    const KEYS = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1 };
    days.forEach((day, index) => {
      day.addEventListener("click", () => check(day));
      day.addEventListener("focus", () => check(day));
      day.addEventListener("keydown", (event) => {
        let next = null;
        if (event.key in KEYS) next = days[index + KEYS[event.key]];
        else if (event.key === "Home") next = days[0];
        else if (event.key === "End") next = days[days.length - 1];
        else if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          check(day);
          return;
        } else return;
        event.preventDefault();
        if (next) next.focus(); // focusing it checks it, and scrolls it into view
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const url = new URL(window.location.href);
    if (url.searchParams.has("refresh")) {
      url.searchParams.delete("refresh");
      window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    const panel = document.querySelector(".spend");
    if (panel) dayChart(panel);
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

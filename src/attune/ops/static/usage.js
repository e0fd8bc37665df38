// Claude Code usage page: while the tab is visible, ask /api/usage (the page's own query)
// every 2 s and update the live figures in place — the period tiles, the active block's burn
// rate and projection, the skipped lines — and say when new responses arrived (the tables
// stay as rendered until Reload). Times in UTC stay as rendered; nothing is scraped from HTML.
(() => {
  "use strict";
  const root = document.getElementById("usage");
  if (!root) return;
  const POLL_MS = 2000;
  const shown = Number(root.dataset.messages || "0");
  const query = root.dataset.query || "project=this";

  function usd(value) {
    if (value === null || value === undefined) return "price unknown";
    const n = Number(value);
    if (n > 0 && n < 0.01) return "<$0.01";
    return "$" + n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function tokens(n) {
    for (const [size, unit] of [[1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
      if (n >= size) return String(Number((n / size).toFixed(2))) + unit;
    }
    return String(n);
  }

  function set(name, text) {
    const node = root.querySelector(`[data-live="${name}"]`);
    if (node && node.textContent !== text) node.textContent = text;
  }

  function update(report) {
    for (const [key, period] of Object.entries(report.periods)) {
      set(`period-${key}-cost`, usd(period.cost_usd));
      set(`period-${key}-tokens`, tokens(period.total_tokens));
      set(`period-${key}-messages`, String(period.messages));
    }
    set("skipped", attune.plural(report.skipped_lines, "skipped line"));
    const block = report.blocks.find((b) => b.active);
    if (block) {
      set("burn-tokens", block.burn_rate_tokens_per_min);
      set("burn-usd", usd(block.cost_per_hour_usd));
      set("block-cost", usd(block.cost_usd));
      set("block-projected", usd(block.projected_cost_usd));
    }
    const fresh = report.totals.messages - shown;
    const note = document.getElementById("usage-new");
    if (note && fresh > 0) {
      note.querySelector("span").textContent =
        `${attune.plural(fresh, "new response")} since this page was loaded.`;
      note.hidden = false;
    }
  }

  async function poll() {
    if (document.visibilityState === "visible") {
      try {
        update(await attune.api(`/api/usage?${query}&limit=1`));
      } catch (err) {
        // the server restarts or is busy: try again at the next tick
      }
    }
    setTimeout(poll, POLL_MS);
  }
  setTimeout(poll, POLL_MS);
})();

// attune ops — the specs page: filter and search the table, close or dismiss candidates.
"use strict";

(() => {
  const table = document.getElementById("specs-table");
  const statusSelect = document.getElementById("spec-status-filter");
  const search = document.getElementById("spec-search");
  const count = document.getElementById("spec-count");
  const noMatch = document.getElementById("specs-no-match");

  function rows() {
    return table ? Array.from(table.tBodies[0].rows) : [];
  }

  // Show the rows that match the status filter and every word of the search box.
  function applyFilter() {
    if (!table) return;
    const status = statusSelect ? statusSelect.value : "";
    const words = (search ? search.value : "").toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    const all = rows();
    for (const row of all) {
      const okStatus = !status
        || (status === "problem" ? row.dataset.problem === "1" : row.dataset.status === status);
      const text = row.dataset.search || "";
      const ok = okStatus && words.every((w) => text.includes(w));
      row.hidden = !ok;
      if (ok) shown += 1;
    }
    if (count) count.textContent = shown === all.length ? `${all.length} specs` : `${shown} of ${all.length} specs`;
    if (noMatch) noMatch.hidden = shown !== 0;
    const params = new URLSearchParams(window.location.search);
    for (const [key, value] of [["status", status], ["q", search ? search.value.trim() : ""]]) {
      if (value) params.set(key, value); else params.delete(key);
    }
    const query = params.toString();
    window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
  }

  function updateRow(spec) {
    if (!table || !spec) return;
    const row = rows().find((r) => r.dataset.path === spec.path);
    if (!row) return;
    row.dataset.status = spec.status;
    const badge = row.querySelector(".spec-status");
    if (badge) {
      badge.className = `badge spec-status spec-status-${spec.status}`;
      badge.textContent = spec.status_label;
      badge.title = spec.status_raw || "";
    }
    row.dataset.search = `${spec.name} ${spec.path} ${spec.status_raw || ""} ${spec.status_label}`.toLowerCase();
  }

  function removeCard(card) {
    const more = card.closest(".candidate-more");
    card.remove();
    if (more && !more.querySelector(".candidate-card")) more.remove();
    const left = document.querySelectorAll(".candidate-card").length;
    const empty = document.getElementById("candidates-empty");
    if (empty) empty.hidden = left !== 0;
  }

  async function onCandidateAction(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const card = button.closest(".candidate-card");
    const message = card.querySelector(".card-message");
    const path = card.dataset.path;
    for (const b of card.querySelectorAll("button")) b.disabled = true;
    message.textContent = button.dataset.action === "complete" ? "Marking complete…" : "Dismissing…";
    message.className = "card-message";
    try {
      if (button.dataset.action === "complete") {
        const result = await attune.api("/api/specs/status", { method: "POST", body: { path, status: "complete" } });
        updateRow(result.spec);
        const verb = result.inserted ? "Added a status to" : "Updated";
        message.textContent = `${verb} ${result.file}.`;
      } else {
        await attune.api("/api/specs/candidates/dismiss", {
          method: "POST", body: { path, snapshot_hash: card.dataset.hash },
        });
      }
      card.classList.add("candidate-done");
      setTimeout(() => removeCard(card), button.dataset.action === "complete" ? 1500 : 0);
    } catch (err) {
      message.textContent = err.message;
      message.className = "card-message card-error";
      for (const b of card.querySelectorAll("button")) b.disabled = false;
    }
  }

  // Column sorting: click a header to sort by it, click again to reverse.
  const STATUS_ORDER = ["in-progress", "in-review", "blocked", "planned", "draft", "unknown", "none", "complete", "superseded", "archived"];
  const sortKeys = {
    name: (r) => r.dataset.name,
    layout: (r) => r.dataset.layout,
    status: (r) => STATUS_ORDER.indexOf(r.dataset.status),
    progress: (r) => (Number(r.dataset.total) ? Number(r.dataset.done) / Number(r.dataset.total) : -1),
    total: (r) => Number(r.dataset.total),
    modified: (r) => r.dataset.modified,
  };

  function sortBy(button) {
    const th = button.closest("th");
    const key = sortKeys[button.dataset.sort];
    const descending = th.getAttribute("aria-sort") === "ascending";
    for (const other of table.tHead.querySelectorAll("th")) other.setAttribute("aria-sort", "none");
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    const sign = descending ? -1 : 1;
    const sorted = rows().sort((a, b) => {
      const ka = key(a), kb = key(b);
      const cmp = ka < kb ? -1 : ka > kb ? 1 : a.dataset.name.localeCompare(b.dataset.name);
      return sign * cmp;
    });
    table.tBodies[0].append(...sorted);
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (table) {
      table.tHead.addEventListener("click", (event) => {
        const button = event.target.closest("button.th-sort");
        if (button) sortBy(button);
      });
    }
    if (statusSelect) statusSelect.addEventListener("change", applyFilter);
    if (search) search.addEventListener("input", applyFilter);
    const section = document.getElementById("candidates");
    if (section) section.addEventListener("click", onCandidateAction);
    applyFilter();
  });
})();

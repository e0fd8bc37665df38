// attune ops — the specs page: filter and search the table; close (after a confirm, with an
// undo for a minute) or dismiss candidates.
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
    if (count) count.textContent = shown === all.length
      ? attune.plural(all.length, "spec") : `${shown} of ${attune.plural(all.length, "spec")}`;
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
    updateEmpty();
  }

  // "Nothing waiting" once every card is gone or closed (a closed card stays while it can be undone).
  function updateEmpty() {
    const left = document.querySelectorAll(".candidate-card:not(.candidate-done)").length;
    const empty = document.getElementById("candidates-empty");
    if (empty) empty.hidden = left !== 0;
  }

  function say(card, text, isError = false) {
    const message = card.querySelector(".card-message");
    message.textContent = text;
    message.className = isError ? "card-message card-error" : "card-message";
  }

  function setBusy(card, busy) {
    for (const b of card.querySelectorAll("button")) b.disabled = busy;
  }

  function lineBox(label, text, kind) {
    return attune.el("div", { class: `confirm-line confirm-${kind}` },
      attune.el("span", { class: "confirm-label", text: label }),
      attune.el("code", { text }));
  }

  // Step 1 of "Mark complete": show which file and line will change, and how.
  async function preview(card) {
    say(card, "Looking at the change…");
    const plan = await attune.api("/api/specs/status/preview", {
      method: "POST", body: { path: card.dataset.path, status: "complete" },
    });
    const where = `${plan.path}/${plan.file}`;
    const box = attune.el("div", { class: "card-confirm", role: "group", "aria-label": "Confirm the change" },
      attune.el("p", {}, plan.inserted ? "Add to " : "Change ",
        attune.el("code", { class: "confirm-file", text: where }),
        ` line ${plan.line}:`));
    for (const change of plan.changes) {
      if (change.old_line !== null) box.append(lineBox("−", change.old_line, "old"));
      box.append(lineBox("+", change.new_line, "new"));
    }
    box.append(attune.el("div", { class: "card-actions" },
      attune.el("button", { type: "button", class: "primary", "data-action": "confirm", text: "Confirm" }),
      attune.el("button", { type: "button", "data-action": "cancel", text: "Cancel" })));
    card.dataset.preview = plan.preview;
    card.querySelector(".card-actions").hidden = true;
    card.querySelector(".card-message").before(box);
    say(card, "");
    box.querySelector("button[data-action=confirm]").focus();
  }

  function closeConfirm(card) {
    const box = card.querySelector(".card-confirm");
    if (box) box.remove();
    card.querySelector(".card-actions").hidden = false;
  }

  // Step 2: write exactly the previewed change, then offer an undo while the server keeps it.
  async function confirm(card) {
    say(card, "Marking complete…");
    const result = await attune.api("/api/specs/status", {
      method: "POST",
      body: { path: card.dataset.path, status: "complete", preview: card.dataset.preview },
    });
    closeConfirm(card);
    updateRow(result.spec);
    card.classList.add("candidate-done");
    const first = result.changes[0];
    const verb = result.inserted ? "Added a status to" : "Updated";
    say(card, `${verb} ${result.file}${first ? ` line ${first.line}` : ""}.`);
    const actions = card.querySelector(".card-actions");
    actions.hidden = true;
    const undo = attune.el("div", { class: "card-actions card-undo" },
      attune.el("button", { type: "button", "data-action": "undo", text: "Undo" }));
    actions.after(undo);
    card.dataset.undo = result.undo.token;
    card.undoTimer = setTimeout(() => removeCard(card), result.undo.expires_in * 1000);
    updateEmpty();
  }

  async function undoChange(card) {
    say(card, "Undoing…");
    const result = await attune.api("/api/specs/status/undo", {
      method: "POST", body: { token: card.dataset.undo },
    });
    clearTimeout(card.undoTimer);
    card.querySelector(".card-undo").remove();
    card.classList.remove("candidate-done");
    card.querySelector(".card-actions").hidden = false;
    updateRow(result.spec);
    updateEmpty();
    say(card, `Undone: ${result.files.join(", ")} as before.`);
    // The file's time moved, so the candidate's evidence hash did: dismissing needs the new one.
    const fresh = await attune.api("/api/specs/candidates");
    const again = fresh.candidates.find((c) => c.path === card.dataset.path);
    if (again) card.dataset.hash = again.snapshot_hash;
  }

  async function dismiss(card) {
    say(card, "Dismissing…");
    await attune.api("/api/specs/candidates/dismiss", {
      method: "POST", body: { path: card.dataset.path, snapshot_hash: card.dataset.hash },
    });
    card.classList.add("candidate-done");
    removeCard(card);
  }

  async function cancel(card) {
    closeConfirm(card);
    say(card, "");
  }

  const ACTIONS = { complete: preview, confirm, cancel, undo: undoChange, dismiss };

  async function onCandidateAction(event) {
    const button = event.target.closest("button[data-action]");
    const card = button && button.closest(".candidate-card");
    if (!card) return;
    setBusy(card, true);
    try {
      await ACTIONS[button.dataset.action](card);
    } catch (err) {
      // A failed confirm closes its box: "Mark complete" again previews the file as it is now.
      if (card.querySelector(".card-confirm")) closeConfirm(card);
      say(card, err.message, true);
    } finally {
      if (card.isConnected) setBusy(card, false);
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

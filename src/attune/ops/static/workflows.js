// attune ops: the workflows page — filter and pick a workflow, pick a scope in the lazy tree,
// see the exact command, run it (the Run button of a row runs that workflow at once).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let page, tree, showHidden = false, selected = null;
  // /workflows?path=docs/specs/auth (e.g. from a spec's page) picks that scope once.
  let linkedPath = new URLSearchParams(window.location.search).get("path") || null;

  const storageKey = (workflow) => `attune.scope:${page.dataset.project}:${workflow}`;
  const currentWorkflow = () => document.querySelector('input[name="workflow"]:checked');

  function remembered(workflow) {
    try { return localStorage.getItem(storageKey(workflow)); } catch { return null; }
  }

  function remember(workflow, path) {
    try {
      if (path) localStorage.setItem(storageKey(workflow), path);
      else localStorage.removeItem(storageKey(workflow));
    } catch { /* storage may be disabled; the scope simply is not remembered */ }
  }

  // -- the tree ------------------------------------------------------------------------------------

  function makeItem(entry, level) {
    const isDir = entry.kind === "dir";
    const item = attune.el("div", {
      role: "treeitem", class: `scope-item${entry.hidden ? " is-hidden" : ""}`, tabindex: "-1",
      "aria-level": String(level), "aria-selected": "false", "data-path": entry.path,
      "data-kind": entry.kind, "aria-expanded": isDir ? "false" : null,
    });
    const row = attune.el("div", { class: "scope-row" },
      attune.el("span", { class: `scope-icon ${isDir ? "icon-dir" : "icon-file"}`, "aria-hidden": "true" }),
      attune.el("span", { class: "scope-name", text: entry.name + (isDir ? "/" : "") }));
    if (entry.hidden) row.append(attune.el("span", { class: "scope-tag", text: "hidden" }));
    item.append(row);
    if (isDir) item.append(attune.el("div", { role: "group", class: "scope-children", hidden: true }));
    row.addEventListener("click", (e) => {
      e.stopPropagation();
      focusItem(item);
      if (isDir && e.target.closest(".scope-icon")) toggle(item);
      else { pick(item); if (isDir && item.getAttribute("aria-expanded") === "false") toggle(item); }
    });
    return item;
  }

  async function loadChildren(container, path, level) {
    const query = new URLSearchParams({ path });
    if (showHidden) query.set("hidden", "1");
    container.replaceChildren(attune.el("div", { class: "scope-loading muted", text: "Loading…" }));
    try {
      const data = await attune.api(`/api/scope?${query}`);
      const items = data.entries.map((entry) => makeItem(entry, level));
      container.replaceChildren(...items);
      if (!items.length) container.append(attune.el("div", { class: "scope-empty muted", text: "(empty)" }));
    } catch (err) {
      container.replaceChildren(attune.el("div", { class: "scope-error", text: err.message }));
    }
  }

  async function toggle(item, open) {
    const group = item.querySelector(":scope > .scope-children");
    const expanded = item.getAttribute("aria-expanded") === "true";
    const want = open ?? !expanded;
    if (want === expanded) return;
    item.setAttribute("aria-expanded", String(want));
    group.hidden = !want;
    if (want && !group.dataset.loaded) {
      group.dataset.loaded = "1";
      await loadChildren(group, item.dataset.path, Number(item.getAttribute("aria-level")) + 1);
    }
  }

  function visibleItems() {
    return [...tree.querySelectorAll('[role="treeitem"]')].filter((n) => n.offsetParent !== null);
  }

  function focusItem(item) {
    for (const n of tree.querySelectorAll('[role="treeitem"][tabindex="0"]')) n.tabIndex = -1;
    item.tabIndex = 0;
    item.focus({ preventScroll: false });
  }

  function pick(item) {
    for (const n of tree.querySelectorAll('[aria-selected="true"]')) n.setAttribute("aria-selected", "false");
    item.setAttribute("aria-selected", "true");
    setScope(item.dataset.path || null);
  }

  function setScope(path) {
    selected = path;
    $("scope-current").textContent = path || "whole project";
    $("scope-clear").hidden = !path;
    const wf = currentWorkflow();
    if (wf) remember(wf.value, path);
    showCommand();
  }

  // -- the command it will run, and the filter ------------------------------------------------------

  const shellQuote = (arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'"'"'`)}'`);

  // The same argv as Workflow.argv on the server: {path} becomes the scope ("." when none); a
  // workflow that takes a path without saying where gets it appended.
  function argvOf(wf) {
    let command = [];
    try { command = JSON.parse(wf.dataset.command || "[]"); } catch { /* shown empty */ }
    const accepts = Boolean(wf.dataset.acceptsPath);
    const scope = (accepts && selected) || ".";
    if (command.some((part) => part.includes("{path}"))) return command.map((part) => part.replaceAll("{path}", scope));
    return accepts ? [...command, scope] : command;
  }

  function showCommand() {
    const wf = currentWorkflow();
    if (!wf || !$("wf-command")) return;
    $("wf-command").textContent = argvOf(wf).map(shellQuote).join(" ");
    $("wf-origin").textContent = wf.dataset.origin || "";
    $("wf-origin-line").hidden = !wf.dataset.origin;
  }

  function applyFilter() {
    const words = $("wf-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const group of document.querySelectorAll(".wf-group")) {
      let inGroup = 0;
      for (const item of group.querySelectorAll(".wf-item")) {
        const match = words.every((word) => item.dataset.search.includes(word));
        item.hidden = !match;
        if (match) inGroup += 1;
      }
      group.hidden = inGroup === 0;
      shown += inGroup;
    }
    $("wf-filter-empty").hidden = shown > 0;
  }

  function onTreeKey(e) {
    const item = e.target.closest('[role="treeitem"]');
    if (!item) return;
    const items = visibleItems(), at = items.indexOf(item);
    const isDir = item.dataset.kind === "dir", open = item.getAttribute("aria-expanded") === "true";
    const parent = item.parentElement.closest('[role="treeitem"]');
    const moves = {
      ArrowDown: () => items[at + 1] && focusItem(items[at + 1]),
      ArrowUp: () => items[at - 1] && focusItem(items[at - 1]),
      Home: () => focusItem(items[0]),
      End: () => focusItem(items[items.length - 1]),
      ArrowRight: () => {
        if (isDir && !open) toggle(item, true);
        else if (isDir) { const child = item.querySelector('[role="treeitem"]'); if (child) focusItem(child); }
      },
      ArrowLeft: () => (isDir && open ? toggle(item, false) : parent && focusItem(parent)),
      Enter: () => pick(item),
      " ": () => pick(item),
    };
    if (!moves[e.key]) return;
    e.preventDefault();
    moves[e.key]();
  }

  // Opens the folders down to a remembered path so the user sees where it is.
  async function reveal(path) {
    const parts = path.split("/");
    let container = tree.querySelector(".scope-root > .scope-children");
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i + 1).join("/");
      const item = [...container.querySelectorAll(':scope > [role="treeitem"]')]
        .find((n) => n.dataset.path === prefix);
      if (!item) return;
      if (i === parts.length - 1) {
        for (const n of tree.querySelectorAll('[aria-selected="true"]')) n.setAttribute("aria-selected", "false");
        item.setAttribute("aria-selected", "true");
        focusItem(item);
        tree.scrollTop = Math.max(0, item.offsetTop - tree.offsetTop - 40);
        return;
      }
      if (item.dataset.kind !== "dir") return;
      await toggle(item, true);
      container = item.querySelector(":scope > .scope-children");
    }
  }

  async function buildTree() {
    const root = makeItem({ name: page.dataset.projectName || "project", path: "", kind: "dir" }, 1);
    root.classList.add("scope-root");
    tree.replaceChildren(root);
    root.tabIndex = 0;
    await toggle(root, true);
  }

  // -- workflow selection and running --------------------------------------------------------------

  async function onWorkflowChange() {
    const wf = currentWorkflow();
    if (!wf) return;
    $("wf-selected-name").textContent = wf.value;
    const accepts = Boolean(wf.dataset.acceptsPath);
    $("scope-section").hidden = !accepts;
    $("scope-none").hidden = accepts;
    $("scope-hidden").closest("label").hidden = !accepts;
    let path = accepts ? remembered(wf.value) : null;
    if (accepts && linkedPath) {
      path = linkedPath;
      linkedPath = null;
      remember(wf.value, path);
    }
    selected = path;
    $("scope-current").textContent = path || "whole project";
    $("scope-clear").hidden = !path;
    for (const n of tree.querySelectorAll('[aria-selected="true"]')) n.setAttribute("aria-selected", "false");
    showCommand();
    if (path) await reveal(path);
    else tree.querySelector(".scope-root")?.setAttribute("aria-selected", "true");
  }

  async function runRow(event) {
    event.preventDefault();
    const input = event.currentTarget.closest(".wf-item").querySelector('input[name="workflow"]');
    if (!input.checked) {
      input.checked = true;
      await onWorkflowChange();
    }
    await runSelected();
  }

  function showNotice(message, link) {
    const box = $("wf-notice");
    box.replaceChildren(message);
    if (link) box.append(" ", attune.el("a", { href: link.href, text: link.text }));
    box.hidden = false;
  }

  async function runSelected() {
    const wf = currentWorkflow();
    const button = $("wf-run");
    if (!wf || button.disabled) return;
    button.disabled = true;
    $("wf-notice").hidden = true;
    const path = wf.dataset.acceptsPath ? selected : null;
    try {
      const run = await attune.api("/api/runs", { method: "POST", body: { workflow: wf.value, path } });
      window.dispatchEvent(new CustomEvent("attune:run-changed"));
      window.location.assign(`/runs/${run.id}`);
    } catch (err) {
      button.disabled = false;
      if (err.code === "runner_busy" && err.payload?.current_run_id) {
        showNotice(err.message, { href: `/runs/${err.payload.current_run_id}`, text: "Open the current run" });
      } else showNotice(err.message);
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    page = $("workflows-page");
    tree = $("scope-tree");
    if (!page || !tree) return;
    tree.addEventListener("keydown", onTreeKey);
    for (const input of document.querySelectorAll('input[name="workflow"]')) {
      input.addEventListener("change", onWorkflowChange);
    }
    $("scope-hidden").addEventListener("change", async (e) => {
      showHidden = e.target.checked;
      await buildTree();
      await onWorkflowChange();
    });
    $("scope-clear").addEventListener("click", () => {
      for (const n of tree.querySelectorAll('[aria-selected="true"]')) n.setAttribute("aria-selected", "false");
      tree.querySelector(".scope-root")?.setAttribute("aria-selected", "true");
      setScope(null);
    });
    $("wf-run").addEventListener("click", runSelected);
    for (const button of document.querySelectorAll(".wf-item-run")) button.addEventListener("click", runRow);
    const filter = $("wf-filter");
    if (filter) {
      filter.addEventListener("input", applyFilter);
      filter.addEventListener("keydown", (e) => {
        if (e.key === "Escape") { filter.value = ""; applyFilter(); }
        if (e.key === "Enter") {  // Enter picks the first workflow left
          const first = document.querySelector(".wf-item:not([hidden]) input[name=workflow]");
          if (first) { first.checked = true; onWorkflowChange(); }
        }
      });
      document.addEventListener("keydown", (e) => {
        if (e.key !== "/" || e.target.closest("input, textarea, select, [contenteditable]")) return;
        e.preventDefault();
        filter.focus();
      });
    }
    // Coming back with the Back button restores the page as it was left: Run is clickable again.
    const runAllowed = !$("wf-run").disabled;
    window.addEventListener("pageshow", (e) => { if (e.persisted) $("wf-run").disabled = !runAllowed; });
    await buildTree();
    await onWorkflowChange();
  });
})();

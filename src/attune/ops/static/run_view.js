// attune ops: the run page's views around the log — the Log / Tests tabs, the annotations list,
// "First error", the timestamps and wrap toggles (remembered in this browser), and a log that
// fills the space the window leaves it, whatever the header above it holds.
"use strict";

const attuneRunView = (() => {
  const $ = (id) => document.getElementById(id);
  const PREFS = { times: ["attune.log.times", false], wrap: ["attune.log.wrap", true] };
  const MIN_LOG_PX = 180;

  function pref(name) {
    const [key, fallback] = PREFS[name];
    try {
      const value = localStorage.getItem(key);
      return value === null ? fallback : value === "1";
    } catch { return fallback; }
  }

  function setPref(name, on) {
    try { localStorage.setItem(PREFS[name][0], on ? "1" : "0"); } catch { /* private mode */ }
  }

  function wireToggle(name, button, apply) {
    const show = (on) => {
      button.setAttribute("aria-pressed", String(on));
      apply(on);
    };
    show(pref(name));
    button.addEventListener("click", () => {
      const on = button.getAttribute("aria-pressed") !== "true";
      setPref(name, on);
      show(on);
    });
  }

  // The log's height: from its top to the window's bottom (less the panel's padding).
  function fitLog() {
    const log = $("log"), panel = $("log-panel");
    if (panel.hidden) return;
    const top = log.getBoundingClientRect().top + window.scrollY;
    const below = parseFloat(getComputedStyle(panel).paddingBottom) + 12;
    const height = Math.max(MIN_LOG_PX, Math.floor(window.innerHeight - top - below));
    if (log.style.height !== `${height}px`) log.style.height = `${height}px`;
  }

  function renderAnnotations(view) {
    const list = $("ann-list"), box = $("log-annotations");
    const shown = view.annotations.slice(0, 200);
    list.replaceChildren(...shown.map((a) => {
      const label = { error: "Error", warning: "Warning", notice: "Notice" }[a.level];
      const where = a.file ? `${a.file}${a.line ? `:${a.line}` : ""}` : null;
      const button = attune.el("button", { type: "button", class: "ann-link", title: `Line ${a.index + 1} of the log` },
        attune.el("span", { class: `ann-label ann-${a.level}`, text: label }), " ",
        where ? attune.el("code", { text: where }) : null, where ? " " : null,
        attune.el("span", { text: (a.title ? `${a.title}: ` : "") + a.message }));
      button.addEventListener("click", () => view.showLine(a.index + 1));
      return attune.el("li", {}, button);
    }));
    if (view.annotations.length > shown.length) {
      list.append(attune.el("li", { class: "muted", text: `… and ${view.annotations.length - shown.length} more in the log` }));
    }
    box.hidden = !shown.length;
    $("log-first-error").hidden = view.firstError() < 0;
  }

  function selectTab(name, { remember = true } = {}) {
    const tests = name === "tests";
    $("tab-log").setAttribute("aria-selected", String(!tests));
    $("tab-tests").setAttribute("aria-selected", String(tests));
    $("tab-log").tabIndex = tests ? -1 : 0;
    $("tab-tests").tabIndex = tests ? 0 : -1;
    $("tests-panel").hidden = !tests;
    $("log-panel").hidden = tests;
    $("log-annotations").classList.toggle("tab-hidden", tests);
    if (remember) history.replaceState(null, "", tests ? "#tests" : window.location.pathname + window.location.search);
    if (!tests) fitLog();
  }

  function wireTabs() {
    $("tab-log").addEventListener("click", () => selectTab("log"));
    $("tab-tests").addEventListener("click", () => selectTab("tests"));
    window.addEventListener("hashchange", () => {
      if (window.location.hash === "#tests" && !$("run-tabs").hidden) selectTab("tests", { remember: false });
    });
    $("run-tabs").addEventListener("keydown", (e) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      const next = $("tab-log").getAttribute("aria-selected") === "true" ? "tests" : "log";
      selectTab(next);
      $(`tab-${next}`).focus();
    });
  }

  /** Loads the Tests tab (a finished run); shows the tabs when the run had a report. */
  async function loadTests(runId, view) {
    const showLine = (n) => { selectTab("log"); view.showLine(n); };
    let data = null;
    try {
      data = await attuneTestsTab.load($("tests-panel"), runId, showLine);
    } catch { return; }
    if (!data) return;
    const s = data.summary;
    $("tab-tests-count").textContent = s ? (s.failed + s.errors ? `${s.failed + s.errors} failing` : `${s.total}`) : "!";
    $("tab-tests-count").className = `tab-count${s && s.failed + s.errors ? " tab-count-bad" : ""}`;
    $("run-tabs").hidden = false;
    if (window.location.hash === "#tests") selectTab("tests", { remember: false });
    fitLog();
  }

  function wire(view) {
    const log = $("log");
    wireToggle("times", $("log-times"), (on) => log.classList.toggle("show-times", on));
    wireToggle("wrap", $("log-wrap"), (on) => { log.classList.toggle("nowrap", !on); if (view.follow) view.scrollToBottom(); });
    view.onStructureChange = () => renderAnnotations(view);
    $("log-first-error").addEventListener("click", () => {
      const i = view.firstError();
      if (i >= 0) view.showLine(i + 1);
    });
    wireTabs();
    fitLog();
    window.addEventListener("resize", fitLog);
    // Whatever grows above the log (a notice, recommendations, annotations, the tabs) shrinks it.
    const watcher = new ResizeObserver(() => fitLog());
    for (const node of $("run-page").children) if (node.id !== "log-panel") watcher.observe(node);
  }

  return { wire, loadTests, renderAnnotations, fitLog };
})();

// attune ops: the run page's Tests tab, drawn from GET /api/runs/{id}/tests — the counts, what
// changed since the previous run of the same workflow and scope, failed and errored tests with
// their message, traceback and a link to the log line, then the slowest. All text goes in as
// text (attune.el), never as HTML: test names and messages are a stranger's output.
"use strict";

const attuneTestsTab = (() => {
  const el = (...args) => attune.el(...args);
  const STATUS_WORDS = { passed: "passed", failed: "failed", error: "error", skipped: "skipped" };
  const COMPARED = [
    ["new_failures", "New failures", "bad"],
    ["still_failing", "Still failing", "bad"],
    ["fixed", "Fixed", "ok"],
    ["new_tests", "New tests", "info"],
    ["removed_tests", "Removed tests", "muted"],
  ];

  const seconds = (s) => attune.formatDuration(s ?? 0);
  const badge = (status) => el("span", { class: `badge test-${status}`, text: STATUS_WORDS[status] ?? status });

  function testLink(c) {
    return el("a", { class: "test-name", href: `/tests/${c.id}`, text: c.name, title: "This test's history" });
  }

  function where(c) {
    const file = c.file ? `${c.file}${c.line ? `:${c.line}` : ""}` : null;
    return el("span", { class: "muted small test-where", text: [c.classname, file].filter(Boolean).join(" · ") });
  }

  function summaryLine(data) {
    const s = data.summary;
    const parts = [
      el("strong", { text: attune.plural(s.total, "test") }),
      el("span", { class: "test-count test-count-passed", text: `${s.passed} passed` }),
      el("span", { class: "test-count test-count-failed", text: `${s.failed} failed` }),
      el("span", { class: "test-count test-count-error", text: attune.plural(s.errors, "error") }),
      el("span", { class: "test-count test-count-skipped", text: `${s.skipped} skipped` }),
      el("span", { class: "muted", text: seconds(s.time_s) }),
    ];
    if (data.compared_to) {
      parts.push(el("span", { class: "muted" }, "compared with ",
        el("a", { href: `/runs/${data.compared_to}#tests`, text: `run #${data.compared_to}` })));
    }
    return el("p", { class: "tests-summary", id: "tests-summary" }, ...parts);
  }

  function comparison(data) {
    if (!data.compared_to) return null;
    const box = el("div", { class: "tests-compare", id: "tests-compare" });
    for (const [key, label, tone] of COMPARED) {
      const count = data.compared_counts[key];
      const details = el("details", { class: `compare compare-${tone}`, "data-kind": key, open: key === "new_failures" && count > 0 },
        el("summary", {}, el("span", { text: label }), " ", el("span", { class: "num compare-count", text: String(count) })));
      const list = el("ul", { class: "compare-list" });
      for (const c of data[key]) list.append(el("li", {}, testLink(c), " ", where(c)));
      if (count > data[key].length) list.append(el("li", { class: "muted", text: `… and ${count - data[key].length} more` }));
      if (count) details.append(list);
      box.append(details);
    }
    return box;
  }

  function failureItem(c, showLine) {
    const head = el("div", { class: "fail-head" }, badge(c.status), " ", testLink(c), " ",
      c.flaky ? el("span", { class: "badge badge-flaky", title: "It both passed and failed within 14 days on the same code", text: "flaky" }) : null,
      el("span", { class: "spacer" }), el("span", { class: "muted num", text: seconds(c.time_s) }));
    const item = el("li", { class: `fail fail-${c.status}`, "data-test": c.name }, head, where(c));
    if (c.message) item.append(el("pre", { class: "fail-msg", text: c.message }));
    const actions = el("div", { class: "fail-actions" });
    if (c.traceback) {
      item.append(el("details", { class: "fail-trace" }, el("summary", { text: "Traceback" }), el("pre", { text: c.traceback })));
    }
    if (c.log_line) {
      actions.append(el("button", { type: "button", class: "fail-log", text: `Show in log (line ${c.log_line.toLocaleString()})`, onclick: () => showLine(c.log_line) }));
    }
    if (actions.childNodes.length) item.append(actions);
    return item;
  }

  function slowestTable(data) {
    const body = el("tbody");
    for (const c of data.slowest) {
      body.append(el("tr", {},
        el("td", { "data-label": "Test" }, testLink(c), " ", where(c)),
        el("td", { "data-label": "Result" }, badge(c.status)),
        el("td", { "data-label": "Time", class: "num", text: seconds(c.time_s) })));
    }
    return el("table", { class: "data stack tests-slowest" },
      el("thead", {}, el("tr", {}, el("th", { text: "Test" }), el("th", { text: "Result" }), el("th", { class: "num", text: "Time" }))), body);
  }

  /** Fills `panel` with the run's tests; returns the API object (null when it has no report). */
  async function load(panel, runId, showLine) {
    const data = await attune.api(`/api/runs/${runId}/tests?status=failed&status=error&limit=500`);
    if (!data.summary && !data.notes.length) return null;
    const parts = [el("h2", { class: "visually-hidden", text: "Tests" })];
    for (const note of data.notes) parts.push(el("div", { class: "notice notice-warn tests-note", text: note }));
    if (data.summary) {
      parts.push(summaryLine(data));
      parts.push(comparison(data));
      const failing = data.cases;
      if (failing.length) {
        parts.push(el("h3", { text: `Failed and errored (${data.cases_total})` }));
        const list = el("ol", { class: "fail-list", id: "tests-failing" });
        for (const c of failing) list.append(failureItem(c, showLine));
        parts.push(list);
      } else if (data.summary.total) {
        parts.push(el("p", { class: "tests-all-ok", text: "No test failed." }));
      }
      if (data.slowest.length) {
        parts.push(el("h3", { text: `Slowest ${data.slowest.length}` }));
        parts.push(el("div", { class: "table-wrap" }, slowestTable(data)));
      }
      const workflow = document.querySelector(".run-workflow")?.textContent ?? "";
      parts.push(el("p", { class: "small" }, el("a", { href: `/tests?workflow=${encodeURIComponent(workflow)}`, text: "Flaky and failing tests of this workflow" })));
    }
    panel.replaceChildren(...parts.filter(Boolean));
    return data;
  }

  return { load };
})();

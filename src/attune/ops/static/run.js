// attune ops: the run page — status, one EventSource for the live log, search, cancel, re-run,
// recommendation cards. The log view itself is AttuneLogView (logview.js).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const allowRun = () => Boolean($("run-page").dataset.allowRun);
  const FINISHED = new Set(["succeeded", "failed", "cancelled", "timed_out", "interrupted"]);
  const STATUS_LABELS = {
    running: "running", succeeded: "succeeded", failed: "failed", cancelled: "cancelled",
    timed_out: "timed out", interrupted: "interrupted",
  };

  let run, view, source = null, lastSeq = 0, done = false, retryDelay = 500, retryTimer = null;
  let ticker = null;
  const baseTitle = document.title;
  const seenRecs = new Set();

  // -- status --------------------------------------------------------------------------------------

  function showRun(next) {
    run = next;
    const badge = $("run-status");
    badge.className = `badge status-${run.status}`;
    badge.textContent = STATUS_LABELS[run.status] ?? run.status;
    $("run-exit").textContent =
      (run.exit_code ?? "–") + (run.signal ? ` (${run.signal})` : "");
    showUsage(run.usage);
    // The tab title says how the run is doing, for a run watched from another tab.
    document.title = `${badge.textContent} · ${baseTitle}`;
    const running = run.status === "running";
    $("run-cancel").hidden = !running;
    $("run-rerun").disabled = running || !allowRun();
    if (run.finished_at) {
      const t = $("run-finished");
      t.setAttribute("datetime", run.finished_at);
      t.textContent = attune.timeAgo(run.finished_at);
      $("run-finished-row").hidden = false;
    }
    tick();
    if (running && ticker === null) ticker = setInterval(tick, 1000);
    if (!running && ticker !== null) { clearInterval(ticker); ticker = null; }
  }

  // Tokens and cost from the run's ATTUNE_USAGE lines; the twins of web/run_costs.py.
  function formatCost(text) {
    if (text === null || text === undefined) return "–";
    const value = Number(text);
    if (value === 0) return "$0.00";
    if (value < 0.0001) return "<$0.0001";
    const places = value < 1 ? 4 : 2;
    return "$" + value.toLocaleString("en-US", { minimumFractionDigits: places, maximumFractionDigits: places });
  }

  function formatTokens(u) {
    const n = (x) => x.toLocaleString("en-US");
    const parts = [`${n(u.input_tokens)} in`, `${n(u.output_tokens)} out`];
    if (u.cache_creation_tokens) parts.push(`${n(u.cache_creation_tokens)} cache write`);
    if (u.cache_read_tokens) parts.push(`${n(u.cache_read_tokens)} cache read`);
    return parts.join(" · ");
  }

  function showUsage(usage) {
    const shown = Boolean(usage && usage.calls);
    $("run-cost-row").hidden = $("run-tokens-row").hidden = !shown;
    if (!shown) return;
    $("run-cost").textContent = formatCost(usage.cost_usd);
    const notes = [];
    if (usage.unpriced_calls) notes.push(`${usage.unpriced_calls} of ${attune.plural(usage.calls, "call")} unpriced`);
    if (usage.models.length) notes.push(usage.models.join(", "));
    $("run-cost").title = notes.join("; ");
    $("run-tokens").textContent = formatTokens(usage);
  }

  function tick() {
    const seconds = run.status === "running"
      ? Math.max(0, Math.floor((Date.now() - Date.parse(run.started_at)) / 1000))
      : run.duration_s;
    const running = run.status === "running";
    $("run-duration").textContent = running && seconds < 60 ? `${seconds} s` : attune.formatDuration(seconds);
    $("run-lines").textContent = view.lineCount.toLocaleString();
  }

  function notice(message, link) {
    const box = $("run-notice");
    box.replaceChildren(message);
    if (link) box.append(" ", attune.el("a", { href: link.href, text: link.text }));
    box.hidden = false;
  }

  function setConnection(state) {
    const node = $("run-connection");
    node.textContent = { live: "live", reconnecting: "reconnecting…", ended: "" }[state];
    node.className = `conn conn-${state}`;
  }

  // -- the stream ----------------------------------------------------------------------------------

  function connect() {
    clearTimeout(retryTimer);
    const base = `/api/runs/${run.id}/events`;
    source = new EventSource(lastSeq > 0 ? `${base}?after=${lastSeq}` : base);
    source.addEventListener("lines", onLines);
    source.addEventListener("recommendation", (e) => addRecommendation(JSON.parse(e.data)));
    source.addEventListener("done", onDone);
    source.onopen = () => { retryDelay = 500; setConnection("live"); };
    source.onerror = () => {
      if (done) return;
      setConnection("reconnecting");
      // The browser retries by itself (sending Last-Event-ID) unless the stream is CLOSED.
      if (source.readyState === EventSource.CLOSED) reconnectLater();
    };
  }

  // The stream was refused (server restarting, run removed …): ask again, resuming after the
  // last line shown, unless the run itself is gone.
  function reconnectLater() {
    if (source) source.close();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(async () => {
      try {
        await attune.api(`/api/runs/${run.id}`);
      } catch (err) {
        if (err.status === 404) {
          setConnection("ended");
          notice("This run no longer exists on the server (removed by retention?).");
          return;
        }
      }
      connect();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  }

  function onLines(event) {
    const frame = JSON.parse(event.data);
    let lines = frame.lines;
    const first = frame.first;
    if (first > lastSeq + 1) {
      // A gap should never happen; ask again from what we have rather than show a hole.
      reconnectLater();
      return;
    }
    if (first <= lastSeq) lines = lines.slice(lastSeq - first + 1);
    if (!lines.length) return;
    lastSeq += lines.length;
    view.append(lines, frame.t ?? null);  // t: when the batch arrived (absent on old runs)
  }

  function onDone(event) {
    done = true;
    source.close();
    setConnection("ended");
    showRun(JSON.parse(event.data));
    view.finish();
    attuneRunView.loadTests(run.id, view);
    $("run-cancel").disabled = false;
    $("run-cancel").textContent = "Cancel";
    $("run-page").dataset.streamDone = "1";
    window.dispatchEvent(new CustomEvent("attune:run-changed"));
  }

  // -- recommendations -----------------------------------------------------------------------------

  function safeUrl(text) {
    try {
      const url = new URL(text);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch { return null; }
  }

  function recommendationCard(rec) {
    const title = rec.title ?? rec.label ?? null;
    const reason = rec.reason ?? rec.message ?? rec.description ?? null;
    if (rec.kind === "next-workflow" && rec.workflow) {
      const scope = rec.path ? rec.path : "the whole project";
      const button = attune.el("button", { type: "button", class: "primary", text: "Run" });
      if (!allowRun()) {
        button.disabled = true;
        button.title = "Runs are disabled: attune ops was started with --read-only";
      }
      button.addEventListener("click", () => startRun(button, rec.workflow, rec.path ?? null));
      return attune.el("li", { class: "rec-card" },
        attune.el("div", { class: "rec-body" },
          attune.el("strong", { text: title ?? `Next: ${rec.workflow}` }),
          attune.el("span", { class: "muted", text: reason ?? `on ${scope}` })),
        button);
    }
    const href = rec.kind === "open-url" ? safeUrl(rec.url) : null;
    if (!href) return null;
    return attune.el("li", { class: "rec-card" },
      attune.el("div", { class: "rec-body" },
        attune.el("strong", { text: title ?? "Open a link" }),
        attune.el("span", { class: "muted rec-url", text: reason ?? href })),
      attune.el("a", { class: "button", href, target: "_blank", rel: "noopener noreferrer", text: "Open" }));
  }

  function addRecommendation(rec) {
    const key = JSON.stringify(rec);
    if (seenRecs.has(key)) return;
    seenRecs.add(key);
    const card = recommendationCard(rec);
    if (!card) return;
    $("run-recs-list").append(card);
    $("run-recs").hidden = false;
  }

  async function startRun(button, workflow, path) {
    button.disabled = true;
    try {
      const created = await attune.api("/api/runs", { method: "POST", body: { workflow, path } });
      window.location.assign(`/runs/${created.id}`);
    } catch (err) {
      button.disabled = false;
      if (err.code === "runner_busy" && err.payload?.current_run_id) {
        notice(`${err.message}`, { href: `/runs/${err.payload.current_run_id}`, text: "Open the current run" });
      } else notice(err.message);
    }
  }

  // -- controls ------------------------------------------------------------------------------------

  async function cancelRun() {
    const button = $("run-cancel");
    button.disabled = true;
    button.textContent = "Cancelling…";
    try {
      // 202: the group got SIGTERM; the status turns `cancelled` when it is gone ("done" event).
      showRun(await attune.api(`/api/runs/${run.id}/cancel`, { method: "POST" }));
      if (run.status !== "running") button.textContent = "Cancel";
    } catch (err) {
      if (err.code !== "run_finished") notice(err.message);
      button.disabled = false;
      button.textContent = "Cancel";
    }
  }

  async function rerun() {
    const button = $("run-rerun");
    button.disabled = true;
    try {
      const created = await attune.api(`/api/runs/${run.id}/rerun`, { method: "POST" });
      window.location.assign(`/runs/${created.id}`);
    } catch (err) {
      button.disabled = false;
      if (err.code === "runner_busy" && err.payload?.current_run_id) {
        notice(err.message, { href: `/runs/${err.payload.current_run_id}`, text: "Open the current run" });
      } else notice(err.message);
    }
  }

  function wireSearch() {
    const input = $("log-search"), count = $("log-hits");
    let timer = null;
    const update = (status) => {
      if (!status.term) { count.textContent = ""; return; }
      const total = status.total.toLocaleString() + (status.capped ? "+" : "");
      count.textContent = status.total ? `${status.current.toLocaleString()} / ${total}` : "no match";
      $("log-next").disabled = $("log-prev").disabled = !status.total;
    };
    view.onSearchChange = update;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => view.search(input.value), 120);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        clearTimeout(timer);
        if (view.term !== input.value.toLowerCase()) view.search(input.value);
        else view.step(e.shiftKey ? -1 : 1);
      } else if (e.key === "Escape") { input.value = ""; view.search(""); }
    });
    $("log-next").addEventListener("click", () => view.step(1));
    $("log-prev").addEventListener("click", () => view.step(-1));
    document.addEventListener("keydown", (e) => {
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
      if (e.key === "/" && !typing) { e.preventDefault(); input.focus(); input.select(); }
    });
    const initial = new URLSearchParams(window.location.search).get("q");
    if (initial) input.value = initial;
  }

  function wireFollow() {
    const toggle = $("log-follow");
    const show = (on) => {
      toggle.setAttribute("aria-pressed", String(on));
      toggle.textContent = on ? "Following" : "Follow";
    };
    view.onFollowChange = show;
    toggle.addEventListener("click", () => view.setFollow(!view.follow));
    show(view.follow);
  }

  // Line links: a click on a line number puts #L<n> in the address; opening such a link shows it.
  function wireLineLinks() {
    $("log-body").addEventListener("click", (e) => {
      const line = e.target.closest(".ll");
      if (!line || e.clientX - line.getBoundingClientRect().left > GUTTER_PX()) return;
      history.replaceState(null, "", `#L${line.dataset.n}`);
      view.showLine(Number(line.dataset.n));
    });
    const wanted = /^#L(\d+)$/.exec(window.location.hash);
    if (!wanted) return;
    const n = Number(wanted[1]), started = Date.now();
    const waitForLine = () => {
      if (view.showLine(n) || done || Date.now() - started > 10000) return;
      setTimeout(waitForLine, 100);
    };
    waitForLine();
  }
  const GUTTER_PX = () => parseFloat(getComputedStyle($("log-body").querySelector(".ll")).paddingLeft);

  async function copyLog() {
    const button = $("log-copy");
    try {
      await navigator.clipboard.writeText(view.plainText());
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  }

  document.addEventListener("DOMContentLoaded", () => {
    run = JSON.parse($("run-data").textContent);
    view = new AttuneLogView($("log"), $("log-body"));
    attuneRunView.wire(view);
    wireFollow();
    wireSearch();
    $("run-cancel").addEventListener("click", cancelRun);
    $("run-rerun").addEventListener("click", rerun);
    $("log-copy").addEventListener("click", copyLog);
    wireLineLinks();
    showRun(run);
    connect();
    // A page restored from the back/forward cache has a closed stream: load it afresh.
    window.addEventListener("pageshow", (e) => { if (e.persisted) window.location.reload(); });
    // Apply a search from the URL (?q=…) once the replay has arrived.
    const input = $("log-search");
    if (input.value) {
      const started = Date.now();
      const waitForReplay = () => {
        if (done || view.lineCount >= run.line_count || Date.now() - started > 5000) view.search(input.value);
        else setTimeout(waitForReplay, 100);
      };
      waitForReplay();
    }
  });
})();

// attune ops: shared page helpers. No inline scripts anywhere (the CSP forbids them).
"use strict";

const attune = (() => {
  const token = () => document.querySelector('meta[name="attune-token"]')?.content ?? "";

  // fetch() that sends the per-process token and turns the JSON error shape into an Error.
  async function api(path, { method = "GET", body, signal } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-Attune-Token"] = token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const err = new Error(data?.error?.message ?? `${res.status} ${res.statusText}`);
      err.code = data?.error?.code ?? "http_error";
      err.status = res.status;
      err.payload = data?.error ?? null;
      throw err;
    }
    return data;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    if (m < 60) return `${m} min ${s} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  // "1 marker", "3 markers": the twin of attune.text.plural (Python) and _text.html (templates).
  function plural(n, word, words) {
    return `${n} ${n === 1 ? word : (words ?? `${word}s`)}`;
  }

  function timeAgo(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return "";
    const s = Math.max(0, (Date.now() - t) / 1000);
    if (s < 45) return "just now";
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }

  // <time datetime="…" data-ago> elements show a relative time, refreshed every 30 s.
  function refreshTimes() {
    for (const node of document.querySelectorAll("time[data-ago]")) {
      node.textContent = timeAgo(node.getAttribute("datetime"));
      node.title = new Date(node.getAttribute("datetime")).toLocaleString();
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    refreshTimes();
    setInterval(refreshTimes, 30000);
  });

  return { api, el, token, formatDuration, plural, timeAgo, refreshTimes };
})();

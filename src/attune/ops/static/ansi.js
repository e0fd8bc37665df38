// attune ops: a log line's plain text and its SGR colours as HTML, safely.
// The grammar is the server's (runs/ansi.py, which spells it out) token for token, so search,
// Copy and the rendered text all equal "Download plain": escape sequences and C0 controls are
// removed, then only the last non-empty carriage-return part of the line stays visible.
// SGR sequences (ESC [ … m) become <span class="…">; the text between tokens is HTML-escaped.
"use strict";

const attuneAnsi = (() => {
  // CSI (groups 1-3: parameters, intermediates, final — absent when cut short) | string
  // sequences OSC/DCS/SOS/PM/APC up to BEL, ST, the next ESC or the end | other escapes and a
  // lone ESC | C0 controls but tab, newline and CR. Same source as ANSI_RE in runs/ansi.py.
  const SEQUENCE_SOURCE = "\\x1b\\[([0-?]*)([ -/]*)([@-~]?)"
    + "|\\x1b[\\]PX^_][^\\x07\\x1b\\n]*(?:\\x07|\\x1b\\\\)?"
    + "|\\x1b[ -/]*[0-~]?"
    + "|[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1a\\x1c-\\x1f\\x7f]";
  const SEQUENCE = new RegExp(SEQUENCE_SOURCE, "g");
  const TOKEN = new RegExp(`${SEQUENCE_SOURCE}|(\\r)`, "g");  // group 4: a carriage return
  const SGR_PARAMS = /^[0-9;:]*$/;
  const HAS_CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;
  const HTML_CHARS = /[&<>"']/g;
  const HAS_HTML_CHAR = /[&<>"']/;
  const HTML_ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(text) {
    return HAS_HTML_CHAR.test(text) ? text.replace(HTML_CHARS, (c) => HTML_ENTITIES[c]) : text;
  }

  // A carriage return overwrites the terminal line, but an empty part never erases (CRLF).
  function lastNonEmptyPart(text) {
    if (text.indexOf("\r") < 0) return text;
    const parts = text.split("\r");
    for (let i = parts.length - 1; i >= 0; i--) if (parts[i] !== "") return parts[i];
    return "";
  }

  /** The line's plain text: what search matches, Copy copies and "Download plain" holds. */
  function strip(line) {
    return HAS_CONTROL.test(line) ? lastNonEmptyPart(line.replace(SEQUENCE, "")) : line;
  }

  function newState() {
    return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
  }

  // Colour 0-15 of a 256-colour index; the 6x6x6 cube and greys map to the nearest basic one.
  function basicOf256(n) {
    if (n < 16) return n;
    if (n >= 232) return n < 244 ? 8 : 7;
    const c = n - 16, r = Math.floor(c / 36), g = Math.floor(c / 6) % 6, b = c % 6;
    const bright = Math.max(r, g, b) > 3 ? 8 : 0;
    return bright + (r > 2 ? 1 : 0) + (g > 2 ? 2 : 0) + (b > 2 ? 4 : 0);
  }

  function basicOfRgb(r, g, b) {
    const max = Math.max(r, g, b);
    if (max < 48) return 0;
    const bit = (v) => (v >= max * 0.6 ? 1 : 0);
    const code = bit(r) + bit(g) * 2 + bit(b) * 4;
    return (max > 170 ? 8 : 0) + (code || 7);
  }

  // Extended colour (38/48 ; 5 ; n or 38/48 ; 2 ; r ; g ; b): returns [colour, params consumed].
  function extendedColour(params, i) {
    if (params[i + 1] === 5 && params.length > i + 2) return [basicOf256(params[i + 2] & 255), 2];
    if (params[i + 1] === 2 && params.length > i + 4) {
      return [basicOfRgb(params[i + 2], params[i + 3], params[i + 4]), 4];
    }
    return [null, params.length - i];
  }

  function applySgr(state, raw) {
    const params = raw === "" ? [0] : raw.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      if (p === 0) Object.assign(state, newState());
      else if (p === 1) state.bold = true;
      else if (p === 2) state.dim = true;
      else if (p === 3) state.italic = true;
      else if (p === 4) state.underline = true;
      else if (p === 22) { state.bold = false; state.dim = false; }
      else if (p === 23) state.italic = false;
      else if (p === 24) state.underline = false;
      else if (p >= 30 && p <= 37) state.fg = p - 30;
      else if (p >= 90 && p <= 97) state.fg = p - 90 + 8;
      else if (p === 39) state.fg = null;
      else if (p >= 40 && p <= 47) state.bg = p - 40;
      else if (p >= 100 && p <= 107) state.bg = p - 100 + 8;
      else if (p === 49) state.bg = null;
      else if (p === 38 || p === 48) {
        const [colour, used] = extendedColour(params, i);
        if (p === 38) state.fg = colour; else state.bg = colour;
        i += used;
      }
    }
  }

  function classesOf(state) {
    const out = [];
    if (state.fg !== null) out.push(`ansi-fg${state.fg}`);
    if (state.bg !== null) out.push(`ansi-bg${state.bg}`);
    if (state.bold) out.push("ansi-bold");
    if (state.dim) out.push("ansi-dim");
    if (state.italic) out.push("ansi-italic");
    if (state.underline) out.push("ansi-underline");
    return out.join(" ");
  }

  /**
   * One log line to safe HTML whose text is exactly `strip(line)`. `state` carries SGR
   * attributes from line to line (as a terminal does) and is updated in place; pass
   * `newState()` for the first line. Colours set in an overwritten part still apply after it.
   */
  function toHtml(line, state) {
    let cls = classesOf(state);
    if (!HAS_CONTROL.test(line)) {
      const text = escapeHtml(line);
      return cls && text ? `<span class="${cls}">${text}</span>` : text;
    }
    // `part` is the HTML of the current \r-separated part; `shown` the last non-empty one.
    let part = "", shown = "", hasText = false, open = false, last = 0, m;
    TOKEN.lastIndex = 0;
    for (;;) {
      m = TOKEN.exec(line);
      const end = m === null ? line.length : m.index;
      if (end > last) {
        if (cls && !open) { part += `<span class="${cls}">`; open = true; }
        part += escapeHtml(line.slice(last, end));
        hasText = true;
      }
      if (m === null) break;
      last = TOKEN.lastIndex;
      if (m[4] !== undefined) {
        if (open) { part += "</span>"; open = false; }
        if (hasText) shown = part;
        part = "";
        hasText = false;
      } else if (m[3] === "m" && m[2] === "" && SGR_PARAMS.test(m[1])) {
        if (open) { part += "</span>"; open = false; }
        applySgr(state, m[1]);
        cls = classesOf(state);
      }
    }
    if (open) part += "</span>";
    return hasText ? part : shown;
  }

  return { escapeHtml, strip, toHtml, newState };
})();

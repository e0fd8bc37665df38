// attune ops: the log view of the run page — incremental rendering, follow, search.
// Lines live in arrays; the DOM only ever grows at the end, in blocks of BLOCK lines, at most
// FRAME_LINES per animation frame. Search runs over the plain-text array, never over the DOM.
"use strict";

class AttuneLogView {
  static BLOCK = 200;
  static CHUNK = 250;          // lines rendered between two looks at the clock
  static FRAME_BUDGET_MS = 12;  // rendering time per animation frame, so scrolling stays smooth
  static MAX_HITS = 200000;
  static MAX_MARKED_LINES = 20000;
  static MAX_LINE_CHARS = 10000;  // longer lines are cut on screen (search and downloads see all)

  constructor(scroller, body, { onFollowChange, onSearchChange } = {}) {
    this.scroller = scroller;
    this.body = body;
    this.onFollowChange = onFollowChange ?? (() => {});
    this.onSearchChange = onSearchChange ?? (() => {});
    this.raw = [];
    this.lower = [];
    this.rendered = 0;
    this.ansiState = attuneAnsi.newState();
    this.frameRequested = false;
    this.follow = true;
    this.lastTop = 0;
    this.term = "";
    this.hits = [];          // flat: [line, occurrence-in-line, line, occurrence, …]
    this.hitTotal = 0;
    this.hitLines = new Set();
    this.current = -1;       // index into hits (pairs)
    this.currentEl = null;
    scroller.addEventListener("scroll", () => this.onScroll(), { passive: true });
  }

  get lineCount() { return this.raw.length; }

  /** Queue lines for display; rendering happens on the next animation frame. */
  append(lines) {
    const from = this.raw.length;
    for (const line of lines) {
      this.raw.push(line);
      this.lower.push(attuneAnsi.strip(line).toLowerCase());
    }
    if (this.term) this.scanHits(from, this.raw.length);
    this.requestFrame();
    if (this.term) this.onSearchChange(this.searchStatus());
  }

  requestFrame() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      const start = performance.now();
      while (this.rendered < this.raw.length && performance.now() - start < AttuneLogView.FRAME_BUDGET_MS) {
        this.renderUpTo(Math.min(this.raw.length, this.rendered + AttuneLogView.CHUNK), false);
      }
      if (this.follow) this.scrollToBottom();
      if (this.rendered < this.raw.length) this.requestFrame();
    });
  }

  lineHtml(i) {
    const cls = this.hitLines.has(i) ? "ll hit" : "ll";
    let text = this.raw[i], cut = "";
    // Cut by the visible length: a progress bar redrawn 1,000 times over \r shows one state.
    if (text.length > AttuneLogView.MAX_LINE_CHARS
        && attuneAnsi.strip(text).length > AttuneLogView.MAX_LINE_CHARS) {
      const more = (text.length - AttuneLogView.MAX_LINE_CHARS).toLocaleString();
      cut = `<span class="ll-cut">… ${more} more characters: download the log for the whole line</span>`;
      text = text.slice(0, AttuneLogView.MAX_LINE_CHARS);
    }
    return `<div class="${cls}" data-n="${i + 1}">${attuneAnsi.toHtml(text, this.ansiState)}${cut}</div>`;
  }

  // Appends lines [rendered, end) to the DOM: fills the last block, then new blocks in one fragment.
  renderUpTo(end, scroll = true) {
    const B = AttuneLogView.BLOCK;
    if (end <= this.rendered) return;
    let i = this.rendered;
    const last = this.body.lastElementChild;
    if (last && i % B !== 0) {
      const stop = Math.min(end, i + (B - (i % B)));
      let html = "";
      for (; i < stop; i++) html += this.lineHtml(i);
      last.insertAdjacentHTML("beforeend", html);
    }
    const fragment = document.createDocumentFragment();
    while (i < end) {
      const stop = Math.min(end, i + B);
      let html = "";
      for (; i < stop; i++) html += this.lineHtml(i);
      const block = document.createElement("div");
      block.className = "log-block";
      block.insertAdjacentHTML("beforeend", html);
      fragment.append(block);
    }
    this.body.append(fragment);
    this.rendered = end;
    if (scroll && this.follow) this.scrollToBottom();
  }

  lineElement(i) {
    if (i >= this.rendered) this.renderUpTo(i + 1);
    const block = this.body.children[Math.floor(i / AttuneLogView.BLOCK)];
    return block ? block.children[i % AttuneLogView.BLOCK] : null;
  }

  // -- follow ------------------------------------------------------------------------------------

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 8;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.lastTop = this.scroller.scrollTop;
  }

  setFollow(on) {
    if (this.follow === on) return;
    this.follow = on;
    if (on) this.scrollToBottom();
    this.onFollowChange(on);
  }

  // Scrolling up pauses follow; coming back to the bottom resumes it.
  onScroll() {
    const top = this.scroller.scrollTop;
    if (this.atBottom()) this.setFollow(true);
    else if (top < this.lastTop - 2) this.setFollow(false);
    this.lastTop = top;
  }

  // -- search ------------------------------------------------------------------------------------

  scanHits(from, to) {
    const term = this.term, len = term.length;
    for (let i = from; i < to; i++) {
      const text = this.lower[i];
      let at = text.indexOf(term);
      if (at < 0) continue;
      let k = 0;
      if (this.hitLines.size < AttuneLogView.MAX_MARKED_LINES) {
        this.hitLines.add(i);
        if (i < this.rendered) this.lineElement(i)?.classList.add("hit");
      }
      while (at >= 0) {
        if (this.hits.length < AttuneLogView.MAX_HITS * 2) this.hits.push(i, k);
        this.hitTotal++;
        k++;
        at = text.indexOf(term, at + len);
      }
    }
  }

  clearSearch() {
    this.unmarkCurrent();
    for (const i of this.hitLines) if (i < this.rendered) this.lineElement(i)?.classList.remove("hit");
    this.hitLines = new Set();
    this.hits = [];
    this.hitTotal = 0;
    this.current = -1;
  }

  /** Search every line for `term` (case-insensitive); jumps to the first hit. */
  search(term) {
    this.clearSearch();
    this.term = term.toLowerCase();
    if (this.term) {
      this.scanHits(0, this.raw.length);
      if (this.hits.length) this.goTo(0);
    }
    this.onSearchChange(this.searchStatus());
  }

  searchStatus() {
    return {
      term: this.term,
      total: this.hitTotal,
      capped: this.hitTotal > this.hits.length / 2,
      current: this.current >= 0 ? this.current / 2 + 1 : 0,
    };
  }

  /** Move to the next (+1) or previous (-1) hit, wrapping around. */
  step(direction) {
    const n = this.hits.length / 2;
    if (!n) return;
    const next = this.current < 0 ? 0 : (this.current / 2 + direction + n) % n;
    this.goTo(next);
    this.onSearchChange(this.searchStatus());
  }

  goTo(index) {
    this.unmarkCurrent();
    this.current = index * 2;
    const line = this.hits[this.current], occurrence = this.hits[this.current + 1];
    const el = this.lineElement(line);
    if (!el) return;
    el.classList.add("hit-current");
    const marks = AttuneLogView.markTerm(el, this.term);
    this.currentEl = el;
    this.setFollow(false);
    const target = marks[occurrence] ?? el;
    target.classList.add("mark-current");
    this.centerOn(target);
  }

  /** Marks line `n` (1-based) as the linked line and brings it into view; false if absent. */
  showLine(n) {
    if (!(n >= 1 && n <= this.raw.length)) return false;
    this.body.querySelector(".ll-target")?.classList.remove("ll-target");
    const el = this.lineElement(n - 1);
    el.classList.add("ll-target");
    this.setFollow(false);
    this.centerOn(el);
    return true;
  }

  /** The whole log as plain text (escape codes removed), for the clipboard. */
  plainText() {
    return this.raw.map((line) => attuneAnsi.strip(line)).join("\n");
  }

  // Scrolls the log (and only the log, never the page) so that `el` sits in its middle.
  centerOn(el) {
    const s = this.scroller;
    const top = el.getBoundingClientRect().top - s.getBoundingClientRect().top + s.scrollTop;
    s.scrollTop = Math.max(0, top - s.clientHeight / 2);
    this.lastTop = s.scrollTop;
  }

  unmarkCurrent() {
    const el = this.currentEl;
    if (!el) return;
    el.classList.remove("hit-current");
    for (const m of el.querySelectorAll("mark")) m.replaceWith(...m.childNodes);
    el.normalize();
    this.currentEl = null;
  }

  // Wraps every occurrence of `term` in the line's text nodes in <mark>, across colour spans.
  static markTerm(el, term) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const nodes = [];
    let text = "";
    while (walker.nextNode()) {
      nodes.push([walker.currentNode, text.length]);
      text += walker.currentNode.nodeValue;
    }
    const lower = text.toLowerCase(), ranges = [];
    for (let at = lower.indexOf(term); at >= 0 && term; at = lower.indexOf(term, at + term.length)) {
      ranges.push([at, at + term.length]);
    }
    const marks = ranges.map(() => []);
    for (let n = nodes.length - 1; n >= 0; n--) {
      const [node, offset] = nodes[n];
      const len = node.nodeValue.length;
      for (let r = ranges.length - 1; r >= 0; r--) {
        const a = Math.max(ranges[r][0], offset), b = Math.min(ranges[r][1], offset + len);
        if (a >= b) continue;
        const range = document.createRange();
        range.setStart(node, a - offset);
        range.setEnd(node, b - offset);
        const mark = document.createElement("mark");
        range.surroundContents(mark);
        marks[r].unshift(mark);
      }
    }
    return marks.map((parts) => parts[0]);
  }
}

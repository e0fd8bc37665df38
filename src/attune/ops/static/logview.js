// attune ops: the log view of the run page — incremental rendering, follow, search, and the
// log's structure: CI groups folded with their durations, annotations, the first error
// (markers: logmarks.js; the group tree: loggroups.js, mixed in at the end). Lines live in
// arrays; the DOM only ever grows at the end, each line in the body of the group holding it, in
// blocks of at most BLOCK lines, at most FRAME_BUDGET_MS of rendering per animation frame.
// Search runs over the plain-text array, never over the DOM.
"use strict";

class AttuneLogView {
  static BLOCK = 200;
  static CHUNK = 250;          // lines rendered between two looks at the clock
  static FRAME_BUDGET_MS = 12;  // rendering time per animation frame, so scrolling stays smooth
  static MAX_HITS = 200000;
  static MAX_MARKED_LINES = 20000;
  static MAX_LINE_CHARS = 10000;  // longer lines are cut on screen (search and downloads see all)

  constructor(scroller, body, { onFollowChange, onSearchChange, onStructureChange } = {}) {
    this.scroller = scroller;
    this.body = body;
    this.onFollowChange = onFollowChange ?? (() => {});
    this.onSearchChange = onSearchChange ?? (() => {});
    this.onStructureChange = onStructureChange ?? (() => {});  // groups or annotations changed
    this.raw = [];
    this.lower = [];
    this.times = [];          // arrival time of each line (epoch seconds), when the server said
    this.marks = [];          // attuneLogMarks.classify of each line (null: a plain line)
    this.groupOf = [];        // the innermost group holding each line, or -1
    this.groups = [];         // {start, end, title, source, name, parent, open, user, t0, t1, el}
    this.groupAt = new Map(); // line index of a group's start -> the group
    this.dirtyGroups = new Set();
    this.annotationsChanged = false;
    this.openGroups = [];     // groups not closed yet, outermost first
    this.annotations = [];    // {index, level, message, file, line, title}
    this.firstErrorLine = -1; // the first line that looks like an error
    this.live = true;
    this.blocks = [];         // {el, first, count}, in line order: lineElement's index
    this.heads = new Map();   // line index of a group's header -> its element
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
    body.addEventListener("click", (e) => {
      const head = e.target.closest(".lg-head");
      if (!head || e.clientX - head.getBoundingClientRect().left < parseFloat(getComputedStyle(head).paddingLeft)) return;
      this.toggleGroup(Number(head.parentElement.dataset.g));
    });
    body.addEventListener("keydown", (e) => {
      const head = e.target.closest(".lg-head");
      if (!head || (e.key !== "Enter" && e.key !== " ")) return;
      e.preventDefault();
      this.toggleGroup(Number(head.parentElement.dataset.g));
    });
    // Lines laid out for the first time (content-visibility) or wrapped differently change the
    // height after a scroll: while following, stay at the true bottom.
    this.resizer = new ResizeObserver(() => { if (this.follow) this.scrollToBottom(); });
    this.resizer.observe(body);
    this.resizer.observe(scroller);  // a shorter log box (the header grew) hides the bottom too
  }

  get lineCount() { return this.raw.length; }

  /** Queue lines (that arrived at `t`, epoch seconds) for display on the next animation frame. */
  append(lines, t = null) {
    const from = this.raw.length;
    for (const line of lines) {
      const plain = attuneAnsi.strip(line);
      this.raw.push(line);
      this.lower.push(plain.toLowerCase());
      this.times.push(t);
      this.structure(this.raw.length - 1, line, plain, t);
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
      for (const g of this.openGroups) this.paintGroup(g);
      for (const g of this.dirtyGroups) this.paintGroup(g);
      this.dirtyGroups.clear();
      if (this.annotationsChanged) { this.annotationsChanged = false; this.onStructureChange(); }
      if (this.follow) this.scrollToBottom();
      if (this.rendered < this.raw.length) this.requestFrame();
    });
  }

  static timeText(t) {
    if (t === null || t === undefined) return "";
    const d = new Date(t * 1000), p = (n, w = 2) => String(n).padStart(w, "0");
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  lineHtml(i) {
    let cls = this.hitLines.has(i) ? "ll hit" : "ll";
    let text = this.raw[i], cut = "";
    const mark = this.marks[i];
    if (mark?.kind === "end") cls += " ll-marker";
    // Cut by the visible length: a progress bar redrawn 1,000 times over \r shows one state.
    if (text.length > AttuneLogView.MAX_LINE_CHARS
        && attuneAnsi.strip(text).length > AttuneLogView.MAX_LINE_CHARS) {
      const more = (text.length - AttuneLogView.MAX_LINE_CHARS).toLocaleString();
      cut = `<span class="ll-cut">… ${more} more characters: download the log for the whole line</span>`;
      text = text.slice(0, AttuneLogView.MAX_LINE_CHARS);
    }
    let html = attuneAnsi.toHtml(text, this.ansiState);
    if (mark?.kind === "annotation") {
      cls += ` ann ann-${mark.level}`;
      const where = mark.file ? ` (${mark.file}${mark.line ? `:${mark.line}` : ""})` : "";
      const label = { error: "Error", warning: "Warning", notice: "Notice" }[mark.level];
      html = `<span class="ann-label">${label}</span> ${attuneAnsi.escapeHtml((mark.title ? `${mark.title}: ` : "") + mark.message + where)}`;
    }
    const t = this.times[i];
    const stamp = t === null ? "" : ` data-t="${AttuneLogView.timeText(t)}"`;
    return `<div class="${cls}" data-n="${i + 1}"${stamp}>${html}${cut}</div>`;
  }

  // Appends lines [rendered, end) to the DOM, each into the body of the group that holds it.
  renderUpTo(end, scroll = true) {
    if (end <= this.rendered) return;
    let i = this.rendered;
    while (i < end) {
      if (this.marks[i]?.kind === "group") { this.renderHead(i); i++; continue; }
      const g = this.groupOf[i];
      let j = i + 1;
      while (j < end && this.groupOf[j] === g && this.marks[j]?.kind !== "group") j++;
      this.renderLines(g < 0 ? this.body : this.groups[g].el.lastChild, i, j);
      i = j;
    }
    this.rendered = end;
    if (scroll && this.follow) this.scrollToBottom();
  }

  // Lines [from, to) into `parent`: the last block is filled when it ends just before `from`.
  renderLines(parent, from, to) {
    const B = AttuneLogView.BLOCK;
    let i = from;
    const last = this.blocks.at(-1);
    if (last && last.el.parentNode === parent && last.first + last.count === i && last.count < B) {
      const stop = Math.min(to, i + B - last.count);
      let html = "";
      for (; i < stop; i++) html += this.lineHtml(i);
      last.el.insertAdjacentHTML("beforeend", html);
      last.count += stop - from;
    }
    const fragment = document.createDocumentFragment();
    while (i < to) {
      const stop = Math.min(to, i + B);
      let html = "";
      for (let k = i; k < stop; k++) html += this.lineHtml(k);
      const block = document.createElement("div");
      block.className = "log-block";
      block.insertAdjacentHTML("beforeend", html);
      fragment.append(block);
      this.blocks.push({ el: block, first: i, count: stop - i });
      i = stop;
    }
    parent.append(fragment);
  }

  lineElement(i) {
    if (i >= this.rendered) this.renderUpTo(i + 1);
    const head = this.heads.get(i);
    if (head) return head;
    let lo = 0, hi = this.blocks.length - 1;
    while (lo < hi) {  // the last block whose first line is at or before i
      const mid = (lo + hi + 1) >> 1;
      if (this.blocks[mid].first <= i) lo = mid; else hi = mid - 1;
    }
    const block = this.blocks[lo];
    return block && i < block.first + block.count ? block.el.children[i - block.first] : null;
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

  // Scrolling up pauses follow; scrolling back down to the bottom resumes it. Only a move down
  // resumes it: showing a linked line or a search hit near the end of what is drawn may leave
  // the box at its bottom, and that scroll of ours must not turn following back on.
  onScroll() {
    const top = this.scroller.scrollTop;
    if (top > this.lastTop + 1 && this.atBottom()) this.setFollow(true);
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
    this.reveal(line);
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
    this.reveal(n - 1);
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

Object.assign(AttuneLogView.prototype, attuneLogGroups);  // loggroups.js

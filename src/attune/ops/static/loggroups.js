// attune ops: the log's structure for AttuneLogView (logview.js) — CI groups (GitHub ::group::,
// Buildkite ---/+++/~~~, GitLab sections; markers: logmarks.js) folded with their line counts
// and durations, the annotations, the first error, and opening the groups around a search hit
// or a linked line. Methods mixed into AttuneLogView.prototype; the state they use (groups,
// groupOf, groupAt, openGroups, dirtyGroups, annotations, firstErrorLine) is set up there.
"use strict";

const attuneLogGroups = {
  // Reads one line's marker into the group tree, the annotations and the first error.
  structure(i, line, plain, t) {
    const mark = (line.length < 4096) ? attuneLogMarks.classify(line, plain) : null;
    this.marks.push(mark && mark.kind !== "error" ? mark : null);
    if (mark?.kind === "end") this.closeGroup(i, mark, t);
    else if (mark?.kind === "group") this.openGroup(i, mark, t);
    else if (mark?.kind === "expand" && this.openGroups.length) this.openGroups.at(-1).open = true;
    const top = this.openGroups.at(-1);
    if (mark?.kind === "group") this.groupOf.push(top.parent);
    else if (mark?.kind === "end" && mark.closed !== undefined) this.groupOf.push(mark.closed);
    else this.groupOf.push(top ? top.index : -1);
    if (t !== null) for (const g of this.openGroups) g.t1 = t;
    if (mark?.kind === "annotation") {
      this.annotations.push({ index: i, ...mark });
      this.annotationsChanged = true;
      if (mark.level === "error") this.revealError(i);
    } else if (mark?.kind === "error" && this.firstErrorLine < 0) {
      this.firstErrorLine = i;
      this.revealError(i);
    }
  },

  openGroup(i, mark, t) {
    // GitHub groups and Buildkite sections do not nest: a new one ends the one before.
    if (mark.source !== "gitlab") {
      const same = this.openGroups.findIndex((g) => g.source === mark.source);
      if (same >= 0) this.endGroupsFrom(same, i - 1, t);
    }
    const parent = this.openGroups.length ? this.openGroups.at(-1).index : -1;
    const group = {
      index: this.groups.length, start: i, end: -1, title: mark.title, source: mark.source,
      name: mark.name ?? null, parent, open: mark.open, muted: Boolean(mark.muted), user: null,
      t0: mark.ts ?? t, t1: mark.ts ?? t, stamped: mark.ts !== undefined, error: false, el: null,
    };
    this.groups.push(group);
    this.groupAt.set(i, group);
    this.openGroups.push(group);
  },

  closeGroup(i, mark, t) {
    let at = -1;
    for (let k = this.openGroups.length - 1; k >= 0; k--) {
      const g = this.openGroups[k];
      if (g.source === mark.source && (mark.source !== "gitlab" || g.name === mark.name)) { at = k; break; }
    }
    if (at < 0) return;
    mark.closed = this.openGroups[at].index;  // the end line belongs to the group it closes
    this.endGroupsFrom(at, i, mark.ts ?? t);
  },

  endGroupsFrom(at, last, t) {
    for (const g of this.openGroups.splice(at)) {
      g.end = last;
      if (t !== null && t !== undefined) g.t1 = t;
      this.dirtyGroups.add(g);
    }
  },

  // The group holding the first error opens (unless the user closed it).
  revealError(i) {
    if (this.errorShown) return;
    this.errorShown = true;
    for (let g = this.groupOf[i]; g >= 0; g = this.groups[g].parent) {
      this.groups[g].error = true;
      this.dirtyGroups.add(this.groups[g]);
    }
  },

  /** The run ended: groups still open end at the last line, and stop counting as live. */
  finish() {
    this.live = false;
    for (const g of this.openGroups) this.dirtyGroups.add(g);
    if (this.openGroups.length) this.endGroupsFrom(0, this.raw.length - 1, null);
    // Buildkite: with no "+++" section, the last "---" one is expanded.
    const sections = this.groups.filter((g) => g.source === "buildkite");
    const last = sections.filter((g) => !g.muted).at(-1);
    if (last && !sections.some((g) => g.open)) { last.open = true; this.dirtyGroups.add(last); }
    this.requestFrame();
  },

  isOpen(g) {
    const group = this.groups[g];
    if (group.user !== null) return group.user;
    return group.open || group.error || (this.live && group.end < 0);
  },

  toggleGroup(g, open = !this.isOpen(g)) {
    this.groups[g].user = open;
    this.paintGroup(this.groups[g]);
    if (!open && this.follow) this.scrollToBottom();
  },

  paintGroup(group) {
    if (!group.el) return;
    const open = this.isOpen(group.index);
    group.el.classList.toggle("open", open);
    group.el.firstChild.setAttribute("aria-expanded", String(open));
    const seconds = group.t0 !== null && group.t1 !== null ? Math.max(0, group.t1 - group.t0) : null;
    const lines = (group.end < 0 ? this.raw.length - 1 : group.end) - group.start;
    group.el.querySelector(".lg-dur").textContent =
      `${attune.plural(Math.max(0, lines), "line")}${seconds === null ? "" : ` · ${attune.formatDuration(seconds)}`}`;
  },

  /** Opens every group around line index `i` (a search hit or a linked line inside). */
  reveal(i) {
    for (let g = this.groupOf[i] ?? -1; g >= 0; g = this.groups[g].parent) {
      if (!this.isOpen(g)) { this.groups[g].user = true; this.paintGroup(this.groups[g]); }
    }
  },

  /** The line index the "First error" button goes to: the first ::error annotation, else the
   * first line that looks like an error, else the first annotation; -1 when none. */
  firstError() {
    const error = this.annotations.find((a) => a.level === "error");
    if (error) return error.index;
    if (this.firstErrorLine >= 0) return this.firstErrorLine;
    return this.annotations.length ? this.annotations[0].index : -1;
  },

  renderHead(i) {
    const group = this.groupAt.get(i);
    const parentEl = group.parent < 0 ? this.body : this.groups[group.parent].el.lastChild;
    const el = document.createElement("div");
    el.className = `lg lg-${group.source}${group.muted ? " lg-muted" : ""}`;
    el.dataset.g = String(group.index);
    const t = this.times[i];
    attuneAnsi.toHtml(this.raw[i], this.ansiState);  // keeps the colour state of later lines
    el.innerHTML = `<div class="ll lg-head" data-n="${i + 1}"${t === null ? "" : ` data-t="${AttuneLogView.timeText(t)}"`}`
      + ` role="button" tabindex="0" aria-expanded="false"><span class="lg-title">${attuneAnsi.escapeHtml(group.title)}</span>`
      + ` <span class="lg-dur"></span></div><div class="lg-body"></div>`;
    parentEl.append(el);
    group.el = el;
    this.heads.set(i, el.firstChild);
    this.paintGroup(group);
  }
};

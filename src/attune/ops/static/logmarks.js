// attune ops: the CI log markers users know, read one line at a time (README, "Test results and
// structured logs"). GitHub Actions ::group::Title / ::endgroup:: and ::error|warning|notice
// file=F,line=L,title=T::message; Buildkite "--- Title" (collapsed), "+++ Title" (expanded),
// "~~~ Title" (collapsed, de-emphasised), "^^^ +++" (expand the current group); GitLab
// section_start:TS:name[collapsed=true]\r…Header / section_end:TS:name (nested). Lines that look
// like an error (Traceback, error:, ERROR, FAILED, ERR!) are flagged for the "First error" button.
"use strict";

const attuneLogMarks = (() => {
  const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?/g;
  const GITHUB = /^::(group|endgroup|error|warning|notice)(?:[ \t]+([^:]*?))?::(.*)$/;
  const BUILDKITE = /^(---|\+\+\+|~~~)[ \t]+(\S.*)$/;
  const BUILDKITE_EXPAND = /^\^\^\^[ \t]+\+\+\+[ \t]*$/;
  const GITLAB = /section_(start|end):(\d+):([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?/;
  const ERROR_LIKE = /Traceback \(most recent call last\)|\b[Ee]rror:|\bERROR\b|\bFAILED\b|\bERR!/;

  function params(text) {
    const out = {};
    for (const part of (text ?? "").split(",")) {
      const at = part.indexOf("=");
      if (at > 0) out[part.slice(0, at).trim()] = part.slice(at + 1).trim();
    }
    return out;
  }

  /**
   * What one line is: null for a plain line, else
   * {kind: "group", source, title, open, name?, ts?} | {kind: "end", source, name?, ts?} |
   * {kind: "expand"} | {kind: "annotation", level, message, file, line, title} | {kind: "error"}.
   * `plain` is the line's visible text (attuneAnsi.strip); `raw` the line as printed.
   */
  function classify(raw, plain) {
    if (raw.indexOf("section_") >= 0) {
      const bare = raw.replace(ESCAPES, "");
      const m = GITLAB.exec(bare);
      if (m) {
        const ts = Number(m[2]);
        if (m[1] === "end") return { kind: "end", source: "gitlab", name: m[3], ts };
        const after = bare.slice(m.index + m[0].length);
        const header = after.includes("\r") ? after.slice(after.lastIndexOf("\r") + 1).trim() : "";
        const collapsed = /(?:^|,)\s*collapsed\s*=\s*true\b/.test(m[4] ?? "");
        return { kind: "group", source: "gitlab", title: header || m[3], open: !collapsed, name: m[3], ts };
      }
    }
    const text = plain.trimStart();
    const first = text.charCodeAt(0);
    if (first === 58 /* : */ && text.startsWith("::")) {
      const m = GITHUB.exec(text.trimEnd());
      if (m) {
        if (m[1] === "group") return { kind: "group", source: "github", title: m[3].trim() || "Group", open: false };
        if (m[1] === "endgroup") return { kind: "end", source: "github" };
        const p = params(m[2]);
        const line = Number.parseInt(p.line ?? "", 10);
        return {
          kind: "annotation", level: m[1], message: m[3], title: p.title ?? null,
          file: p.file ?? null, line: Number.isFinite(line) ? line : null,
        };
      }
    } else if (first === 45 || first === 43 || first === 126 || first === 94) { // - + ~ ^
      const m = BUILDKITE.exec(text);
      if (m) {
        return { kind: "group", source: "buildkite", title: m[2].trim(), open: m[1] === "+++", muted: m[1] === "~~~" };
      }
      if (BUILDKITE_EXPAND.test(text)) return { kind: "expand" };
    }
    if (ERROR_LIKE.test(plain)) return { kind: "error" };
    return null;
  }

  return { classify };
})();

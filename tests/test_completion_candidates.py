"""Completion candidates, their evidence and dismissals; the in-place status rewrite."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attune.ops.config import Config
from attune.ops.errors import (
    InvalidPath,
    InvalidStatusValue,
    StatusNotRewritable,
    StatusPreviewStale,
    UndoExpired,
    UndoFileChanged,
)
from attune.ops.specs.candidates import (
    candidates_off_reason,
    detect_candidates,
    snapshot_hash,
)
from attune.ops.specs.edit import LineChange, plan_spec_status, set_spec_status
from attune.ops.specs.index import SpecIndex
from attune.ops.specs.paths import resolve_spec_path
from attune.ops.specs.status import SpecStatus
from attune.ops.specs.undo import UndoLog
from attune.ops.store.database import Store
from tests.spec_trees import (
    age,
    age_tree,
    docs_spec,
    git_commit_all,
    kiro_spec,
    speckit_spec,
    write,
)

ALL_DONE = "# Tasks\n\n- [x] 1. One\n  - [x] 1.1 Nested\n- [x] 2. Two\n- [ ]* 3. Optional\n"


@pytest.fixture
def tree(project: Path) -> Path:
    """One spec of each kind the rule must tell apart."""
    docs_spec(project, "ready", status="🔄 In Progress", tasks=ALL_DONE)
    docs_spec(project, "closed", status="✅ Complete", tasks=ALL_DONE)
    docs_spec(project, "shipped", status="Shipped", tasks=ALL_DONE)
    docs_spec(project, "superseded", status="Superseded by x", tasks=ALL_DONE)
    docs_spec(project, "half", status="In Progress", tasks="- [x] a\n- [ ] b\n")
    docs_spec(project, "blocked-task", status="In Progress", tasks="- [x] a\n- [!] b\n")
    docs_spec(project, "no-tasks", status="In Progress", tasks="# Tasks\n\nNone yet.\n")
    kiro_spec(project, "kiro-done", tasks=ALL_DONE)
    speckit_spec(project, "002-api", status="Draft", tasks="- [X] T001 [P] [US1] a\n")
    write(project / "docs" / "specs" / "_archived" / "old" / "tasks.md", "- [x] a\n")
    age_tree(project / "docs", 3 * 86400 + 60)
    return project


def test_candidate_rule_and_evidence(tree: Path, make_config: Callable[..., Config]) -> None:
    found = {c.path: c for c in detect_candidates(make_config())}
    assert set(found) == {"docs/specs/ready", ".kiro/specs/kiro-done", "specs/002-api"}
    ready = found["docs/specs/ready"]
    assert ready.evidence == (
        "3/3 tasks done",
        "1 optional task open",
        'status: in-progress ("🔄 In Progress")',
        "last change 3 days ago",
    )
    assert ready.status == "in-progress" and ready.tasks_done == ready.tasks_total == 3
    assert "no status written" in found[".kiro/specs/kiro-done"].evidence
    assert found["specs/002-api"].evidence[1] == "status: draft"
    assert len(ready.snapshot_hash) == 20
    assert ready.to_json()["evidence"] == list(ready.evidence)


def test_evidence_dates_the_last_change_by_git(
    tree: Path, make_config: Callable[..., Config]
) -> None:
    # A fresh clone: the files are an hour old, the last commit touching them ten days.
    when = datetime.now(UTC) - timedelta(days=10, hours=1)
    git_commit_all(tree, when.isoformat())
    age_tree(tree, 3600)
    found = {c.path: c for c in detect_candidates(make_config())}
    assert found["docs/specs/ready"].evidence[-1] == "last change 10 days ago"
    write(tree / "docs" / "specs" / "ready" / "design.md", "# Design, edited\n")
    age(tree / "docs" / "specs" / "ready" / "design.md", 7200)
    found = {c.path: c for c in detect_candidates(make_config())}
    assert found["docs/specs/ready"].evidence[-1] == "last change 2 hours ago"  # dirty: mtime
    assert found["specs/002-api"].evidence[-1] == "last change 10 days ago"


def test_no_candidates_when_off_or_without_roots(
    tree: Path, tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    off = make_config(specs_candidates_enabled=False)
    assert detect_candidates(off) == []
    assert "--no-specs-candidates" in (candidates_off_reason(off) or "")

    empty = tmp_path / "empty-project"
    empty.mkdir()
    no_roots = make_config(project_root=empty)
    assert no_roots.specs_roots == ()
    assert detect_candidates(no_roots) == []
    assert "--specs-root" in (candidates_off_reason(no_roots) or "")

    gone = make_config(specs_roots=[tmp_path / "gone"])
    assert detect_candidates(gone) == []
    assert "None of the specs roots exists" in (candidates_off_reason(gone) or "")
    assert candidates_off_reason(make_config()) is None


def test_dismissal_hides_until_the_evidence_changes(
    tree: Path, make_config: Callable[..., Config]
) -> None:
    config = make_config()
    store = Store(config.db_path)
    try:
        index = SpecIndex(config)
        ready = next(c for c in detect_candidates(config, index=index) if c.name == "ready")
        store.dismiss_spec(ready.path, ready.snapshot_hash)

        # With the store and without it (read-only straight from the database file).
        assert "ready" not in {c.name for c in detect_candidates(config, store=store)}
        assert "ready" not in {c.name for c in detect_candidates(config)}

        tasks = tree / "docs" / "specs" / "ready" / "tasks.md"
        tasks.write_text(ALL_DONE + "- [x] 4. One more, also done\n")
        back = {c.name: c for c in detect_candidates(config, index=index, store=store)}
        assert "ready" in back
        assert back["ready"].snapshot_hash != ready.snapshot_hash
        assert back["ready"].evidence[0] == "4/4 tasks done"
    finally:
        store.close()


def test_touching_a_file_changes_the_snapshot_hash(
    tree: Path, make_config: Callable[..., Config]
) -> None:
    config = make_config()
    before = snapshot_hash(SpecIndex(config).listing().find("ready"))
    age(tree / "docs" / "specs" / "ready" / "design.md", 10)
    assert snapshot_hash(SpecIndex(config).listing().find("ready")) != before


def test_unreadable_dismissals_do_not_break_detection(
    tree: Path, make_config: Callable[..., Config]
) -> None:
    config = make_config()
    config.db_path.parent.mkdir(parents=True, exist_ok=True)
    config.db_path.write_bytes(b"this is not a database")
    assert {c.name for c in detect_candidates(config)} == {"ready", "kiro-done", "002-api"}


# -- mark complete: the in-place rewrite ----------------------------------------------------------


def test_status_line_rewrite_keeps_every_other_byte(
    project: Path, make_config: Callable[..., Config]
) -> None:
    folder = project / "docs" / "specs" / "auth"
    original = (
        "# Auth\r\n\r\n**Status:** 🔄 In Progress  \r\n**Owner**: Ann\r\n\r\n"
        "```\r\n**Status:** example\r\n```\r\ncafé ✓\r\n"
    ).encode()
    req = write(folder / "requirements.md", original)
    write(folder / "tasks.md", ALL_DONE)
    req.chmod(0o640)
    change = set_spec_status(make_config(), "docs/specs/auth", "complete")
    assert (change.file, change.previous, change.inserted) == (
        "requirements.md",
        "🔄 In Progress",
        False,
    )
    assert change.status == "✅ Complete"
    assert req.read_bytes() == original.replace("🔄 In Progress".encode(), "✅ Complete".encode())
    assert stat.S_IMODE(req.stat().st_mode) == 0o640
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp file left
    spec = SpecIndex(make_config()).listing().find("auth")
    assert spec.status is SpecStatus.COMPLETE


def test_front_matter_rewrite_keeps_quotes_and_comment(
    project: Path, make_config: Callable[..., Config]
) -> None:
    folder = project / "docs" / "specs" / "fm"
    text = '---\ntitle: FM\nstatus: "in-progress" # set by hand\n---\n**Status:** Draft\n'
    write(folder / "design.md", text)
    write(folder / "tasks.md", "---\nstatus: in-progress\n---\n- [x] a\n")
    change = set_spec_status(make_config(), "docs/specs/fm", "complete")
    assert change.previous == "in-progress"
    assert (folder / "design.md").read_text() == text.replace('"in-progress"', '"complete"')
    assert (folder / "tasks.md").read_text() == "---\nstatus: complete\n---\n- [x] a\n"


def test_pipe_separated_status_line_only_changes_the_status(
    project: Path, make_config: Callable[..., Config]
) -> None:
    folder = project / "docs" / "specs" / "pipe"
    write(folder / "requirements.md", "**Status:** draft | **Owner:** Ann\n")
    set_spec_status(make_config(), "docs/specs/pipe", "complete")
    assert (folder / "requirements.md").read_text() == "**Status:** complete | **Owner:** Ann\n"


def test_spec_without_status_gets_one_inserted(
    project: Path, make_config: Callable[..., Config]
) -> None:
    kiro = kiro_spec(project, "k", tasks=ALL_DONE)
    before = (kiro / "requirements.md").read_text()
    change = set_spec_status(make_config(), ".kiro/specs/k", "complete")
    assert change.inserted and change.file == "requirements.md"
    assert change.status == "Complete"
    after = (kiro / "requirements.md").read_text()
    assert after == before.replace(
        "# Requirements Document\n", "# Requirements Document\n\n**Status:** Complete\n", 1
    )
    assert (kiro / "tasks.md").read_text() == ALL_DONE

    folder = project / "docs" / "specs" / "with-fm"
    write(folder / "requirements.md", "---\ntitle: T\n---\nBody\n")
    set_spec_status(make_config(), "docs/specs/with-fm", "complete")
    assert (
        folder / "requirements.md"
    ).read_text() == "---\ntitle: T\nstatus: complete\n---\nBody\n"

    crlf = project / "docs" / "specs" / "crlf"
    write(crlf / "design.md", "\ufeff# Title\r\nBody\r\n")
    set_spec_status(make_config(), "docs/specs/crlf", "complete")
    assert (crlf / "design.md").read_bytes() == (
        "\ufeff# Title\r\n\r\n**Status:** Complete\r\nBody\r\n".encode()
    )

    bare = project / "docs" / "specs" / "bare"
    write(bare / "tasks.md", "- [x] a\n")
    set_spec_status(make_config(), "docs/specs/bare", "complete")
    assert (bare / "tasks.md").read_text() == "**Status:** Complete\n\n- [x] a\n"
    assert SpecIndex(make_config()).listing().find("bare").status is SpecStatus.COMPLETE


def test_only_the_header_status_is_rewritten(
    project: Path, make_config: Callable[..., Config]
) -> None:
    # A requirement's or a task's own **Status:** is neither read nor rewritten (it used to 409).
    folder = project / "docs" / "specs" / "deep"
    req_text = "# Deep\n\n**Status:** In Progress\n\n## Requirement 1\n\n**Status:** Done\n"
    req = write(folder / "requirements.md", req_text)
    tasks_text = "# Tasks\n\n- [x] 1. a\n  - **Status**: Draft\n"
    write(folder / "tasks.md", tasks_text)
    change = set_spec_status(make_config(), "docs/specs/deep", "complete")
    assert (change.file, change.previous) == ("requirements.md", "In Progress")
    assert req.read_text() == req_text.replace("In Progress", "Complete", 1)
    assert (folder / "tasks.md").read_text() == tasks_text

    only_deep = project / "docs" / "specs" / "only-deep"
    deep_text = "# Only deep\n\n## Requirement 1\n**Status:** Done\n\n## Requirement 2\n"
    write(only_deep / "requirements.md", deep_text)
    write(only_deep / "tasks.md", "- [x] a\n")
    inserted = set_spec_status(make_config(), "docs/specs/only-deep", "complete")
    assert inserted.inserted and inserted.file == "requirements.md"
    assert (only_deep / "requirements.md").read_text() == deep_text.replace(
        "# Only deep\n", "# Only deep\n\n**Status:** Complete\n", 1
    )


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"requirements.md": "**Status:** Draft\n\n**Status:** Done\n"}, "conflicting"),
        (
            {
                "requirements.md": "---\nstatus: draft\n---\n",
                "tasks.md": "---\nstatus: done\n---\n",
            },
            "disagree",
        ),
        ({"requirements.md": b"**Status:** Draft caf\xe9\n"}, "UTF-8"),
        ({"requirements.md": b"# caf\xe9\n"}, "UTF-8"),
    ],
)
def test_status_rewrite_refuses_when_unsafe(
    project: Path,
    make_config: Callable[..., Config],
    files: dict[str, str | bytes],
    message: str,
) -> None:
    folder = project / "docs" / "specs" / "unsafe"
    for name, content in files.items():
        write(folder / name, content)
    before = {name: (folder / name).read_bytes() for name in files}
    with pytest.raises(StatusNotRewritable, match=message) as caught:
        set_spec_status(make_config(), "docs/specs/unsafe", "complete")
    assert caught.value.status == 409 and caught.value.code == "status_not_rewritable"
    assert {name: (folder / name).read_bytes() for name in files} == before


def test_symlinked_phase_file_is_not_replaced(
    project: Path, tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    target = write(tmp_path / "elsewhere.md", "**Status:** Draft\n")
    folder = project / "docs" / "specs" / "linked"
    folder.mkdir(parents=True)
    (folder / "requirements.md").symlink_to(target)
    with pytest.raises(StatusNotRewritable, match="symbolic link"):
        set_spec_status(make_config(), "docs/specs/linked", "complete")
    assert (folder / "requirements.md").is_symlink()


@pytest.mark.parametrize(
    "path",
    [
        "",
        "../..",
        "/etc",
        "docs/specs",
        "docs/specs/_archived",
        "docs/specs/auth/../../..",
        "docs/specs/nope",
        "docs/specs/auth/tasks.md",
        "docs/specs/escape",
        "a\x00b",
        "docs",
    ],
)
def test_paths_outside_the_roots_are_refused(
    project: Path, tmp_path: Path, make_config: Callable[..., Config], path: str
) -> None:
    docs_spec(project, "auth")
    outside = tmp_path / "outside"
    write(outside / "requirements.md", "**Status:** Draft\n")
    (project / "docs" / "specs" / "escape").symlink_to(outside)
    with pytest.raises(InvalidPath) as caught:
        set_spec_status(make_config(), path, "complete")
    assert caught.value.code == "invalid_path" and caught.value.status == 400
    assert (outside / "requirements.md").read_text() == "**Status:** Draft\n"


def test_archived_and_absolute_paths_resolve(
    project: Path, make_config: Callable[..., Config]
) -> None:
    folder = write(project / "docs" / "specs" / "_archived" / "old" / "tasks.md", "x\n").parent
    config = make_config()
    assert resolve_spec_path(config, str(folder)) == (folder.resolve(), "docs/specs/_archived/old")
    assert resolve_spec_path(config, "docs/specs/../specs/_archived/old")[1] == (
        "docs/specs/_archived/old"
    )


def test_nested_specs_resolve_and_are_candidates(
    project: Path, make_config: Callable[..., Config]
) -> None:
    folder = kiro_spec(project, "agent-system/lina-agent", tasks=ALL_DONE)
    write(project / ".kiro" / "specs" / "agent-system" / "README.md", "# Agents\n")
    archived = write(
        project / "docs" / "specs" / "_archived" / "group" / "old" / "tasks.md", "- [x] a\n"
    ).parent
    config = make_config()
    assert resolve_spec_path(config, ".kiro/specs/agent-system/lina-agent") == (
        folder.resolve(),
        ".kiro/specs/agent-system/lina-agent",
    )
    assert resolve_spec_path(config, str(archived))[1] == "docs/specs/_archived/group/old"
    for not_a_spec in (".kiro/specs/agent-system", ".kiro/specs/agent-system/nope"):
        with pytest.raises(InvalidPath):
            resolve_spec_path(config, not_a_spec)
    (found,) = detect_candidates(config)
    assert found.name == "agent-system/lina-agent"
    assert found.path == folder.relative_to(project).as_posix()
    change = set_spec_status(config, found.path, "complete")
    assert change.inserted and change.path == ".kiro/specs/agent-system/lina-agent"
    assert detect_candidates(config) == []

    # A phase file in the grouping folder makes it a spec: its sub-folders are no specs then.
    write(project / ".kiro" / "specs" / "agent-system" / "design.md", "# Agents\n")
    with pytest.raises(InvalidPath):
        resolve_spec_path(config, ".kiro/specs/agent-system/lina-agent")


def test_preview_names_file_and_line_and_writes_nothing(
    project: Path, make_config: Callable[..., Config]
) -> None:
    docs = docs_spec(project, "auth", status="🔄 In Progress", tasks=ALL_DONE)
    kiro = kiro_spec(project, "k", tasks=ALL_DONE)
    fm = write(project / "docs" / "specs" / "fm" / "tasks.md", "---\ntitle: T\n---\n- [x] a\n")
    crlf = write(project / "docs" / "specs" / "crlf" / "design.md", b"\xef\xbb\xbf# T\r\nBody\r\n")
    before = {p: p.read_bytes() for p in project.rglob("*.md")}
    config = make_config()

    plan = plan_spec_status(config, "docs/specs/auth", "complete")
    assert (plan.file, plan.previous, plan.status, plan.inserted) == (
        "requirements.md",
        "🔄 In Progress",
        "✅ Complete",
        False,
    )
    (edit,) = plan.edits
    assert edit.path == docs / "requirements.md" and edit.before == before[edit.path]
    assert edit.lines == (LineChange(3, "**Status:** 🔄 In Progress", "**Status:** ✅ Complete"),)
    inserted = plan_spec_status(config, ".kiro/specs/k", "complete")
    assert inserted.inserted and inserted.edits[0].path == kiro / "requirements.md"
    assert inserted.edits[0].lines == (LineChange(3, None, "**Status:** Complete"),)
    assert plan_spec_status(config, "docs/specs/fm", "done").edits[0].lines == (
        LineChange(3, None, "status: done"),
    )
    assert plan_spec_status(config, "docs/specs/crlf", "done").edits[0].lines == (
        LineChange(3, None, "**Status:** Done"),
    )
    assert {p: p.read_bytes() for p in project.rglob("*.md")} == before  # a dry run
    assert fm.read_bytes() == before[fm] and crlf.read_bytes() == before[crlf]

    # The change written is the one previewed, byte for byte, or none at all.
    set_spec_status(config, "docs/specs/auth", "complete", expect=plan.digest)
    assert (docs / "requirements.md").read_bytes() == edit.after


def test_confirm_refuses_a_change_other_than_the_preview(
    project: Path, make_config: Callable[..., Config]
) -> None:
    folder = docs_spec(project, "auth", status="In Progress", tasks=ALL_DONE)
    config = make_config()
    plan = plan_spec_status(config, "docs/specs/auth", "complete")
    req = folder / "requirements.md"
    edited = req.read_text().replace("What we need.", "What we need, edited.")
    req.write_text(edited)
    with pytest.raises(StatusPreviewStale) as caught:
        set_spec_status(config, "docs/specs/auth", "complete", expect=plan.digest)
    assert caught.value.status == 409 and caught.value.code == "preview_stale"
    assert req.read_text() == edited


def test_undo_puts_back_the_exact_bytes_once(
    project: Path, make_config: Callable[..., Config]
) -> None:
    folder = project / "docs" / "specs" / "auth"
    original = "\ufeff# Auth\r\n\r\n**Status:** 🔄 In Progress  \r\ncafé\r\n".encode()
    req = write(folder / "requirements.md", original)
    write(folder / "tasks.md", ALL_DONE)
    req.chmod(0o640)
    log = UndoLog()
    token = log.record(set_spec_status(make_config(), "docs/specs/auth", "complete"))
    assert req.read_bytes() != original
    undone = log.undo(token)
    assert (undone.path, undone.files) == ("docs/specs/auth", ("requirements.md",))
    assert req.read_bytes() == original and stat.S_IMODE(req.stat().st_mode) == 0o640
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    with pytest.raises(UndoExpired):
        log.undo(token)  # once only
    with pytest.raises(UndoExpired):
        log.undo("no-such-token")


def test_undo_refuses_after_a_minute_or_an_edit(
    project: Path, make_config: Callable[..., Config]
) -> None:
    folder = docs_spec(project, "auth", status="In Progress", tasks=ALL_DONE)
    req = folder / "requirements.md"
    now = [1000.0]
    log = UndoLog(clock=lambda: now[0])
    config = make_config()
    token = log.record(set_spec_status(config, "docs/specs/auth", "complete"))
    completed = req.read_bytes()
    now[0] += 61
    with pytest.raises(UndoExpired) as expired:
        log.undo(token)
    assert expired.value.status == 409 and expired.value.code == "undo_expired"
    assert req.read_bytes() == completed

    token = log.record(set_spec_status(config, "docs/specs/auth", "in progress"))
    req.write_text(req.read_text() + "A line added after the change.\n")
    edited = req.read_bytes()
    with pytest.raises(UndoFileChanged) as changed:
        log.undo(token)
    assert changed.value.status == 409 and changed.value.code == "undo_file_changed"
    assert "requirements.md" in changed.value.message and req.read_bytes() == edited


@pytest.mark.parametrize("value", ["", "   ", "done\nstatus: x", "a: b", '"q"', "#x", "x" * 81])
def test_bad_status_values_are_refused(
    project: Path, make_config: Callable[..., Config], value: str
) -> None:
    docs_spec(project, "auth")
    with pytest.raises(InvalidStatusValue):
        set_spec_status(make_config(), "docs/specs/auth", value)


def test_file_mode_and_owner_survive(project: Path, make_config: Callable[..., Config]) -> None:
    folder = docs_spec(project, "modes")
    req = folder / "requirements.md"
    req.chmod(0o600)
    uid, gid = req.stat().st_uid, req.stat().st_gid
    set_spec_status(make_config(), "docs/specs/modes", "Complete")
    st = os.stat(req)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, uid, gid)
    assert "**Status:** Complete\n" in req.read_text()


def test_detection_without_an_app_creates_no_database(
    tree: Path, make_config: Callable[..., Config]
) -> None:
    config = make_config()
    assert not config.db_path.exists()
    assert len(detect_candidates(config)) == 3
    assert not config.db_path.exists()


SEGMENTS = ["..", ".", "docs", "specs", "auth", "_archived", "old", "escape", "", "x"]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=7), st.booleans())
def test_resolved_spec_paths_never_leave_the_roots(
    project: Path, make_config: Callable[..., Config], parts: list[str], absolute: bool
) -> None:
    root = project / "docs" / "specs"
    if not root.exists():
        docs_spec(project, "auth")
        write(root / "_archived" / "old" / "tasks.md", "- [x] a\n")
        write(root / "x" / "auth" / "tasks.md", "- [x] a\n")  # nested under a grouping folder
        outside = project.parent / "outside-root"
        write(outside / "tasks.md", "- [x] a\n")
        (root / "escape").symlink_to(outside)
    config = make_config()
    given_path = "/".join(parts)
    if absolute:
        given_path = str(project / given_path)
    try:
        folder, shown = resolve_spec_path(config, given_path)
    except InvalidPath:
        return
    real_root = root.resolve()
    assert real_root in folder.parents and len(folder.relative_to(real_root).parts) <= 3
    assert shown in {"docs/specs/auth", "docs/specs/_archived/old", "docs/specs/x/auth"}


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(alphabet=st.sampled_from(list("ab #-\n\r\t`é")), max_size=60),
    st.text(alphabet=st.sampled_from(list("ab #-\n\r\t`é[]x")), max_size=60),
)
def test_rewrite_changes_only_the_status_value(
    project: Path, make_config: Callable[..., Config], before: str, after: str
) -> None:
    folder = project / "docs" / "specs" / "prop"
    # No heading before the status line: it stays in the file's header, where it is read.
    head = "# Title\n" + before.replace("`", "").replace("#", "a#") + "\n"
    original = f"{head}**Status:** Draft\n{after.replace('`', '')}"
    write(folder / "requirements.md", original)
    set_spec_status(make_config(), "docs/specs/prop", "complete")
    expected = original.replace("**Status:** Draft", "**Status:** Complete", 1)
    assert (folder / "requirements.md").read_bytes() == expected.encode()


def test_a_team_stores_dismissals_are_read_without_a_store(
    tree: Path, make_config: Callable[..., Config], postgres_url: str
) -> None:
    from attune.ops.store.postgres import PostgresStore

    config = make_config(database_url=postgres_url)
    store = PostgresStore(postgres_url)
    try:
        ready = next(c for c in detect_candidates(config) if c.name == "ready")
        store.dismiss_spec(ready.path, ready.snapshot_hash)
        assert "ready" not in {c.name for c in detect_candidates(config)}
        assert not config.db_path.exists()  # the home's SQLite file was never made
    finally:
        store.close()

"""Spec discovery, status and task reading on real trees under tmp_path."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attune.ops.config import Config
from attune.ops.errors import SpecNotFound
from attune.ops.specs.files import SpecLayout
from attune.ops.specs.history import GitHistory
from attune.ops.specs.index import SpecIndex
from attune.ops.specs.listing import Spec
from attune.ops.specs.status import (
    SpecStatus,
    find_status_lines,
    header_end,
    header_status_lines,
    normalise_status,
    parse_front_matter,
)
from attune.ops.specs.tasks import TaskState, count_tasks, count_text_tasks, parse_tasks
from tests.spec_trees import (
    REAL_GIT,
    age_tree,
    docs_spec,
    git_commit_all,
    git_spy,
    kiro_spec,
    speckit_spec,
    write,
)


def listing_of(config: Config) -> dict[str, Spec]:
    return {spec.path: spec for spec in SpecIndex(config).listing().specs}


# -- task marks --------------------------------------------------------------------------------


def test_every_task_mark_is_read_right() -> None:
    text = (
        "# Tasks\n"
        "- [x] done lower\n"
        "- [X] done upper\n"
        "- [ ] open\n"
        "- [-] in progress dash\n"
        "- [~] in progress tilde\n"
        "- [!] blocked\n"
        "- [ ]* 2.3 optional open (Kiro)\n"
        "- [x]* 2.4 optional done\n"
        "* [x] star bullet\n"
        "1. [ ] ordered item\n"
    )
    tasks = parse_tasks(text)
    states = [t.state for t in tasks]
    assert states == [
        TaskState.DONE,
        TaskState.DONE,
        TaskState.OPEN,
        TaskState.IN_PROGRESS,
        TaskState.IN_PROGRESS,
        TaskState.BLOCKED,
        TaskState.OPEN,
        TaskState.DONE,
        TaskState.DONE,
        TaskState.OPEN,
    ]
    counts = count_tasks(tasks)
    assert (counts.total, counts.done, counts.in_progress, counts.blocked) == (8, 3, 2, 1)
    assert (counts.optional_total, counts.optional_done) == (2, 1)
    assert counts.open == 5
    assert not counts.all_done


def test_optional_tasks_never_block_completion() -> None:
    counts = count_tasks(parse_tasks("- [x] 1. Build\n- [ ]* 1.1 Write extra tests\n"))
    assert counts.all_done
    assert (counts.total, counts.done, counts.optional_total) == (1, 1, 1)


def test_kiro_optional_marker_with_an_escaped_star() -> None:
    # Kiro writes "- [ ]\\* 10.10 …" as often as "- [ ]* …"; both are the optional marker.
    text = "- [x] 10.9 Build\n- [ ]\\* 10.10 Write extra tests\n  - [x]\\* 10.11 Done extra\n"
    tasks = parse_tasks(text)
    assert [(t.optional, t.text) for t in tasks] == [
        (False, "10.9 Build"),
        (True, "10.10 Write extra tests"),
        (True, "10.11 Done extra"),
    ]
    counts = count_text_tasks(text)
    assert counts == count_tasks(tasks)
    assert (counts.total, counts.done, counts.optional_total, counts.optional_done) == (1, 1, 2, 1)
    assert counts.all_done


def test_only_optional_tasks_is_not_all_done() -> None:
    assert not count_tasks(parse_tasks("- [x]* optional only\n")).all_done


def test_spec_kit_ids_and_tags_are_tasks_but_the_legend_is_not() -> None:
    text = (
        "## Format: `[ID] [P?] [Story] Description`\n"
        "- [P] tasks = different files, no dependencies\n"
        "- **[P]**: Can run in parallel\n"
        "- [X] T012 [P] [US1] Create model in src/models/user.py\n"
        "- [ ] T013 [US1] Implement service\n"
        "- [ ] = not started\n"
    )
    tasks = parse_tasks(text)
    assert [t.text for t in tasks] == [
        "T012 [P] [US1] Create model in src/models/user.py",
        "T013 [US1] Implement service",
    ]
    assert tasks[0].done


def test_nested_items_count_and_fenced_or_commented_ones_do_not() -> None:
    text = (
        "- [x] 1. Parent\n"
        "  - [x] 1.1 Child\n"
        "    - [ ] 1.1.1 Grandchild\n"
        "\t- [x] tab-indented child\n"
        "```markdown\n"
        "- [ ] example in a fence\n"
        "```\n"
        "   ~~~~\n"
        "   - [ ] tilde fence\n"
        "   ~~~~\n"
        "- [ ] 2. After the fences\n"
        "<!--\n"
        "- [ ] commented out\n"
        "-->\n"
        "  ```\n"
        "  - [x] fence inside a list item\n"
        "  ```\n"
    )
    tasks = parse_tasks(text)
    assert [t.depth for t in tasks] == [0, 1, 2, 2, 0]
    counts = count_tasks(tasks)
    assert (counts.total, counts.done) == (5, 3)


def test_fence_inside_a_quote_closes() -> None:
    tasks = parse_tasks("> ```\n> - [ ] example\n> ```\n- [x] real\n")
    assert [(t.text, t.line) for t in tasks] == [("real", 4)]


def test_crlf_line_endings_and_unclosed_fence() -> None:
    text = "- [x] one\r\n- [ ] two\r\n```\r\n- [ ] hidden forever\r\n"
    tasks = parse_tasks(text)
    assert [(t.text, t.done) for t in tasks] == [("one", True), ("two", False)]


def test_lines_that_only_look_like_tasks() -> None:
    text = "[x] no bullet\n-[x] no space\n- [xx] two marks\n- [y] unknown mark\n> - [x] quoted\n"
    assert parse_tasks(text) == []


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_task_counter_never_crashes_on_any_text(text: str) -> None:
    tasks = parse_tasks(text)
    counts = count_tasks(tasks)
    assert 0 <= counts.done <= counts.total
    assert counts.total + counts.optional_total == len(tasks)
    assert count_text_tasks(text) == counts


TASKY_LINES = [
    "- [x] a",
    "- [ ] b",
    "  - [X] c",
    "- [ ]* opt",
    "- [ ]\\* escaped opt",
    "- [x]\\*",
    "- [~] d",
    "1. [!] e",
    "- [ ] = legend",
    "- [x] Tasks = legend",
    "- [x]  ",
    "- [P] tasks = x",
    "```",
    "~~~",
    "<!--",
    "-->",
    "text",
    "",
    "\r",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TASKY_LINES), max_size=30), st.sampled_from(["\n", "\r\n"]))
def test_fast_counter_agrees_with_the_parser(lines: list[str], eol: str) -> None:
    text = eol.join(lines)
    counts = count_tasks(parse_tasks(text))
    assert count_text_tasks(text) == counts
    assert counts.total <= sum(1 for line in lines if "[" in line)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("- []xX~!*=:\t\r\n`<!>T1.abc\\")), max_size=200))
def test_fast_counter_agrees_on_hostile_text(text: str) -> None:
    assert count_text_tasks(text) == count_tasks(parse_tasks(text))


# -- status ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("✅ Complete", SpecStatus.COMPLETE),
        ("🔄 In Progress", SpecStatus.IN_PROGRESS),
        ("Requirements Phase", SpecStatus.IN_PROGRESS),
        ("Design Phase — approved", SpecStatus.IN_PROGRESS),
        ("Implementation Complete", SpecStatus.COMPLETE),
        ("in-progress", SpecStatus.IN_PROGRESS),
        ("in_progress", SpecStatus.IN_PROGRESS),
        ("Completed", SpecStatus.COMPLETE),
        ("done", SpecStatus.COMPLETE),
        ("Shipped in v2", SpecStatus.COMPLETE),
        ("Superseded by 004-auth", SpecStatus.SUPERSEDED),
        ("archived", SpecStatus.ARCHIVED),
        ("Draft", SpecStatus.DRAFT),
        ("Not started", SpecStatus.PLANNED),
        ("Blocked on API", SpecStatus.BLOCKED),
        ("In review", SpecStatus.IN_REVIEW),
        ("In progress (phase 1 complete)", SpecStatus.IN_PROGRESS),
        ("🚧", SpecStatus.IN_PROGRESS),
        ("Zorblax", SpecStatus.UNKNOWN),
        ("", SpecStatus.NONE),
        (None, SpecStatus.NONE),
    ],
)
def test_status_normalisation(raw: str | None, expected: SpecStatus) -> None:
    assert normalise_status(raw) is expected


def test_front_matter_values_quotes_comments_and_bom() -> None:
    text = '\ufeff---\ntitle: "Auth"\nstatus: "in-progress"  # keep\nowner: ann\n---\n# Body\n'
    front = parse_front_matter(text)
    assert front.present and front.problem is None
    assert front.values == {"title": "Auth", "status": "in-progress", "owner": "ann"}
    spot = front.spots["status"]
    assert text[spot.start : spot.end] == "in-progress"
    assert text[front.body_start :] == "# Body\n"


def test_front_matter_unclosed_and_odd_lines_are_problems_not_crashes() -> None:
    assert parse_front_matter("---\nstatus: x\nno end\n").problem is not None
    odd = parse_front_matter("---\nthis is not yaml\nstatus: done\n---\n")
    assert odd.values["status"] == "done"
    assert odd.problem is not None and "line 2" in odd.problem
    assert not parse_front_matter("# no front matter\n").present


def test_every_status_syntax(project: Path, make_config: Callable[..., Config]) -> None:
    root = project / "docs" / "specs"
    write(root / "a" / "requirements.md", "# A\n\n**Status:** Draft\n")
    write(root / "b" / "requirements.md", "# B\n**Status**: ✅ Complete\n")
    write(root / "c" / "design.md", "---\nstatus: in-progress\n---\n# C\n**Status:** Done\n")
    write(root / "d" / "requirements.md", "# D\n- **Status:** Blocked | **Owner:** Ann\n")
    write(root / "e" / "requirements.md", "# E\n```\n**Status:** Complete\n```\n")
    write(root / "f" / "requirements.md", "# F\n> **Status:** Requirements Phase\n")
    write(root / "g" / "tasks.md", "- [ ] x\n")
    write(root / "g" / "requirements.md", "**Status:** Planned\n")
    write(root / "g" / "decisions.md", "---\nstatus: superseded\n---\n")
    specs = listing_of(make_config())
    got = {p.rsplit("/", 1)[1]: (s.status, s.reading.status_raw) for p, s in specs.items()}
    assert got == {
        "a": (SpecStatus.DRAFT, "Draft"),
        "b": (SpecStatus.COMPLETE, "✅ Complete"),
        "c": (SpecStatus.IN_PROGRESS, "in-progress"),
        "d": (SpecStatus.BLOCKED, "Blocked"),
        "e": (SpecStatus.NONE, None),
        "f": (SpecStatus.IN_PROGRESS, "Requirements Phase"),
        "g": (SpecStatus.SUPERSEDED, "superseded"),
    }
    assert specs["docs/specs/c"].reading.status_source == "front matter of design.md"
    assert specs["docs/specs/a"].reading.status_source == "requirements.md line 3"


def test_status_comes_from_the_header_only(
    project: Path, make_config: Callable[..., Config]
) -> None:
    # Real specs carry a **Status:** per requirement or per task; none of them is the spec's.
    root = project / "docs" / "specs"
    write(
        root / "deep" / "requirements.md",
        "# Deep\n\n## Requirement 1\n\n**Status**: Complete\n",
    )
    write(
        root / "deep" / "tasks.md",
        "# Implementation Plan\n\n- [x] 1. a\n  - **Status**: Complete\n- [ ] 2. b\n",
    )
    write(
        root / "both" / "requirements.md",
        "# Both\n\n**Status:** In Progress\n\n## Requirement 1\n**Status:** Complete\n",
    )
    write(
        root / "fenced" / "design.md",
        "# Fenced\n```\n## not a heading\n```\n**Status:** Draft\n## Goals\n",
    )
    write(root / "no-title" / "design.md", "**Status:** Planned\n\n# Title\n## Part\n")
    write(root / "second-title" / "design.md", "# One\n\n# Two\n**Status:** Done\n")
    write(root / "later-file" / "requirements.md", "# R\n\n## Part\n**Status:** Done\n")
    write(root / "later-file" / "design.md", "# D\n**Status:** In review\n")
    specs = listing_of(make_config())
    got = {p.rsplit("/", 1)[1]: (s.status, s.reading.status_source) for p, s in specs.items()}
    assert got == {
        "deep": (SpecStatus.NONE, None),
        "both": (SpecStatus.IN_PROGRESS, "requirements.md line 3"),
        "fenced": (SpecStatus.DRAFT, "design.md line 5"),
        "no-title": (SpecStatus.PLANNED, "design.md line 1"),
        "second-title": (SpecStatus.NONE, None),
        "later-file": (SpecStatus.IN_REVIEW, "design.md line 2"),
    }
    assert specs["docs/specs/deep"].tasks.open == 1


# -- discovery ---------------------------------------------------------------------------------


def test_three_layouts_are_discovered(project: Path, make_config: Callable[..., Config]) -> None:
    docs_spec(project, "billing", tasks="- [x] a\n  - [ ] b\n")
    kiro_spec(project, "login-flow", tasks="# Implementation Plan\n\n- [x] 1. a\n- [ ]* 2. b\n")
    write(project / ".kiro" / "specs" / "crash-fix" / "bugfix.md", "# Bugfix\n")
    speckit_spec(project, "001-chat", tasks="- [X] T001 Setup\n- [ ] T002 [P] Model\n")
    write(project / "docs" / "specs" / "notes" / "README.md", "not a spec\n")
    write(project / "docs" / "specs" / "loose.md", "a file, not a folder\n")
    specs = listing_of(make_config())
    assert set(specs) == {
        "docs/specs/billing",
        ".kiro/specs/login-flow",
        ".kiro/specs/crash-fix",
        "specs/001-chat",
    }
    billing, login = specs["docs/specs/billing"], specs[".kiro/specs/login-flow"]
    chat = specs["specs/001-chat"]
    assert (billing.layout, login.layout, chat.layout) == (
        SpecLayout.DOCS,
        SpecLayout.KIRO,
        SpecLayout.SPEC_KIT,
    )
    assert billing.reading.phase_files == ("requirements.md", "design.md", "tasks.md")
    assert specs[".kiro/specs/crash-fix"].reading.phase_files == ("bugfix.md",)
    assert (billing.tasks.total, billing.tasks.done) == (2, 1)
    assert (login.tasks.total, login.tasks.done, login.tasks.optional_total) == (1, 1, 1)
    assert (chat.status, chat.tasks.total, chat.tasks.done) == (SpecStatus.DRAFT, 2, 1)
    assert billing.root == "docs/specs" and billing.last_modified is not None


def test_archive_folders_list_archived_specs(
    project: Path, make_config: Callable[..., Config]
) -> None:
    docs_spec(project, "live")
    write(project / "docs" / "specs" / "_archived" / "old" / "tasks.md", "- [x] a\n")
    write(project / "docs" / "specs" / "archive" / "older" / "requirements.md", "# x\n")
    specs = listing_of(make_config())
    assert set(specs) == {
        "docs/specs/live",
        "docs/specs/_archived/old",
        "docs/specs/archive/older",
    }
    old = specs["docs/specs/_archived/old"]
    assert old.archived and old.status is SpecStatus.ARCHIVED
    assert not specs["docs/specs/live"].archived


def test_specs_nested_one_level_under_a_grouping_folder(
    project: Path, make_config: Callable[..., Config]
) -> None:
    kiro = project / ".kiro" / "specs"
    kiro_spec(project, "agent-system/lina-agent", tasks="- [x] 1. a\n")
    write(kiro / "agent-system" / "mira-agent" / "tasks.md", "- [ ] 1. b\n")
    write(kiro / "agent-system" / "notes" / "README.md", "not a spec\n")
    write(kiro / "agent-system" / "deeper" / "still" / "tasks.md", "- [ ] two levels down\n")
    # A spec folder is a spec, not a group: its sub-folders are its own business.
    kiro_spec(project, "parent", tasks="- [ ] p\n")
    write(kiro / "parent" / "child" / "tasks.md", "- [ ] c\n")
    write(project / "docs" / "specs" / "_archived" / "group" / "old" / "tasks.md", "- [x] a\n")
    index = SpecIndex(make_config())
    specs = {spec.path: spec for spec in index.listing().specs}
    assert set(specs) == {
        ".kiro/specs/agent-system/lina-agent",
        ".kiro/specs/agent-system/mira-agent",
        ".kiro/specs/parent",
        "docs/specs/_archived/group/old",
    }
    lina = specs[".kiro/specs/agent-system/lina-agent"]
    assert (lina.name, lina.layout, lina.root, lina.tasks.done) == (
        "agent-system/lina-agent",
        SpecLayout.KIRO,
        ".kiro/specs",
        1,
    )
    old = specs["docs/specs/_archived/group/old"]
    assert old.name == "group/old" and old.archived
    assert index.listing().find("agent-system/lina-agent") is lina

    age_tree(project)
    warm = index.listing()
    assert index.listing() is warm
    write(kiro / "agent-system" / "new-agent" / "design.md", "# New\n")
    assert "agent-system/new-agent" in {s.name for s in index.listing().specs}
    # A phase file in the group folder makes it a spec itself (its sub-folders then are not).
    write(kiro / "agent-system" / "requirements.md", "# Agents\n")
    names = {s.name for s in index.listing().specs}
    assert "agent-system" in names and "agent-system/lina-agent" not in names


def test_case_insensitive_phase_file_names(
    project: Path, make_config: Callable[..., Config]
) -> None:
    write(project / "docs" / "specs" / "x" / "TASKS.md", "- [x] done\n")
    spec = listing_of(make_config())["docs/specs/x"]
    assert spec.reading.phase_files == ("TASKS.md",)
    assert spec.tasks.done == 1


def test_listing_find_and_colliding_names(
    project: Path, make_config: Callable[..., Config]
) -> None:
    docs_spec(project, "auth")
    kiro_spec(project, "auth", tasks="- [ ] a\n")
    docs_spec(project, "solo")
    listing = SpecIndex(make_config()).listing()
    first = listing.find("auth")
    assert first.path == "docs/specs/auth"
    assert listing.find("auth", ".kiro/specs/auth").layout is SpecLayout.KIRO
    assert listing.is_ambiguous(first)
    assert not listing.is_ambiguous(listing.find("solo"))
    with pytest.raises(SpecNotFound):
        listing.find("nope")
    with pytest.raises(SpecNotFound):
        listing.find("auth", "specs/auth")


def test_missing_root_is_reported(tmp_path: Path, make_config: Callable[..., Config]) -> None:
    config = make_config(specs_roots=[tmp_path / "nowhere"])
    listing = SpecIndex(config).listing()
    assert listing.specs == ()
    assert not listing.roots[0].exists
    assert "does not exist" in (listing.roots[0].problem or "")


# -- broken files never break the listing ------------------------------------------------------


def test_broken_files_show_problems_and_the_rest_still_lists(
    project: Path, make_config: Callable[..., Config]
) -> None:
    root = project / "docs" / "specs"
    docs_spec(project, "healthy", tasks="- [x] a\n")
    write(root / "latin1" / "tasks.md", "- [x] caf\xe9\n".encode("latin-1"))
    write(root / "huge" / "requirements.md", "**Status:** Draft\n")
    write(root / "huge" / "tasks.md", "- [ ] x\n" * 300_000)
    write(root / "badfm" / "requirements.md", "---\nstatus: done\nno closing line\n")
    write(root / "badfm" / "tasks.md", "- [x] a\n")
    (root / "loop").mkdir()
    (root / "loop" / "tasks.md").symlink_to("tasks.md")
    write(root / "loop" / "design.md", "# still readable\n")
    (root / "dangling").mkdir()
    (root / "dangling" / "tasks.md").symlink_to(root / "missing.md")
    (root / "fifo").mkdir()
    os.mkfifo(root / "fifo" / "tasks.md")
    (root / "dirloop").symlink_to(root / "dirloop")
    (root / "isdir" / "tasks.md").mkdir(parents=True)

    specs = listing_of(make_config())
    assert specs["docs/specs/healthy"].problems == ()
    latin = specs["docs/specs/latin1"]
    assert "not valid UTF-8" in latin.problems[0] and latin.tasks.done == 1
    huge = specs["docs/specs/huge"]
    assert "over the 2 MB limit" in huge.problems[0]
    assert huge.tasks.total == 0 and huge.status is SpecStatus.DRAFT
    badfm = specs["docs/specs/badfm"]
    assert "never closed" in badfm.problems[0] and badfm.status is SpecStatus.NONE
    assert "symbolic link loop" in specs["docs/specs/loop"].problems[0]
    assert "broken symbolic link" in specs["docs/specs/dangling"].problems[0]
    assert "not a regular file" in specs["docs/specs/fifo"].problems[0]
    assert "symbolic link loop" in specs["docs/specs/dirloop"].problems[0]
    assert "not a regular file" in specs["docs/specs/isdir"].problems[0]


def test_file_that_fails_to_read_is_a_problem(
    project: Path, make_config: Callable[..., Config]
) -> None:
    # /proc/self/mem is a regular file that answers EIO when read from offset 0, even for root.
    folder = docs_spec(project, "eio")
    (folder / "tasks.md").unlink()
    (folder / "tasks.md").symlink_to("/proc/self/mem")
    spec = listing_of(make_config())["docs/specs/eio"]
    assert spec.problems == ("tasks.md: cannot be read (Input/output error)",)
    assert spec.status is SpecStatus.IN_PROGRESS and spec.tasks.total == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_a_problem(project: Path, make_config: Callable[..., Config]) -> None:
    folder = docs_spec(project, "locked")
    (folder / "tasks.md").chmod(0)
    try:
        spec = listing_of(make_config())["docs/specs/locked"]
    finally:
        (folder / "tasks.md").chmod(0o644)
    assert "permission denied" in spec.problems[0]


# -- last change: git, else mtime ---------------------------------------------------------------

JAN_2020 = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


def commands(log: Path) -> list[str]:
    """The git subcommand of each logged call (``log``, ``status``…), global options left out."""
    found = []
    for line in log.read_text().splitlines():
        words = line.split()
        found.append(next(w for w in words if w in {"log", "status", "rev-parse", "ls-files"}))
    return found


def test_last_change_comes_from_git_when_the_files_are_clean(
    project: Path, make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = docs_spec(project, "a")
    docs_spec(project, "b")
    git_commit_all(project, JAN_2020.isoformat())
    age_tree(project / "docs", 3600)  # cloned an hour ago: every file's mtime says so
    spy, log = git_spy(project.parent / "spy-bin")
    monkeypatch.setenv("PATH", f"{spy}{os.pathsep}{os.environ['PATH']}")
    index = SpecIndex(make_config())
    listing = index.listing()
    for name in ("a", "b"):
        change = listing.last_change(listing.find(name))
        assert (change.when, change.source) == (JAN_2020, "git")
    assert commands(log) == ["log", "status"]  # one of each for every spec of every root

    assert index.listing() is listing and commands(log) == ["log", "status"]  # warm: no git

    write(a / "tasks.md", "- [x] 1. First\n- [x] 2. Second\n")  # dirty: its mtime counts
    listing = index.listing()
    a_change = listing.last_change(listing.find("a"))
    assert a_change.source == "mtime" and a_change.when is not None
    assert a_change.when > JAN_2020 + timedelta(days=365)
    files = dict(
        zip(
            listing.find("a").reading.phase_files,
            listing.file_changes(listing.find("a")),
            strict=True,
        )
    )
    assert files["requirements.md"].source == "git" and files["tasks.md"].source == "mtime"
    assert listing.last_change(listing.find("b")).source == "git"
    assert commands(log) == ["log", "status", "status"]  # files changed, history did not

    later = JAN_2020 + timedelta(days=30)
    git_commit_all(project, later.isoformat(), "tick a")
    os.utime(a / "tasks.md")
    listing = index.listing()
    assert listing.last_change(listing.find("a")).when == later
    assert listing.last_change(listing.find("a")).source == "git"
    assert commands(log)[-2:] == ["log", "status"]

    docs_spec(project, "untracked")
    listing = index.listing()
    assert listing.last_change(listing.find("untracked")).source == "mtime"


def test_last_change_falls_back_to_mtime_without_git(
    project: Path, make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    docs_spec(project, "a")
    age_tree(project / "docs", 7200)
    spy, log = git_spy(project.parent / "spy-bin")
    monkeypatch.setenv("PATH", f"{spy}{os.pathsep}{os.environ['PATH']}")
    spec = SpecIndex(make_config()).listing().find("a")
    listing = SpecIndex(make_config()).listing()
    change = listing.last_change(listing.find("a"))
    assert (change.when, change.source) == (spec.last_modified, "mtime")
    assert commands(log) == []  # not a repository: git is never started

    git_commit_all(project, JAN_2020.isoformat())
    log.write_text("")
    monkeypatch.setenv("PATH", str(project.parent / "empty-bin"))  # no git on PATH
    listing = SpecIndex(make_config()).listing()
    assert listing.last_change(listing.find("a")).source == "mtime"

    (project / ".git").rename(project / "dot-git")
    write(project / ".git", "gitdir: nowhere/at/all\n")  # a broken worktree link
    monkeypatch.setenv("PATH", f"{spy}{os.pathsep}{os.environ['PATH']}")
    listing = SpecIndex(make_config()).listing()
    assert listing.last_change(listing.find("a")).source == "mtime"


def test_git_gets_no_secret_and_no_foreign_repository(
    project: Path,
    tmp_path: Path,
    make_config: Callable[..., Config],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs_spec(project, "a")
    git_commit_all(project, JAN_2020.isoformat())
    age_tree(project / "docs")
    log = tmp_path / "env.log"
    script = (
        f'echo "key=${{ANTHROPIC_ADMIN_API_KEY:-unset}} dir=${{GIT_DIR:-unset}}" >> {log}\n'
        f'exec {REAL_GIT} "$@"'
    )
    spy, _ = git_spy(tmp_path / "bin", script=script)
    monkeypatch.setenv("PATH", f"{spy}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", "sk-ant-admin01-not-for-git")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere.git"))
    listing = SpecIndex(make_config()).listing()
    assert listing.last_change(listing.find("a")).source == "git"
    assert log.read_text().splitlines() == ["key=unset dir=unset"] * 2


def test_git_that_hangs_or_fails_is_cut_short(project: Path, tmp_path: Path) -> None:
    docs_spec(project, "a")
    git_commit_all(project, JAN_2020.isoformat())
    paths = (str(project / "docs" / "specs" / "a" / "tasks.md"),)
    for body, timeout in (("sleep 30", 0.5), ("echo broken >&2; exit 128", 5.0)):
        spy, log = git_spy(tmp_path / f"bin-{timeout}", script=body)
        history = GitHistory(
            project, (project / "docs" / "specs",), timeout=timeout, git=str(spy / "git")
        )
        assert history.times(((paths[0], (1,)),), trusted=True) is None
        assert commands(log) == ["log"]
        assert history.times(((paths[0], (1,)),), trusted=True) is None
        assert commands(log) == ["log"]  # the failure is remembered until git's state changes


# -- the cache ---------------------------------------------------------------------------------


def test_warm_listing_is_reused_and_changes_invalidate_it(
    project: Path, make_config: Callable[..., Config]
) -> None:
    folder = docs_spec(project, "auth", tasks="- [ ] a\n")
    docs_spec(project, "other")
    age_tree(project / "docs")
    index = SpecIndex(make_config())
    first = index.listing()
    assert index.listing() is first

    # Same size, same second: only content changes. Must still be seen.
    (folder / "tasks.md").write_text("- [x] a\n")
    second = index.listing()
    assert second is not first and second.generation > first.generation
    assert second.find("auth").tasks.done == 1

    write(folder / "bugfix.md", "# new phase file\n")
    assert "bugfix.md" in index.listing().find("auth").reading.phase_files

    docs_spec(project, "brand-new")
    assert {s.name for s in index.listing().specs} == {"auth", "other", "brand-new"}

    (folder / "bugfix.md").unlink()
    (folder / "design.md").unlink()
    assert index.listing().find("auth").reading.phase_files == ("requirements.md", "tasks.md")


def test_recently_touched_spec_is_reread_but_listing_kept_when_unchanged(
    project: Path, make_config: Callable[..., Config]
) -> None:
    docs_spec(project, "fresh")
    index = SpecIndex(make_config())
    first = index.listing()
    # Files written just now are inside the racy window: re-read, yet unchanged → same listing.
    assert index.listing() is first


# -- parsers never crash -----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("-*#:'\" \t\r\nstatuS.aé✅")), max_size=120))
def test_front_matter_and_status_lines_never_crash(body: str) -> None:
    for text in (body, "---\n" + body, "---\n" + body + "\n---\n" + body):
        front = parse_front_matter(text)
        assert 0 <= front.body_start <= len(text) + 1
        for spot in find_status_lines(text, skip_until=front.body_start):
            assert text[spot.start : spot.end] == spot.value
        end = header_end(text, front.body_start)
        header = header_status_lines(text, front.body_start)
        assert all(spot.end <= end for spot in header)
        assert (
            header
            == [s for s in find_status_lines(text) if s.start >= front.body_start][: len(header)]
        )
        normalise_status(text)


def test_root_that_is_a_file(
    project: Path, tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    not_a_dir = write(tmp_path / "specs.txt", "x")
    listing = SpecIndex(make_config(specs_roots=[not_a_dir])).listing()
    assert listing.specs == () and "is not a folder" in (listing.roots[0].problem or "")


def test_reading_follows_a_file_that_grew_after_its_stat(tmp_path: Path) -> None:
    from attune.ops.specs.files import read_phase_text, stat_file

    path = write(tmp_path / "tasks.md", "- [x] a\n")
    info = stat_file(tmp_path, "tasks.md")
    path.write_text("- [x] a\n" * 20_000)  # 160 kB: more than one read chunk
    text = read_phase_text(path, info).text
    assert text is not None and text.count("- [x] a") == 20_000
    empty = write(tmp_path / "empty.md", "")
    assert read_phase_text(empty, stat_file(tmp_path, "empty.md")).text == ""
    huge_info = stat_file(tmp_path, "empty.md")
    write(empty, "x" * (2 * 1024 * 1024 + 10))
    assert "over the 2 MB limit" in (read_phase_text(empty, huge_info).problem or "")
